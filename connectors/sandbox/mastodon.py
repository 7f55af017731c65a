"""A Mastodon instance as the brand's account sees it: mentions, direct messages, a hashtag.

Follows the REST contract of platform-apis.md §6: bearer auth, `GET /api/v1/notifications`
(`types[]`, `exclude_types[]`, `max_id`/`since_id`/`min_id`, `limit` capped by `page_size`,
newest first, `Link` header with `rel="next"` (`max_id`) and `rel="prev"` (`min_id`) keeping
`limit` and the type filters), `GET /api/v1/timelines/tag/:hashtag` (public statuses, no `Link`
when empty), `GET /api/v1/statuses/:id` and `/context`, `POST /api/v1/statuses` (JSON or form,
`Idempotency-Key` honoured: the same key returns the same status), `POST …/favourite` and
`…/unfavourite`, `DELETE /api/v1/statuses/:id` (own statuses only), and
`GET /api/v1/accounts/verify_credentials`. Errors are Mastodon's: `{"error": "…"}` with 401 for a
bad token, 404 `Record not found`, 422 `Validation failed: …`, 429 `Too many requests` with
`X-RateLimit-Limit/Remaining/Reset` (Reset is an ISO 8601 time, also sent on every answer).

Traffic: the brand posts now and then; people reply to those posts, mention the brand, follow
up in their conversations (sometimes under the brand's reply), write direct messages, and post
with the watched hashtag; a few bots spam. Local and remote (`user@server`) accounts both write.
"""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, request

from connectors.sandbox.base import Simulator
from connectors.sandbox.traffic import Person

DOMAIN = "mastodon.example"  # the brand's instance, as statuses link to it
BRAND = "maisonlumiere"
BRAND_ID = "109348800000000001"
TAG = "MaisonLumiere"
REMOTE = ["piaille.example", "mamot.example", "framapiaf.example", "toot.example"]
RATE_LIMIT = 300
MAX_CHARS = 500
BRAND_POSTS = [
    "Nouvelle collection printemps 🌸 La robe Capucine arrive en boutique samedi !",
    "Soldes d'hiver : jusqu'à -40 % sur les manteaux, en ligne et dans nos boutiques.",
    "Our Alba jumper is back in every size. Thank you for your patience! ✨",
]


