"""TikTok API for Business simulator: the brand's videos and the comments people leave on them.

Follows the shape the connector module documents (see its docstring for what is verified):
`Access-Token` header, `{"code", "message", "request_id", "data"}` envelopes answered with
HTTP 200 even for errors, integer `cursor` + `has_more` paging, comment lists sorted by
`create_time` with replies (one level deep) in the same list when `include_replies=true`, video
lists that hold only the `fields` asked (a JSON list; `item_id` alone when none are asked, as in
python-tiktok's documented answer).

Assumed [U]: the 40100 rate-limit answer carries a standard `Retry-After` header.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from flask import Flask, Response, request

from connectors.sandbox.base import Simulator

PREFIX = "/open_api/v1.3/business"
BUSINESS_ID = "-000LmZ3xQy8bR4tVw2NcKp7sHd9EfGjAa1B"
USERNAME = "maisonlumiere"
DISPLAY_NAME = "Maison Lumière"
MAX_VIDEOS = 20
MAX_COMMENTS = 30
MAX_TEXT = 150
# (caption, age in days) of the account's videos, newest first
VIDEOS = [
    ("Essayage de la robe Capucine en 3 tailles 👗 #ootd #modefrancaise", 1),
    ("Behind the scenes: our winter shoot in Lyon ❄️ #fashion", 4),
    ("Le trench Odéon, 5 façons de le porter ✨ #styling", 9),
    ("Unboxing the Céleste bag 👜 #unboxing #maisonlumiere", 16),
    ("Visite de l'atelier : la fabrication du pull Alba 🧶", 30),
]


def envelope(data: Any = None, code: int = 0, message: str = "OK") -> Response:
    body = {
        "code": code,
        "message": message,
        "request_id": uuid.uuid4().hex[:32],
        "data": {} if data is None else data,
    }
    return Response(json.dumps(body), 200, mimetype="application/json")


class TikTokSimulator(Simulator):
    type = "tiktok"
    pushes = False

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        now = int(time.time())
        self.videos = [
            {
                "item_id": str(7_430_000_000_000_000_000 + 7919 * (len(VIDEOS) - i)),
                "caption": caption,
                "create_time": now - days * 86_400,
            }
            for i, (caption, days) in enumerate(VIDEOS)
        ]
        self.comments: dict[str, dict[str, Any]] = {}
        self._next_id = 0
        self._last_created = 0

    # -- credentials ------------------------------------------------------------------------

    def channel_config(self) -> dict[str, Any]:
        return {"access_token": self.token, "business_id": BUSINESS_ID, "api_base": self.base_url}

    def authorized(self) -> bool:
        return request.headers.get("Access-Token") == self.token

    def auth_error(self) -> Response:
        return envelope(code=40105, message="Access token is incorrect or has been revoked.")

    def rate_limited(self, reset_at: float) -> Response:
        response = envelope(code=40100, message="Too many requests. Please retry in some time.")
        response.headers["Retry-After"] = str(max(1, round(reset_at - time.time())))
        return response

    # -- traffic ----------------------------------------------------------------------------

    def add_inbound(self, count: int = 1) -> list[str]:
        ids = []
        with self.lock:
            for _ in range(count):
                rng = self.traffic.rng
                threads = [c for c in self.comments.values() if not c["parent_comment_id"]]
                if threads and rng.random() < 0.3:
                    parent = rng.choice(threads)
                    message = self.traffic.message(tone=rng.choice(["reply", "followup"]))
                    video_id = parent["video_id"]
                    parent_id = parent["comment_id"]
                else:
                    message = self.traffic.message()
                    video_id = rng.choices(self.videos, weights=[8, 5, 3, 2, 1])[0]["item_id"]
                    parent_id = None
                person = message.author
                comment = self._store(
                    video_id,
                    message.text,
                    user=(f"{person.id}{person.handle}", person.handle, person.name),
                    parent_id=parent_id,
                )
                ids.append(comment["comment_id"])
        return ids

    def _store(
        self, video_id: str, text: str, *, user: tuple[str, str, str], parent_id: str | None
    ) -> dict[str, Any]:
        self._last_created = max(int(time.time()), self._last_created)
        # like TikTok's ids: the second in the high bits, so no two runs reuse one
        self._next_id = max(self._next_id, self._last_created << 32) + 1
        self._next_id += self.traffic.rng.randrange(997)
        unique_identifier, username, display_name = user
        comment = {
            "comment_id": str(self._next_id),
            "video_id": video_id,
            "unique_identifier": str(uuid.uuid5(uuid.NAMESPACE_URL, unique_identifier)),
            "username": username,
            "display_name": display_name,
            "text": text,
            "create_time": self._last_created,
            "likes": 0,
            "replies": 0,
            "owner": username == USERNAME,
            "liked": False,
            "pinned": False,
            "status": "PUBLIC",
            "parent_comment_id": parent_id,
        }
        self.comments[comment["comment_id"]] = comment
        if parent_id:
            self.comments[parent_id]["replies"] += 1
        return comment

    # -- API --------------------------------------------------------------------------------

    def routes(self, app: Flask) -> None:
        app.add_url_rule(f"{PREFIX}/get/", view_func=self._account)
        app.add_url_rule(f"{PREFIX}/video/list/", view_func=self._video_list)
        app.add_url_rule(f"{PREFIX}/comment/list/", view_func=self._comment_list)
        for path, view in (
            ("comment/reply/create/", self._reply),
            ("comment/hide/", self._hide),
            ("comment/like/", self._like),
            ("comment/delete/", self._delete),
        ):
            app.add_url_rule(f"{PREFIX}/{path}", view_func=view, methods=["POST"])

    def _account(self) -> Response:
        if request.args.get("business_id") != BUSINESS_ID:
            return self._no_permission()
        profile = {
            "username": USERNAME,
            "display_name": DISPLAY_NAME,
            "profile_image": "https://p16-sign.tiktokcdn.com/maisonlumiere.jpeg",
            "followers_count": 48_210,
            "is_business_account": True,
        }
        wanted = json.loads(request.args.get("fields") or '["display_name","profile_image"]')
        return envelope({k: v for k, v in profile.items() if k in wanted})

    def _video_list(self) -> Response:
        if request.args.get("business_id") != BUSINESS_ID:
            return self._no_permission()
        page = self._page(MAX_VIDEOS)
        if page is None:
            return self._bad_parameter("max_count or cursor")
        try:
            wanted = json.loads(request.args.get("fields") or '["item_id"]')
        except ValueError:
            return self._bad_parameter("fields")
        if not isinstance(wanted, list):
            return self._bad_parameter("fields")
        start, size = page
        chunk = self.videos[start : start + size]
        end = start + len(chunk)
        videos = [{k: v for k, v in self.render_video(v).items() if k in wanted} for v in chunk]
        return envelope({"videos": videos, "cursor": end, "has_more": end < len(self.videos)})

    def render_video(self, video: dict[str, Any]) -> dict[str, Any]:
        """A video with every field the simulator knows; a listing keeps the ones asked."""
        return {
            "item_id": video["item_id"],
            "create_time": video["create_time"],
            "caption": video["caption"],
            "share_url": self.share_url(video),
            "comments": sum(c["video_id"] == video["item_id"] for c in self.comments.values()),
        }

    @staticmethod
    def share_url(video: dict[str, Any]) -> str:
        return f"https://www.tiktok.com/@{USERNAME}/video/{video['item_id']}"

    def _comment_list(self) -> Response:
        args = request.args
        if args.get("business_id") != BUSINESS_ID:
            return self._no_permission()
        if args.get("video_id") not in {v["item_id"] for v in self.videos}:
            return self._bad_parameter("video_id")
        page = self._page(MAX_COMMENTS)
        if page is None or args.get("sort_field", "create_time") != "create_time":
            return self._bad_parameter("max_count, cursor or sort_field")
        start, size = page
        with_replies = args.get("include_replies", "false").lower() == "true"
        everyone = args.get("status", "PUBLIC") == "ALL"
        with self.lock:
            chosen = [
                dict(c)
                for c in self.comments.values()
                if c["video_id"] == args["video_id"]
                and (with_replies or not c["parent_comment_id"])
                and (everyone or c["status"] == "PUBLIC")
            ]
        newest_first = args.get("sort_order", "desc") == "desc"
        chosen.sort(key=lambda c: (c["create_time"], int(c["comment_id"])), reverse=newest_first)
        chunk = chosen[start : start + size]
        end = start + len(chunk)
        return envelope({"comments": chunk, "cursor": end, "has_more": end < len(chosen)})

    def _reply(self) -> Response:
        body = request.get_json(silent=True) or {}
        if body.get("business_id") != BUSINESS_ID:
            return self._no_permission()
        text = body.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            return self._bad_parameter("text")
        with self.lock:
            target = self.comments.get(str(body.get("comment_id")))
            if target is None or target["video_id"] != str(body.get("video_id")):
                return self._bad_parameter("comment_id")
            thread = target["parent_comment_id"] or target["comment_id"]
            comment = self._store(
                target["video_id"],
                text,
                user=(BUSINESS_ID, USERNAME, DISPLAY_NAME),
                parent_id=thread,
            )
        return envelope(dict(comment))

    def _hide(self) -> Response:
        body = request.get_json(silent=True) or {}
        if body.get("business_id") != BUSINESS_ID:
            return self._no_permission()
        if body.get("action") not in ("HIDE", "UNHIDE"):
            return self._bad_parameter("action")
        with self.lock:
            comment = self.comments.get(str(body.get("comment_id")))
            if comment is None or comment["video_id"] != str(body.get("video_id")):
                return self._bad_parameter("comment_id")
            comment["status"] = "HIDDEN" if body["action"] == "HIDE" else "PUBLIC"
        return envelope()

    def _like(self) -> Response:
        body = request.get_json(silent=True) or {}
        if body.get("business_id") != BUSINESS_ID:
            return self._no_permission()
        if body.get("action") not in ("LIKE", "UNLIKE"):
            return self._bad_parameter("action")
        with self.lock:
            comment = self.comments.get(str(body.get("comment_id")))
            if comment is None:
                return self._bad_parameter("comment_id")
            comment["liked"] = body["action"] == "LIKE"
            comment["likes"] += 1 if comment["liked"] else -1
        return envelope()

    def _delete(self) -> Response:
        body = request.get_json(silent=True) or {}
        if body.get("business_id") != BUSINESS_ID:
            return self._no_permission()
        with self.lock:
            comment = self.comments.get(str(body.get("comment_id")))
            if comment is None or not comment["owner"]:
                return self._bad_parameter("comment_id")  # only our own comments
            del self.comments[comment["comment_id"]]
        return envelope()

    # -- helpers ----------------------------------------------------------------------------

    def _page(self, maximum: int) -> tuple[int, int] | None:
        try:
            size = int(request.args.get("max_count", 10))
            start = int(request.args.get("cursor", 0))
        except ValueError:
            return None
        if not 1 <= size <= maximum or start < 0:
            return None
        return start, min(size, self.page_size)

    def _bad_parameter(self, name: str) -> Response:
        return envelope(code=40002, message=f"Invalid parameter: {name}.")

    def _no_permission(self) -> Response:
        return envelope(code=40001, message="No permission to operate this business account.")
