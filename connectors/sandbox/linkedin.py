"""LinkedIn Community Management simulator: an organization page, its posts and their comments.

Follows the shape the connector module documents (see its docstring for what is verified):
versioned `/rest/` paths that need `LinkedIn-Version` and `X-Restli-Protocol-Version: 2.0.0`,
URNs URL-encoded in paths, `start`/`count` paging with `paging.total`, first-level comments on
a post and replies under a comment URN, Rest.li error bodies, post `commentary` in the "little"
text format.

Assumed [U]: comments are listed newest first; the 429 answer carries a `Retry-After` header;
a URN left unencoded in a path is refused with 400.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, request

from connectors.sandbox.base import Simulator

ORG_ID = "10423856"
ORG_URN = f"urn:li:organization:{ORG_ID}"
MAX_COUNT = 100
# (commentary, age in days) of the page's posts, newest first, in LinkedIn's "little" text
# format as the Posts API returns it: hashtag templates, mentions, reserved characters escaped
POSTS = [
    (
        "Nous recrutons \\(CDI\\) ! Rejoignez l'atelier Maison Lumière à Lyon. "
        "{hashtag|\\#|recrutement} {hashtag|\\#|mode}",
        2,
    ),
    (
        "Our Winter collection is live: designed in Paris, made in Portugal. {hashtag|\\#|fashion}",
        6,
    ),
    ("Retour sur notre engagement : 70 % de coton bio dans la collection. {hashtag|\\#|RSE}", 13),
    (
        "Meet our new store team in Bordeaux 👋 with "
        f"@[Maison Lumière]({ORG_URN}) {{hashtag|\\#|retail}}",
        21,
    ),
]


def problem(status: int, code: str, message: str, service_code: int | None = None) -> Response:
    """LinkedIn's Rest.li error body."""
    body: dict[str, Any] = {"status": status, "code": code, "message": message}
    if service_code is not None:
        body["serviceErrorCode"] = service_code
    return Response(json.dumps(body), status, mimetype="application/json")


def person_urn(handle: str) -> str:
    return "urn:li:person:" + hashlib.sha1(handle.encode()).hexdigest()[:10]


