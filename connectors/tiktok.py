"""TikTok (API for Business): comments on the business account's own videos.

The contract is not in the shared reference; what we read, and how sure we are
([V] official doc or SDK, [P] seen in third-party SDKs / posts only, [U] assumed):
- [P] base `https://business-api.tiktok.com/open_api/v1.3/`, header `Access-Token: <token>`
  (no "Bearer"); every answer is `{"code", "message", "request_id", "data"}` and `code != 0`
  is an error, usually with HTTP 200 (sns-sdks/python-tiktok `business_account_api.py`).
- [P] `GET business/get/?business_id&fields=[...]` → `data.username`, `data.display_name`.
- [P] `GET business/video/list/?business_id&fields&cursor&max_count` (max 20) →
  `data.videos[]` with the `fields` asked (a JSON list: `item_id`, `create_time`, `caption`,
  `share_url`, … per python-tiktok's `BusinessVideo`), `data.cursor`, `data.has_more`; newest
  first [U].
- [P] `GET business/comment/list/?business_id&video_id&include_replies&status&sort_field=
  create_time&sort_order=desc&cursor&max_count` (max 30) → `data.comments[]` with
  `comment_id`, `video_id`, `unique_identifier`, `username`, `display_name` [U], `text`,
  `create_time` (Unix s), `parent_comment_id`, `owner`, `status`; `data.cursor`, `has_more`.
  [U] with `include_replies=true` replies come in the same list, sorted with the rest; a
  nested `reply_list` is flattened too, in case that is the shape.
- [P] `POST business/comment/reply/create/` `{business_id, video_id, comment_id, text}` (text
  150 characters at most) → `data.comment_id`.
- [P] `POST business/comment/hide/` `{business_id, video_id, comment_id, action: HIDE|UNHIDE}`;
  `POST business/comment/like/` `{business_id, comment_id, action: LIKE}`.
  `business/comment/delete/` only deletes the account's own comments: delete is unsupported.
- [P] codes: 40100 too many requests (→ RateLimited), 40105 access token incorrect or revoked
  and 40104 access token empty (→ AuthExpired; 40102 "expired" is [U]), 40001 no permission
  (→ PermissionDenied), 40002 bad parameter / 40007 unknown object (→ NotAllowed),
  5xxxx internal errors (→ retried, then Transient).
- [U] no reset time is documented: a `Retry-After` header is honoured when present,
  otherwise we wait `FALLBACK_WAIT`.

Pull: a sync lists the `max_videos` newest videos, then pages each video's comments newest
first, stopping at the watermark (create_time, with an overlap and the ids already reported).
Each comment carries the video it answers: `post_text` = the video's `caption`, `post_url` =
its `share_url`, both asked in the video listing and kept in the cursor for the sync.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import requests
from marshmallow import RAISE, Schema, fields, validate
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from connectors import register
from connectors.base import (
    AuthExpired,
    Author,
    Batch,
    ConnectorError,
    NormalizedItem,
    NotAllowed,
    PermissionDenied,
    RateLimited,
    Target,
    Transient,
)
from connectors.http import HttpConnector, api_base_field, retry_after_seconds
from connectors.text import post_excerpt, web_link
from connectors.watermark import close_sync

API_BASE = "https://business-api.tiktok.com"
PREFIX = "open_api/v1.3/business/"
VIDEO_PAGE = 20
COMMENT_PAGE = 30
VIDEO_FIELDS = ["item_id", "create_time", "caption", "share_url"]
MAX_REPLY_CHARS = 150
OVERLAP = 600  # seconds of create_time re-read each sync, so a slow walk leaves no gap
FALLBACK_WAIT = 60.0
RATE_CODES = {40100}
AUTH_CODES = {40102, 40104, 40105}
PERMISSION_CODES = {40001}


class _Busy(Transient):
    """TikTok answered with an internal-error code: worth another try."""


class TikTokConfig(Schema):
    class Meta:
        unknown = RAISE

    access_token = fields.String(
        required=True, validate=validate.Length(min=10, max=512), metadata={"secret": True}
    )
    business_id = fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"description": "the TikTok account's business_id (its open_id)"},
    )
    max_videos = fields.Integer(
        load_default=20,
        validate=validate.Range(1, 200),
        metadata={"description": "how many of the newest videos are watched for comments"},
    )
    api_base = api_base_field(API_BASE)


@register
class TikTokConnector(HttpConnector):
    type = "tiktok"
    label = "TikTok"
    capabilities = frozenset({"reply", "hide", "unhide", "like"})
    config_schema = TikTokConfig
    default_api_base = API_BASE
    polls = True

    def auth_headers(self) -> dict[str, str]:
        return {"Access-Token": self.config["access_token"]}

    def raise_error(self, response: requests.Response) -> None:
        """HTTP-level failures; a JSON body with a TikTok code is read like a 200 one."""
        try:
            body = response.json()
        except ValueError:
            body = None
        code = body.get("code") if isinstance(body, dict) else None
        if code in RATE_CODES | AUTH_CODES | PERMISSION_CODES:
            self.raise_for_code(body, response)
        super().raise_error(response)

    def raise_for_code(self, body: dict[str, Any], response: requests.Response) -> None:
        """Turn a non-zero `code` into our errors, with TikTok's message for people to read."""
        code = body.get("code")
        if code == 0:
            return
        message = str(body.get("message") or "no message")
        said = f"TikTok: {message} (code {code})"
        if code in RATE_CODES:
            wait = retry_after_seconds(response, FALLBACK_WAIT)
            raise RateLimited(wait, f"{said}; retrying in {wait:.0f} s")
        if code in AUTH_CODES:
            raise AuthExpired(f"{said}: reconnect the TikTok account")
        if code in PERMISSION_CODES:
            raise PermissionDenied(f"{said}: the app lacks a permission for this account")
        if isinstance(code, int) and code >= 50000:
            raise _Busy(said)
        if isinstance(code, int) and 40000 <= code < 50000:
            raise NotAllowed(said)
        raise ConnectorError(said)

    def api(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Call `open_api/v1.3/business/<path>` and return `data`; internal errors are retried."""

        def once() -> dict[str, Any]:
            response = self.call(method, PREFIX + path, **kwargs)
            body = self.json_of(response)
            if not isinstance(body, dict) or "code" not in body:
                raise Transient("TikTok answered without a code")
            self.raise_for_code(body, response)
            return body.get("data") or {}

        retrying = Retrying(
            retry=retry_if_exception_type(_Busy),
            stop=stop_after_attempt(self.retry_attempts),
            wait=wait_random_exponential(multiplier=0.5, max=self.retry_wait_max),
            reraise=True,
        )
        return retrying(once)

    # -- calls ------------------------------------------------------------------------------

    def check(self) -> str:
        """Read the business account's profile and name it."""
        data = self.api(
            "GET",
            "get/",
            params={
                "business_id": self.config["business_id"],
                "fields": json.dumps(["username", "display_name"]),
            },
        )
        username = data.get("username") or self.config["business_id"]
        name = f" ({data['display_name']})" if data.get("display_name") else ""
        return f"Connected to TikTok @{username}{name}"

    def pull(self, cursor: Any) -> Batch:
        """One step of a sync: a page of videos, or a page of one video's comments."""
        state = _load_state(cursor)
        sync = state["sync"] or {
            "started": time.time(),
            "videos": [],
            "video_cursor": None,
            "listing": True,
            "index": 0,
            "comment_cursor": None,
            "found": {},
            "posts": {},
        }
        if sync["listing"]:
            self._list_videos(sync)
            items: list[NormalizedItem] = []
        else:
            items = self._list_comments(state, sync)
        if sync["listing"] or sync["index"] < len(sync["videos"]):
            return Batch(items, {**state, "sync": sync}, more=True)
        return Batch(items, _finish(state, sync), more=False)

    def _list_videos(self, sync: dict[str, Any]) -> None:
        params: dict[str, Any] = {
            "business_id": self.config["business_id"],
            "fields": json.dumps(VIDEO_FIELDS),
            "max_count": VIDEO_PAGE,
        }
        if sync["video_cursor"] is not None:
            params["cursor"] = sync["video_cursor"]
        data = self.api("GET", "video/list/", params=params)
        limit = self.config.get("max_videos", 20)
        listed = data.get("videos") or []
        videos = [str(v["item_id"]) for v in listed]
        sync["videos"] += videos[: limit - len(sync["videos"])]
        for video in listed:  # what a comment shows of its video: [caption, link]
            if str(video["item_id"]) in sync["videos"]:
                about = [post_excerpt(video.get("caption")), web_link(video.get("share_url"))]
                sync["posts"][str(video["item_id"])] = about
        more = bool(data.get("has_more") and videos) and len(sync["videos"]) < limit
        sync["video_cursor"] = data.get("cursor") if more else None
        sync["listing"] = more and data.get("cursor") is not None

    def _list_comments(self, state: dict[str, Any], sync: dict[str, Any]) -> list[NormalizedItem]:
        video_id = sync["videos"][sync["index"]]
        params: dict[str, Any] = {
            "business_id": self.config["business_id"],
            "video_id": video_id,
            "include_replies": "true",
            "status": "ALL",
            "sort_field": "create_time",
            "sort_order": "desc",
            "max_count": COMMENT_PAGE,
        }
        if sync["comment_cursor"] is not None:
            params["cursor"] = sync["comment_cursor"]
        data = self.api("GET", "comment/list/", params=params)
        items, reached_old = [], False
        for comment in _flatten(data.get("comments") or []):
            created = int(comment["create_time"])
            if state["since"] is not None and created < state["since"]:
                reached_old = True
                continue
            comment_id = str(comment["comment_id"])
            if comment_id in state["seen"] or comment_id in sync["found"]:
                continue
            sync["found"][comment_id] = created
            items.append(self._item(comment, video_id, sync["posts"].get(video_id)))
        more = data.get("has_more") and data.get("comments") and data.get("cursor") is not None
        if more and not reached_old:
            sync["comment_cursor"] = data["cursor"]
        else:
            sync["index"] += 1
            sync["comment_cursor"] = None
            sync["posts"].pop(video_id, None)  # read to the end: the cursor needs it no more
        return items

    def _item(
        self, comment: dict[str, Any], video_id: str, video: list[str | None] | None
    ) -> NormalizedItem:
        """A comment; `video` is the [caption, share link] of the video it is under."""
        comment_id = str(comment["comment_id"])
        caption, link = video or (None, None)
        parent = str(comment["parent_comment_id"]) if comment.get("parent_comment_id") else None
        username = comment.get("username")
        return NormalizedItem(
            external_id=comment_id,
            kind="comment",
            author=Author(
                id=str(comment.get("unique_identifier") or comment.get("user_id") or username),
                handle=f"@{username}" if username else None,
                name=comment.get("display_name") or None,
            ),
            created_at=datetime.fromtimestamp(int(comment["create_time"]), UTC),
            body=comment.get("text") or "",
            post_id=str(comment.get("video_id") or video_id),
            thread_id=parent or comment_id,  # TikTok threads are one level deep
            parent_id=parent,
            outbound=bool(comment.get("owner")),
            post_text=caption,
            post_url=link,
        )

    # -- writes -----------------------------------------------------------------------------

    def reply(self, target: Target, text: str) -> str:
        """Reply under a comment of one of our videos; return the new comment's id."""
        self.require("reply")
        if not text.strip():
            raise NotAllowed("a TikTok reply cannot be empty")
        if len(text) > MAX_REPLY_CHARS:
            raise NotAllowed(
                f"TikTok replies are limited to {MAX_REPLY_CHARS} characters"
                f" (this one has {len(text)})"
            )
        data = self.api(
            "POST",
            "comment/reply/create/",
            json={
                "business_id": self.config["business_id"],
                "video_id": self._video_of(target),
                "comment_id": target.external_id,
                "text": text,
            },
        )
        if not data.get("comment_id"):
            raise Transient("TikTok accepted the reply but returned no comment_id")
        return str(data["comment_id"])

    def moderate(self, target: Target, action: str) -> None:
        """Hide, unhide or like a comment on one of our videos."""
        self.require(action)
        business = self.config["business_id"]
        if action == "like":
            body = {"business_id": business, "comment_id": target.external_id, "action": "LIKE"}
            self.api("POST", "comment/like/", json=body)
            return
        self.api(
            "POST",
            "comment/hide/",
            json={
                "business_id": business,
                "video_id": self._video_of(target),
                "comment_id": target.external_id,
                "action": "HIDE" if action == "hide" else "UNHIDE",
            },
        )

    @staticmethod
    def _video_of(target: Target) -> str:
        if not target.post_id:
            raise NotAllowed("this TikTok comment does not say which video it belongs to")
        return target.post_id


def _flatten(comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Comments with their nested `reply_list`, if any, as one list."""
    flat = []
    for comment in comments:
        flat.append(comment)
        for reply in comment.get("reply_list") or []:
            flat.append({"parent_comment_id": comment.get("comment_id")} | reply)
    return flat


def _load_state(cursor: Any) -> dict[str, Any]:
    """The cursor: watermark (`since`, Unix s), ids already reported at or after it, and the
    sync in progress (videos to visit and what they show, page cursors, comments found)."""
    if not isinstance(cursor, dict):
        return {"since": None, "seen": {}, "sync": None}
    sync = cursor.get("sync")
    if sync is not None:
        sync = dict(sync) | {
            "videos": list(sync["videos"]),
            "found": dict(sync["found"]),
            "posts": dict(sync.get("posts") or {}),
        }
    return {"since": cursor.get("since"), "seen": dict(cursor.get("seen") or {}), "sync": sync}


def _finish(state: dict[str, Any], sync: dict[str, Any]) -> dict[str, Any]:
    """Close a sync (see connectors.watermark)."""
    return close_sync(state, sync, OVERLAP)