def iso(moment: float) -> str:
    return (
        datetime.fromtimestamp(moment, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def not_found() -> Response:
    return _error(404, "Record not found")


def _error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def _id_key(value: str) -> tuple[int, str]:
    return len(value), value


class MastodonSimulator(Simulator):
    type = "mastodon"
    pushes = False

    def __init__(self, **kwargs: Any):
        self._status_seq = 0
        # ids grow with time, like Mastodon's: a restarted simulator never reuses one
        self._notification_seq = int(time.time() * 1000)
        self.accounts: dict[str, dict] = {}
        self.statuses: dict[str, dict] = {}
        self.notifications: list[dict] = []
        self.idempotency: dict[str, str] = {}
        self.roots: dict[str, str] = {}  # status id -> root status id
        # one person's branch of a conversation: its first status id -> {"person", "last", ...}
        self.branches: dict[str, dict] = {}
        self.branch_of: dict[str, str] = {}
        self.brand_posts: list[str] = []
        self.tag = TAG
        self.failures: list[tuple[int, str]] = []  # (status, error) answered by the next calls
        super().__init__(**kwargs)
        self.brand = self._account_dict(BRAND_ID, BRAND, DOMAIN, "Maison Lumière", bot=False)
        for days, text in zip((9, 4, 1), BRAND_POSTS, strict=True):
            status = self._new_status(
                self.brand, f"<p>{html.escape(text)}</p>", when=time.time() - days * 86400
            )
            self.brand_posts.append(status["id"])

    # -- ids and shapes -----------------------------------------------------------------------

    def _next_status_id(self, when: float) -> str:
        self._status_seq = max(self._status_seq + 1, int(when * 1000) << 16)
        return str(self._status_seq)

    def _account_dict(self, id_: str, username: str, domain: str, name: str, bot: bool) -> dict:
        local = domain == DOMAIN
        account = {
            "id": id_,
            "username": username,
            "acct": username if local else f"{username}@{domain}",
            "display_name": name,
            "locked": False,
            "bot": bot,
            "url": f"https://{domain}/@{username}",
            "avatar": f"https://{DOMAIN}/avatars/original/missing.png",
            "note": "",
            "created_at": "2022-11-07T00:00:00.000Z",
        }
        self.accounts[id_] = account
        return account

    def account_of(self, person: Person) -> dict:
        id_ = f"1093488{int(person.id):011d}"
        if id_ not in self.accounts:
            username = re.sub(r"[^A-Za-z0-9_]", "_", person.handle)
            domain = DOMAIN if int(person.id) % 3 == 0 else REMOTE[int(person.id) % len(REMOTE)]
            self._account_dict(id_, username, domain, person.name, person.bot)
        return self.accounts[id_]

    @staticmethod
    def mention_html(account: dict) -> str:
        return (
            f'<span class="h-card" translate="no"><a href="{account["url"]}" '
            f'class="u-url mention">@<span>{account["username"]}</span></a></span>'
        )

    @staticmethod
    def text_html(text: str) -> str:
        """Mastodon's rendering of plain text: escaped, links wrapped, line breaks as <br />."""
        parts = re.split(r"(https?://\S+)", text)
        out = []
        for i, part in enumerate(parts):
            if i % 2:
                scheme, _, rest = part.partition("://")
                out.append(
                    f'<a href="{html.escape(part)}" target="_blank" rel="nofollow noopener" '
                    f'translate="no"><span class="invisible">{scheme}://</span>'
                    f'<span class="">{html.escape(rest)}</span>'
                    f'<span class="invisible"></span></a>'
                )
            else:
                out.append(html.escape(part, quote=False))
        return "".join(out).replace("\n", "<br />")

    def _new_status(
        self,
        account: dict,
        content: str,
        *,
        visibility: str = "public",
        reply_to: dict | None = None,
        mentions: list[dict] = (),
        tags: list[str] = (),
        when: float | None = None,
        language: str = "fr",
    ) -> dict:
        when = time.time() if when is None else when
        id_ = self._next_status_id(when)
        status = {
            "id": id_,
            "uri": f"https://{DOMAIN}/users/{account['username']}/statuses/{id_}",
            "url": f"{account['url']}/{id_}",
            "created_at": iso(when),
            "account": account,
            "content": content,
            "visibility": visibility,
            "sensitive": False,
            "spoiler_text": "",
            "media_attachments": [],
            "mentions": [
                {"id": m["id"], "username": m["username"], "acct": m["acct"], "url": m["url"]}
                for m in mentions
            ],
            "tags": [
                {"name": t.lower(), "url": f"https://{DOMAIN}/tags/{t.lower()}"} for t in tags
            ],
            "emojis": [],
            "in_reply_to_id": reply_to["id"] if reply_to else None,
            "in_reply_to_account_id": reply_to["account"]["id"] if reply_to else None,
            "reblog": None,
            "language": language,
            "edited_at": None,
            "favourited": False,
            "reblogs_count": 0,
            "favourites_count": 0,
            "replies_count": 0,
        }
        self.statuses[id_] = status
        root = self.roots.get(reply_to["id"], reply_to["id"]) if reply_to else id_
        self.roots[id_] = root
        if reply_to:
            reply_to["replies_count"] += 1
            branch = self.branch_of.get(reply_to["id"])
            if branch is not None:
                self.branch_of[id_] = branch
                self.branches[branch]["last"] = id_
        return status

    def _notify(self, type_: str, account: dict, status: dict | None) -> None:
        self._notification_seq = max(self._notification_seq + 1, int(time.time() * 1000))
        self.notifications.append(
            {
                "id": str(self._notification_seq),
                "type": type_,
                "created_at": status["created_at"] if status else iso(time.time()),
                "group_key": f"ungrouped-{self._notification_seq}",
                "account": account,
                "status_id": status["id"] if status else None,
            }
        )

    # -- traffic ------------------------------------------------------------------------------

    def add_inbound(self, count: int = 1) -> list[str]:
        ids = []
        with self.lock:
            for _ in range(count):
                ids.append(self._one_inbound())
        return ids

    def _one_inbound(self) -> str:
        rng = self.traffic.rng
        roll = rng.random()
        open_threads = list(self.branches)
        if roll < 0.15:  # a post with the brand's hashtag, no mention
            message = self.traffic.message()
            author = self.account_of(message.author)
            hashtag = (
                f'<a href="https://{DOMAIN}/tags/{self.tag.lower()}" class="mention hashtag" '
                f'rel="tag">#<span>{self.tag}</span></a>'
            )
            content = f"<p>{self.text_html(message.text)} {hashtag}</p>"
            status = self._new_status(
                author, content, tags=[self.tag], language=message.author.lang
            )
            return status["id"]
        if roll < 0.45 and open_threads:  # a follow-up in an open conversation
            thread = self.branches[rng.choice(open_threads)]
            person = thread["person"]
            parent = self.statuses[thread["last"]]
            answered = parent["account"]["id"] == BRAND_ID
            tone = "followup" if answered else rng.choice(["question", "complaint"])
            message = self.traffic.message(tone=tone, author=person)
            return self.mention(person, message.text, thread["visibility"], parent)["id"]
        if roll < 0.65:  # a direct message
            message = self.traffic.message(tone=rng.choice(["question", "complaint"]))
            status = self.mention(message.author, message.text, "direct", None)
            return status["id"]
        if roll < 0.80:  # a reply under one of the brand's posts
            message = self.traffic.message()
            parent = self.statuses[rng.choice(self.brand_posts)]
            return self.mention(message.author, message.text, "public", parent)["id"]
        message = self.traffic.message()  # a public mention, sometimes with the hashtag
        tagged = rng.random() < 0.3
        visibility = "unlisted" if rng.random() < 0.1 else "public"
        return self.mention(message.author, message.text, visibility, None, tagged)["id"]

    def mention(
        self, person: Person, text: str, visibility: str, parent: dict | None, tagged: bool = False
    ) -> dict:
        author = self.account_of(person)
        mentioned = [self.brand]
        if parent is not None and parent["account"]["id"] not in (self.brand["id"], author["id"]):
            mentioned.append(parent["account"])
        prefix = " ".join(self.mention_html(a) for a in mentioned)
        suffix = ""
        if tagged:
            suffix = (
                f' <a href="https://{DOMAIN}/tags/{self.tag.lower()}" class="mention hashtag" '
                f'rel="tag">#<span>{self.tag}</span></a>'
            )
        content = f"<p>{prefix} {self.text_html(text)}{suffix}</p>"
        status = self._new_status(
            author,
            content,
            visibility=visibility,
            reply_to=parent,
            mentions=mentioned,
            tags=[self.tag] if tagged else [],
            language=person.lang,
        )
        if not person.bot and status["id"] not in self.branch_of:
            self.branch_of[status["id"]] = status["id"]
            self.branches[status["id"]] = {
                "person": person,
                "last": status["id"],
                "visibility": visibility,
            }
        self._notify("mention", author, status)
        if self.traffic.rng.random() < 0.15:  # noise the connector must filter out
            self._notify(self.traffic.rng.choice(["favourite", "follow", "reblog"]), author, None)
        return status

    # -- the simulator contract ---------------------------------------------------------------

    def channel_config(self) -> dict[str, Any]:
        return {"api_base": self.base_url, "access_token": self.token, "watch_tags": self.tag}

    def auth_error(self) -> Response:
        response = _error(401, "The access token is invalid")
        response.headers["WWW-Authenticate"] = (
            'Bearer realm="Doorkeeper", error="invalid_token", '
            'error_description="The access token is invalid"'
        )
        return response

    def rate_limited(self, reset_at: float) -> Response:
        response = _error(429, "Too many requests")
        response.headers["X-RateLimit-Limit"] = str(RATE_LIMIT)
        response.headers["X-RateLimit-Remaining"] = "0"
        response.headers["X-RateLimit-Reset"] = iso(reset_at)
        return response

    # -- routes -------------------------------------------------------------------------------

    def fail_next(self, status: int, error: str = "Something went wrong", times: int = 1) -> None:
        """Answer the next `times` API calls with a Mastodon error body and this status."""
        with self.lock:
            self.failures.extend([(status, error)] * times)

    def _failure(self) -> Response | None:
        with self.lock:
            if self.failures:
                return _error(*self.failures.pop(0))
        return None

    def routes(self, app: Flask) -> None:
        app.before_request(self._failure)
        app.after_request(self._rate_headers)
        app.add_url_rule("/api/v1/accounts/verify_credentials", view_func=self._verify_credentials)
        app.add_url_rule("/api/v1/notifications", view_func=self._notifications)
        app.add_url_rule("/api/v1/timelines/tag/<hashtag>", view_func=self._tag_timeline)
        app.add_url_rule("/api/v1/statuses/<id_>", view_func=self._status)
        app.add_url_rule(
            "/api/v1/statuses/<id_>", view_func=self._delete, methods=["DELETE"], endpoint="del"
        )
        app.add_url_rule("/api/v1/statuses/<id_>/context", view_func=self._context)
        app.add_url_rule("/api/v1/statuses", view_func=self._post_status, methods=["POST"])
        app.add_url_rule(
            "/api/v1/statuses/<id_>/<action>", view_func=self._favourite, methods=["POST"]
        )

    def _rate_headers(self, response: Response) -> Response:
        if "X-RateLimit-Limit" not in response.headers:
            window = 300
            reset = (int(time.time()) // window + 1) * window
            response.headers["X-RateLimit-Limit"] = str(RATE_LIMIT)
            response.headers["X-RateLimit-Remaining"] = str(RATE_LIMIT - len(self.calls) % 300)
            response.headers["X-RateLimit-Reset"] = iso(reset)
        return response

    def _page(self, records: list[dict], default: int, ceiling: int) -> list[dict]:
        """Mastodon's id pagination: max_id, since_id (newest above), min_id (just above)."""
        args = request.args
        try:
            limit = int(args.get("limit", default))
        except ValueError:
            limit = default
        limit = max(1, min(limit, ceiling, self.page_size))
        rows = sorted(records, key=lambda r: _id_key(r["id"]), reverse=True)
        if args.get("max_id"):
            rows = [r for r in rows if _id_key(r["id"]) < _id_key(args["max_id"])]
        if args.get("since_id"):
            rows = [r for r in rows if _id_key(r["id"]) > _id_key(args["since_id"])]
        if args.get("min_id"):
            rows = [r for r in rows if _id_key(r["id"]) > _id_key(args["min_id"])]
            return rows[-limit:]  # the oldest just above min_id, still newest first
        return rows[:limit]

    @staticmethod
    def _link(rows: list[dict], kept: dict[str, Any]) -> str | None:
        if not rows:
            return None
        base = request.base_url
        older = urlencode({**kept, "max_id": rows[-1]["id"]}, doseq=True)
        newer = urlencode({**kept, "min_id": rows[0]["id"]}, doseq=True)
        return f'<{base}?{older}>; rel="next", <{base}?{newer}>; rel="prev"'

    def _verify_credentials(self) -> Response:
        with self.lock:
            return jsonify(
                self.brand
                | {
                    "source": {"privacy": "public", "sensitive": False, "language": "fr"},
                    "statuses_count": sum(
                        1 for s in self.statuses.values() if s["account"]["id"] == BRAND_ID
                    ),
                }
            )

    def _notifications(self) -> Response:
        types = request.args.getlist("types[]") or request.args.getlist("types")
        excluded = request.args.getlist("exclude_types[]")
        with self.lock:
            rows = [
                n
                for n in self.notifications
                if (not types or n["type"] in types)
                and n["type"] not in excluded
                and (n["status_id"] is None or n["status_id"] in self.statuses)
            ]
            page = self._page(rows, default=40, ceiling=80)
            body = []
            for n in page:
                shown = {k: v for k, v in n.items() if k != "status_id"}
                if n["status_id"]:
                    shown["status"] = self.statuses[n["status_id"]]
                body.append(shown)
        kept: dict[str, Any] = {}
        if request.args.get("limit"):
            kept["limit"] = request.args["limit"]
        if types:
            kept["types[]"] = types
        if excluded:
            kept["exclude_types[]"] = excluded
        response = jsonify(body)
        link = self._link(page, kept)
        if link:
            response.headers["Link"] = link
        return response

    def _tag_timeline(self, hashtag: str) -> Response:
        wanted = hashtag.lower()
        with self.lock:
            rows = [
                s
                for s in self.statuses.values()
                if s["visibility"] == "public" and any(t["name"] == wanted for t in s["tags"])
            ]
            page = self._page(rows, default=20, ceiling=40)
        response = jsonify(page)
        kept = {"limit": request.args["limit"]} if request.args.get("limit") else {}
        link = self._link(page, kept)
        if link:
            response.headers["Link"] = link
        return response

    def _visible(self, id_: str) -> dict | None:
        status = self.statuses.get(id_)
        if status is None:
            return None
        hidden = status["visibility"] == "direct" and status["account"]["id"] != BRAND_ID
        if hidden and BRAND_ID not in {m["id"] for m in status["mentions"]}:
            return None
        return status

    def _status(self, id_: str) -> Response:
        with self.lock:
            status = self._visible(id_)
            return jsonify(status) if status else not_found()

    def _context(self, id_: str) -> Response:
        with self.lock:
            status = self._visible(id_)
            if status is None:
                return not_found()
            ancestors = []
            parent = status["in_reply_to_id"]
            while parent and len(ancestors) < 40:
                above = self._visible(parent)
                if above is None:
                    break
                ancestors.append(above)
                parent = above["in_reply_to_id"]
            descendants = sorted(
                (s for s in self.statuses.values() if self._descends(s, id_)),
                key=lambda s: _id_key(s["id"]),
            )
            return jsonify({"ancestors": list(reversed(ancestors)), "descendants": descendants})

    def _descends(self, status: dict, id_: str) -> bool:
        parent = status["in_reply_to_id"]
        while parent:
            if parent == id_:
                return True
            parent = self.statuses.get(parent, {}).get("in_reply_to_id")
        return False

    def _post_status(self) -> Response:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            data = request.form.to_dict()
        text = str(data.get("status") or "").strip()
        key = request.headers.get("Idempotency-Key")
        with self.lock:
            if key and key in self.idempotency:
                return jsonify(self.statuses[self.idempotency[key]])
            if not text:
                return _error(422, "Validation failed: Text can't be blank")
            if len(text) > MAX_CHARS:
                return _error(
                    422, f"Validation failed: Text character limit of {MAX_CHARS} exceeded"
                )
            visibility = data.get("visibility") or "public"
            if visibility not in ("public", "unlisted", "private", "direct"):
                return _error(422, "Validation failed: Visibility is not included in the list")
            parent = None
            if data.get("in_reply_to_id"):
                parent = self._visible(str(data["in_reply_to_id"]))
                if parent is None:
                    return not_found()
            mentioned = []
            for acct in re.findall(r"(?<![\w@])@([\w.]+(?:@[\w.-]+\w)?)", text):
                found = next((a for a in self.accounts.values() if a["acct"] == acct), None)
                if found and found not in mentioned:
                    mentioned.append(found)
            status = self._new_status(
                self.brand,
                f"<p>{self._linked_mentions(text, mentioned)}</p>",
                visibility=visibility,
                reply_to=parent,
                mentions=mentioned,
                tags=re.findall(r"#(\w+)", text),
            )
            if key:
                self.idempotency[key] = status["id"]
            return jsonify(status)

    def _linked_mentions(self, text: str, mentioned: list[dict]) -> str:
        rendered = self.text_html(text)
        for account in mentioned:
            rendered = rendered.replace(f"@{account['acct']}", self.mention_html(account), 1)
        return rendered

    def _favourite(self, id_: str, action: str) -> Response:
        if action not in ("favourite", "unfavourite"):
            return not_found()
        with self.lock:
            status = self._visible(id_)
            if status is None:
                return not_found()
            wanted = action == "favourite"
            if status["favourited"] != wanted:
                status["favourited"] = wanted
                status["favourites_count"] += 1 if wanted else -1
            return jsonify(status)

    def _delete(self, id_: str) -> Response:
        with self.lock:
            status = self.statuses.get(id_)
            if status is None or status["account"]["id"] != BRAND_ID:
                return not_found()
            del self.statuses[id_]
            for branch in self.branches.values():
                if branch["last"] == id_:
                    branch["last"] = status["in_reply_to_id"]
            return jsonify(
                status | {"text": html.unescape(re.sub(r"<[^>]+>", "", status["content"]))}
            )

    # -- for tests ----------------------------------------------------------------------------

    def status(self, id_: str) -> dict:
        with self.lock:
            return self.statuses[id_]