class LinkedInSimulator(Simulator):
    type = "linkedin"
    pushes = False

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        now = int(time.time() * 1000)
        self.posts = [
            {
                "id": f"urn:li:share:{7_262_000_000_000_000_000 + 104_729 * (len(POSTS) - i)}",
                "commentary": text,
                "createdAt": now - days * 86_400_000,
            }
            for i, (text, days) in enumerate(POSTS)
        ]
        self.comments: dict[str, dict[str, Any]] = {}  # by $URN
        self._next_id = 0
        self._last_created = 0

    # -- credentials ------------------------------------------------------------------------

    def channel_config(self) -> dict[str, Any]:
        return {"access_token": self.token, "organization_id": ORG_ID, "api_base": self.base_url}

    def auth_error(self) -> Response:
        return problem(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)

    def rate_limited(self, reset_at: float) -> Response:
        response = problem(
            429,
            "TOO_MANY_REQUESTS",
            "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.",
            101,
        )
        response.headers["Retry-After"] = str(max(1, round(reset_at - time.time())))
        return response

    # -- traffic ----------------------------------------------------------------------------

    def add_inbound(self, count: int = 1) -> list[str]:
        ids = []
        with self.lock:
            for _ in range(count):
                rng = self.traffic.rng
                threads = [c for c in self.comments.values() if c["parent"] is None]
                if threads and rng.random() < 0.3:
                    parent = rng.choice(threads)
                    message = self.traffic.message(tone=rng.choice(["reply", "followup"]))
                    post, parent_urn = parent["post"], parent["urn"]
                else:
                    message = self.traffic.message()
                    post = rng.choices(self.posts, weights=[6, 4, 2, 1])[0]["id"]
                    parent_urn = None
                comment = self._store(
                    post, parent_urn, person_urn(message.author.handle), message.text
                )
                ids.append(comment["urn"])
        return ids

    def _store(self, post: str, parent: str | None, actor: str, text: str) -> dict[str, Any]:
        self._last_created = max(int(time.time() * 1000), self._last_created + 1)
        # like LinkedIn's ids: the millisecond in the high bits, so no two runs reuse one
        self._next_id = max(self._next_id, self._last_created << 22) + 1
        self._next_id += self.traffic.rng.randrange(9973)
        comment = {
            "urn": f"urn:li:comment:({post},{self._next_id})",
            "id": str(self._next_id),
            "post": post,
            "parent": parent,
            "actor": actor,
            "text": text,
            "created": self._last_created,
        }
        self.comments[comment["urn"]] = comment
        return comment

    # -- API --------------------------------------------------------------------------------

    def routes(self, app: Flask) -> None:
        app.before_request(self._versioned)
        app.add_url_rule("/rest/organizations/<org_id>", view_func=self._organization)
        app.add_url_rule("/rest/posts", view_func=self._posts)
        app.add_url_rule(
            "/rest/socialActions/<path:target>/comments",
            view_func=self._comments,
            methods=["GET", "POST"],
        )
        app.add_url_rule(
            "/rest/socialActions/<path:target>/comments/<comment_id>",
            view_func=self._delete,
            methods=["DELETE"],
        )

    def _versioned(self) -> Response | None:
        version = request.headers.get("LinkedIn-Version", "")
        if not version:
            return problem(400, "VERSION_MISSING", "A version must be present in LinkedIn-Version.")
        if not (len(version) == 6 and version.isdigit()):
            return problem(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active")
        if request.headers.get("X-Restli-Protocol-Version") != "2.0.0":
            return problem(400, "ILLEGAL_ARGUMENT", "X-Restli-Protocol-Version 2.0.0 is required")
        raw_path = urlsplit(request.environ.get("RAW_URI") or request.full_path).path
        if "urn:li:" in raw_path:
            return problem(400, "ILLEGAL_ARGUMENT", "URNs in a path must be URL-encoded")
        return None

    def _organization(self, org_id: str) -> Response:
        if org_id != ORG_ID:
            return problem(404, "NOT_FOUND", f"Organization {org_id} is inactive")
        return self._json(
            {
                "id": int(ORG_ID),
                "$URN": ORG_URN,
                "localizedName": "Maison Lumière",
                "vanityName": "maison-lumiere",
                "localizedWebsite": "https://www.maisonlumiere.example",
            }
        )

    def _posts(self) -> Response:
        args = request.args
        if args.get("q") != "author":
            return problem(400, "ILLEGAL_ARGUMENT", "Finder q=author is required")
        if args.get("author") != ORG_URN:
            return problem(403, "ACCESS_DENIED", "Not enough permissions to access: posts.FINDER")
        page = self._paging()
        if page is None:
            return problem(400, "ILLEGAL_ARGUMENT", "start and count must be numbers in range")
        start, count = page
        ordered = sorted(self.posts, key=lambda p: p["createdAt"], reverse=True)
        elements = [
            {
                "id": p["id"],
                "author": ORG_URN,
                "commentary": p["commentary"],
                "createdAt": p["createdAt"],
                "publishedAt": p["createdAt"],
                "lastModifiedAt": p["createdAt"],
                "lifecycleState": "PUBLISHED",
                "visibility": "PUBLIC",
            }
            for p in ordered[start : start + count]
        ]
        return self._json(self._page_of(elements, start, count, len(ordered)))

    def _comments(self, target: str) -> Response:
        with self.lock:
            if not self._exists(target):
                return problem(404, "NOT_FOUND", f"Entity {target} not found")
            if request.method == "POST":
                return self._create(target)
            page = self._paging()
            if page is None:
                return problem(400, "ILLEGAL_ARGUMENT", "start and count must be numbers in range")
            start, count = page
            under = [c for c in self.comments.values() if self._lists(target, c)]
            under.sort(key=lambda c: c["created"], reverse=True)
            elements = [self._element(c) for c in under[start : start + count]]
        return self._json(self._page_of(elements, start, count, len(under)))

    def _create(self, target: str) -> Response:
        body = request.get_json(silent=True) or {}
        text = (body.get("message") or {}).get("text")
        if body.get("actor") != ORG_URN:
            return problem(403, "ACCESS_DENIED", "Not enough permissions to comment as this actor")
        if not isinstance(text, str) or not text.strip():
            return problem(422, "UNPROCESSABLE_ENTITY", "message.text is required")
        if target.startswith("urn:li:comment:"):
            parent = self.comments[target]
            if body.get("parentComment") != target or body.get("object") != parent["post"]:
                return problem(400, "ILLEGAL_ARGUMENT", "object or parentComment does not match")
            comment = self._store(parent["post"], target, ORG_URN, text)
        else:
            if body.get("object") != target:
                return problem(400, "ILLEGAL_ARGUMENT", "object does not match the path")
            comment = self._store(target, None, ORG_URN, text)
        response = self._json(self._element(comment), 201)
        response.headers["x-restli-id"] = comment["id"]
        return response

    def _delete(self, target: str, comment_id: str) -> Response:
        if request.args.get("actor") != ORG_URN:
            return problem(403, "ACCESS_DENIED", "Not enough permissions to delete this comment")
        with self.lock:
            found = next(
                (
                    c
                    for c in self.comments.values()
                    if c["id"] == comment_id and self._lists(target, c)
                ),
                None,
            )
            if found is None:
                return problem(404, "NOT_FOUND", f"Comment {comment_id} not found under {target}")
            for urn in [u for u, c in self.comments.items() if c["parent"] == found["urn"]]:
                del self.comments[urn]
            del self.comments[found["urn"]]
        return Response(status=204)

    # -- shapes and helpers -----------------------------------------------------------------

    def _exists(self, target: str) -> bool:
        return target in self.comments or any(p["id"] == target for p in self.posts)

    @staticmethod
    def _lists(target: str, comment: dict[str, Any]) -> bool:
        """Whether `comment` is listed under `target`: first level of a post, or a reply."""
        if target.startswith("urn:li:comment:"):
            return comment["parent"] == target
        return comment["post"] == target and comment["parent"] is None

    def _element(self, comment: dict[str, Any]) -> dict[str, Any]:
        replies = sum(c["parent"] == comment["urn"] for c in self.comments.values())
        element = {
            "$URN": comment["urn"],
            "commentUrn": comment["urn"],
            "id": comment["id"],
            "actor": comment["actor"],
            "object": comment["post"],
            "message": {"text": comment["text"], "attributes": []},
            "created": {"actor": comment["actor"], "time": comment["created"]},
            "lastModified": {"actor": comment["actor"], "time": comment["created"]},
            "likesSummary": {"totalLikes": 0, "likedByCurrentUser": False},
            "commentsSummary": {"aggregatedTotalComments": replies, "selectedComments": []},
        }
        if comment["parent"]:
            element["parentComment"] = comment["parent"]
        return element

    def _paging(self) -> tuple[int, int] | None:
        try:
            start = int(request.args.get("start", 0))
            count = int(request.args.get("count", 10))
        except ValueError:
            return None
        if start < 0 or not 1 <= count <= MAX_COUNT:
            return None
        return start, min(count, self.page_size)

    @staticmethod
    def _page_of(elements: list[dict[str, Any]], start: int, count: int, total: int) -> dict:
        return {"paging": {"start": start, "count": count, "total": total, "links": []}} | {
            "elements": elements
        }

    @staticmethod
    def _json(body: Any, status: int = 200) -> Response:
        return Response(json.dumps(body), status, mimetype="application/json")
