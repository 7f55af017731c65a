"""YouTube Data API v3 simulator: comment threads on the channel's videos, replies, moderation.

Follows platform-apis.md §4: `commentThreads.list` (exactly one filter; `maxResults` 1–100,
default 20, not allowed with `id`; `order=time`; `textFormat=html|plainText`; opaque
`nextPageToken`, absent on the last page), `comments.list` (`parentId` or `id`),
`comments.insert` (reply ids are `<parent id>.<suffix>`), `comments.setModerationStatus`
(204; `banAuthor` only with `rejected`), `comments.delete` (own comments only),
`channels.list?mine=true`, `videos.list` by `id` (a comma-separated list; `part` required,
`snippet` rendered; `maxResults` not allowed with `id`; unknown ids are left out of `items`).
Choices where the docs are silent [U]: a new reply does not move its thread up; a thread embeds
its first five published replies; `textOriginal` is returned only for the channel's own comments
(the docs guarantee it only to the author); more than 50 ids in one `videos.list` call are
refused (400 `tooManyIds`), the usual limit of Google's list calls.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
from typing import Any

from flask import Flask, Response, request

from connectors.sandbox.google import (
    GoogleSimulator,
    error,
    keyset_page,
    ok,
    random_id,
    rfc3339,
)
from connectors.sandbox.traffic import Person

CHANNEL_ID = "UCq7MaisonLumiereParis01"
CHANNEL = {"title": "Maison Lumière", "customUrl": "@maisonlumiere"}
VIDEOS = [
    ("qX8d2Lk3PzA", "Collection automne-hiver : le défilé"),
    ("b7Hs0TqM1cE", "Guide des tailles : comment choisir ?"),
    ("Zr5uYw2nK9o", "Le trench Odéon, trois façons de le porter"),
    ("mN4pL8vR2sT", "Dans l'atelier : la fabrication du sac Céleste"),
    ("H1jK6fG3dS0", "Soldes d'hiver : nos coups de cœur"),
]
EMBEDDED_REPLIES = 5
MAX_VIDEO_IDS = 50
MAX_TEXT = 10_000
NOT_FOUND = "The comment identified by the id parameter could not be found."


def channel_of(person: Person) -> str:
    """A stable YouTube channel id for a traffic person."""
    digest = hashlib.sha256(f"youtube:{person.id}".encode()).digest()
    return "UC" + base64.urlsafe_b64encode(digest).decode()[:22]


class YouTubeSimulator(GoogleSimulator):
    type = "youtube"
    quota_domain = "youtube.quota"

    def __init__(self, **kwargs: Any):
        self.threads: dict[str, dict] = {}
        self.comments: dict[str, dict] = {}
        self.disabled: set[str] = set()
        self.banned: set[str] = set()
        self._seq = itertools.count(1)
        super().__init__(**kwargs)

    def channel_config(self) -> dict[str, Any]:
        return {"access_token": self.token, "channel_id": CHANNEL_ID, "api_base": self.base_url}

    # -- traffic --------------------------------------------------------------------------

    def add_inbound(self, count: int = 1) -> list[str]:
        """New viewer comments: mostly new threads, some replies under recent ones."""
        ids = []
        with self.lock:
            for _ in range(count):
                recent = [t for t in self._listing()[:8] if t["top"]["author"] is not None]
                if recent and self.rng.random() < 0.35:
                    thread = self.rng.choice(recent)
                    follow_up = self.rng.random() < 0.3 and not thread["top"]["author"].bot
                    message = self.traffic.message(
                        author=thread["top"]["author"] if follow_up else None
                    )
                    comment = self._add(thread["video"], message.author, message.text, thread["id"])
                else:
                    message = self.traffic.message()
                    video = self.rng.choice(VIDEOS)[0]
                    comment = self._add(video, message.author, message.text, None)
                ids.append(comment["id"])
        return ids

    def add_replies(self, thread_id: str, count: int) -> list[str]:
        """Viewers reply under an existing thread (it does not move up the listing)."""
        with self.lock:
            video = self.threads[thread_id]["video"]
            return [
                self._add(video, m.author, m.text, thread_id)["id"]
                for m in (self.traffic.message() for _ in range(count))
            ]

    def disable_comments(self, video_id: str) -> None:
        with self.lock:
            self.disabled.add(video_id)

    def _add(self, video: str, author: Person | None, text: str, parent: str | None) -> dict:
        now = self.now()
        top_id = "Ugw" + random_id(self.rng, 20) + "4AaABAg"
        comment = {
            "id": f"{parent}.{random_id(self.rng, 22)}" if parent else top_id,
            "video": video,
            "author": author,
            "text": text,
            "at": now,
            "updated": now,
            "seq": next(self._seq),
            "parent": parent,
            "status": "published",
            "likes": self.rng.choice([0, 0, 0, 1, 2, 5]),
        }
        self.comments[comment["id"]] = comment
        if parent:
            self.threads[parent]["replies"].append(comment)
        else:
            self.threads[comment["id"]] = {"id": comment["id"], "video": video, "top": comment}
            self.threads[comment["id"]]["replies"] = []
        return comment

    def _listing(self) -> list[dict]:
        """Threads newest first by their top-level comment."""
        return sorted(self.threads.values(), key=_thread_key, reverse=True)

    # -- routes ---------------------------------------------------------------------------

    def routes(self, app: Flask) -> None:
        app.get("/youtube/v3/channels")(self._channels)
        app.get("/youtube/v3/videos")(self._videos)
        app.get("/youtube/v3/commentThreads")(self._list_threads)
        app.get("/youtube/v3/comments")(self._list_comments)
        app.post("/youtube/v3/comments")(self._insert)
        app.post("/youtube/v3/comments/setModerationStatus")(self._set_status)
        app.delete("/youtube/v3/comments")(self._delete)

    def _channels(self) -> Response:
        if not request.args.get("part"):
            return error(400, "Required parameter: part", "required")
        mine = request.args.get("mine") == "true" or request.args.get("id") == CHANNEL_ID
        item = {"kind": "youtube#channel", "etag": "ch-1", "id": CHANNEL_ID}
        item["snippet"] = CHANNEL | {"description": "Mode parisienne", "publishedAt": _BORN}
        items = [item] if mine else []
        return ok({"kind": "youtube#channelListResponse", "pageInfo": _info(items), "items": items})

    def _videos(self) -> Response:
        args = request.args
        parts = set((args.get("part") or "").split(","))
        if not args.get("part"):
            return error(400, "Required parameter: part", "required")
        if not args.get("id"):
            return error(400, "No filter selected.", "missingRequiredParameter")
        if "maxResults" in args:
            return error(400, "maxResults is not supported with id.", "incompatibleParameters")
        wanted = args["id"].split(",")
        if len(wanted) > MAX_VIDEO_IDS:
            return error(400, f"At most {MAX_VIDEO_IDS} video ids per call.", "tooManyIds")
        titles = dict(VIDEOS)
        items = [
            self._video_json(v, titles[v], parts) for v in dict.fromkeys(wanted) if v in titles
        ]
        body = {"kind": "youtube#videoListResponse", "etag": "vl-1"}
        return ok(body | {"pageInfo": _info(items), "items": items})

    def _video_json(self, video_id: str, title: str, parts: set[str]) -> dict:
        out: dict[str, Any] = {"kind": "youtube#video", "etag": "v-1", "id": video_id}
        if "snippet" in parts:
            out["snippet"] = {
                "publishedAt": _BORN,
                "channelId": CHANNEL_ID,
                "title": title,
                "description": f"{title}\n\nMaison Lumière, mode parisienne.",
                "thumbnails": {
                    "default": {"url": f"https://i.ytimg.com/vi/{video_id}/default.jpg"}
                },
                "channelTitle": CHANNEL["title"],
                "categoryId": "26",
                "liveBroadcastContent": "none",
            }
        return out  # other parts (statistics, status, …) are not simulated

    def _list_threads(self) -> Response:
        args = request.args
        parts = set((args.get("part") or "").split(","))
        filters = [f for f in ("allThreadsRelatedToChannelId", "videoId", "id") if args.get(f)]
        if not args.get("part") or not parts <= {"id", "snippet", "replies"}:
            return error(400, "Required parameter: part", "required")
        if len(filters) != 1:
            return error(400, "Specify exactly one filter.", "incompatibleParameters")
        if filters == ["id"] and {"maxResults", "order", "pageToken"} & set(args):
            return error(400, "maxResults is not supported with id.", "incompatibleParameters")
        status = args.get("moderationStatus", "published")
        plain = args.get("textFormat", "html") == "plainText"
        with self.lock:
            rows = [t for t in self._listing() if t["top"]["status"] == status]
            if args.get("id"):
                wanted = set(args["id"].split(","))
                page, token = [t for t in rows if t["id"] in wanted], None
            else:
                if args.get("videoId"):
                    rows = [t for t in rows if t["video"] == args["videoId"]]
                elif args["allThreadsRelatedToChannelId"] != CHANNEL_ID:
                    rows = []
                found = self._page(rows, _thread_key, newest_first=True)
                if isinstance(found, Response):
                    return found
                page, token = found
            items = [self._thread_json(t, parts, plain) for t in page]
        body = {"kind": "youtube#commentThreadListResponse", "etag": "ct-1"}
        body |= {"pageInfo": _info(items, len(rows)), "items": items}
        return ok(body | ({"nextPageToken": token} if token else {}))

    def _list_comments(self) -> Response:
        args = request.args
        if not args.get("part") or bool(args.get("parentId")) == bool(args.get("id")):
            return error(400, "Specify part and one of parentId or id.", "missingRequiredParameter")
        plain = args.get("textFormat", "html") == "plainText"
        with self.lock:
            if args.get("id"):
                wanted = args["id"].split(",")
                page, token = [self.comments[i] for i in wanted if i in self.comments], None
            else:
                thread = self.threads.get(args["parentId"])
                if thread is None:
                    return error(404, NOT_FOUND, "commentNotFound")
                rows = [r for r in thread["replies"] if r["status"] == "published"]
                found = self._page(rows, _comment_key, newest_first=False)
                if isinstance(found, Response):
                    return found
                page, token = found
            items = [self._comment_json(c, plain) for c in page]
        body = {"kind": "youtube#commentListResponse", "etag": "cl-1"}
        body |= {"pageInfo": _info(items), "items": items}
        return ok(body | ({"nextPageToken": token} if token else {}))

    def _page(self, rows: list, key, *, newest_first: bool):
        try:
            size = int(request.args.get("maxResults", "20"))
        except ValueError:
            size = 0
        if not 1 <= size <= 100:
            return error(400, "maxResults must be between 1 and 100.", "invalidParameter")
        try:
            return keyset_page(
                rows,
                request.args.get("pageToken"),
                min(size, self.page_size),
                key,
                newest_first=newest_first,
            )
        except ValueError:
            return self.bad_page_token()

    def _insert(self) -> Response:
        body = request.get_json(silent=True) or {}
        snippet = body.get("snippet") if isinstance(body, dict) else None
        if "snippet" not in (request.args.get("part") or "") or not isinstance(snippet, dict):
            return error(
                400, "The request must include a snippet part.", "missingRequiredParameter"
            )
        text = snippet.get("textOriginal")
        with self.lock:
            thread = self.threads.get(str(snippet.get("parentId")))
            if thread is None:
                return error(404, "The parent comment could not be found.", "commentNotFound")
            if thread["video"] in self.disabled:
                return error(403, "The video has disabled comments.", "commentsDisabled")
            if not isinstance(text, str) or not text.strip():
                return error(400, "The comment must have a textOriginal.", "commentTextRequired")
            if len(text) > MAX_TEXT:
                return error(400, "The comment text is too long.", "commentTextTooLong")
            comment = self._add(thread["video"], None, text, thread["id"])
            return ok(self._comment_json(comment, plain=False))

    def _set_status(self) -> Response:
        args = request.args
        status, ban = args.get("moderationStatus"), args.get("banAuthor") == "true"
        if status not in ("published", "heldForReview", "rejected"):
            return error(400, "Invalid moderationStatus.", "invalidModerationStatus")
        if ban and status != "rejected":
            return error(400, "banAuthor can only be used with rejected.", "banWithoutReject")
        with self.lock:
            ids = (args.get("id") or "").split(",")
            if not all(i in self.comments for i in ids):
                return error(404, NOT_FOUND, "commentNotFound")
            for comment in (self.comments[i] for i in ids):
                comment["status"] = status
                if ban and comment["author"] is not None:
                    self.banned.add(channel_of(comment["author"]))
        return Response(status=204)

    def _delete(self) -> Response:
        with self.lock:
            comment = self.comments.get(request.args.get("id", ""))
            if comment is None:
                return error(404, NOT_FOUND, "commentNotFound")
            if comment["author"] is not None:
                return error(403, "Only the author can delete a comment.", "forbidden")
            comment["status"] = "deleted"
        return Response(status=204)

    # -- shapes ---------------------------------------------------------------------------

    def _thread_json(self, thread: dict, parts: set[str], plain: bool) -> dict:
        replies = [r for r in thread["replies"] if r["status"] == "published"]
        out: dict[str, Any] = {"kind": "youtube#commentThread", "etag": "t-1", "id": thread["id"]}
        if "snippet" in parts:
            out["snippet"] = {
                "channelId": CHANNEL_ID,
                "videoId": thread["video"],
                "topLevelComment": self._comment_json(thread["top"], plain),
                "canReply": thread["video"] not in self.disabled,
                "totalReplyCount": len(replies),
                "isPublic": True,
            }
        if "replies" in parts and replies:
            embedded = replies[:EMBEDDED_REPLIES]
            out["replies"] = {"comments": [self._comment_json(r, plain) for r in embedded]}
        return out

    def _comment_json(self, comment: dict, plain: bool) -> dict:
        person: Person | None = comment["author"]
        handle = "@" + person.handle if person else CHANNEL["customUrl"]
        text = comment["text"]
        snippet = {
            "channelId": CHANNEL_ID,
            "videoId": comment["video"],
            "textDisplay": text if plain else html.escape(text).replace("\n", "<br>"),
            "authorDisplayName": handle,
            "authorProfileImageUrl": f"https://yt3.ggpht.com/{handle[1:]}=s48-c-k-c0x00ffffff-no-rj",
            "authorChannelUrl": f"http://www.youtube.com/{handle}",
            "authorChannelId": {"value": channel_of(person) if person else CHANNEL_ID},
            "canRate": True,
            "viewerRating": "none",
            "likeCount": comment["likes"],
            "publishedAt": rfc3339(comment["at"]),
            "updatedAt": rfc3339(comment["updated"]),
        }
        if person is None:
            snippet["textOriginal"] = text
        if comment["parent"]:
            snippet["parentId"] = comment["parent"]
        if comment["status"] != "published":
            snippet["moderationStatus"] = comment["status"]
        return {"kind": "youtube#comment", "etag": "c-1", "id": comment["id"], "snippet": snippet}


_BORN = "2016-04-12T09:30:00Z"


def _comment_key(comment: dict) -> list:
    return [int(comment["at"]), comment["seq"]]


def _thread_key(thread: dict) -> list:
    return _comment_key(thread["top"])


def _info(items: list, total: int | None = None) -> dict[str, int]:
    return {"totalResults": len(items) if total is None else total, "resultsPerPage": len(items)}
