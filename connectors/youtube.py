"""YouTube Data API v3: comments on the channel's videos, replies, and comment moderation.

Contract: platform-apis.md §4. Verified [V]: `commentThreads.list` with
`allThreadsRelatedToChannelId`, `order=time`, `pageToken` ← `nextPageToken`; `comments.list`
with `parentId`; `comments.insert` with `snippet.parentId`/`textOriginal`;
`comments.setModerationStatus` (`rejected` hides, `published` restores); `channels.list?mine=true`.
Assumed [U]: a new reply does not move its thread up in `order=time`, and a thread's embedded
`replies.comments` may be a subset. So each sync, after listing new threads, re-reads the
most recently active threads by id (one call) and fetches the replies of any thread whose
`totalReplyCount` grew beyond what was embedded. Replies on threads older than those
`WATCH_MAX` threads are not seen; nor are comments approved from "held for review" later
(their `publishedAt` is older than the watermark).

The video a comment answers: `post_url` is its watch page (`https://www.youtube.com/watch?v=`),
`post_text` its title. Threads carry only the `videoId`, so titles come from `videos.list`
(`part=snippet`, `id=` up to 50 ids, 1 quota unit) [V], asked once per page of threads (and
per re-read or replies page, for the videos it adds) for the videos not yet known in this sync;
the titles are kept in the cursor until the sync ends, so no video is asked twice per sync.

Not offered: delete (only the author may delete a comment; others' are hidden instead), like
(no API), "hold for review" and "ban author" (`heldForReview`, `banAuthor=true`): they are not
in the inbox's action set (hide, unhide, delete, like), so `moderate` cannot express them.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from marshmallow import fields, validate

from connectors import register
from connectors.base import (
    Author,
    Batch,
    ConnectorError,
    NormalizedItem,
    NotAllowed,
    PermissionDenied,
    Target,
)
from connectors.google import GoogleConfig, GoogleConnector, Sweep, iso, parse_time
from connectors.http import api_base_field
from connectors.text import post_excerpt

THREADS = "youtube/v3/commentThreads"
COMMENTS = "youtube/v3/comments"
VIDEOS = "youtube/v3/videos"
VIDEO_BATCH = 50  # ids per videos.list call
MAX_TITLES = 200  # video titles a sync keeps in its cursor
WATCH_URL = "https://www.youtube.com/watch?v="
PAGE_SIZE = 100
WATCH_MAX = 50  # threads re-read for new replies each sync (one call: `id` takes a list)
HIDE = {"hide": "rejected", "unhide": "published"}
STEPS = ("threads", "recheck", "replies")


class YouTubeConfig(GoogleConfig):
    api_base = api_base_field("https://www.googleapis.com/")
    channel_id = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^UC[A-Za-z0-9_-]{22}$", error="Enter the channel id: 'UC' and 22 more characters."
        ),
        metadata={"description": "The YouTube channel id (UC…)"},
    )


@register
class YouTubeConnector(GoogleConnector):
    type = "youtube"
    label = "YouTube"
    capabilities = frozenset({"reply", "hide", "unhide"})
    config_schema = YouTubeConfig
    polls = True
    default_api_base = "https://www.googleapis.com/"
    quota_name = "YouTube API"

    def __init__(self, config: Mapping[str, Any]):
        super().__init__(config)
        self.channel_id = self.config["channel_id"]

    def check(self) -> str:
        data = self.get_json("youtube/v3/channels", params={"part": "snippet", "mine": "true"})
        found = data.get("items") or []
        if not found:
            raise PermissionDenied("This Google account has no YouTube channel.")
        snippet = found[0].get("snippet") or {}
        name = snippet.get("title") or found[0]["id"]
        if found[0]["id"] != self.channel_id:
            raise PermissionDenied(
                f"This sign-in belongs to the channel {name} ({found[0]['id']}), not to "
                f"{self.channel_id}; reconnect with the right account."
            )
        handle = f" ({snippet['customUrl']})" if snippet.get("customUrl") else ""
        return f"Connected to the YouTube channel {name}{handle}"

    # -- pull: one list call per step (threads pages, one re-read of watched threads, reply
    # -- pages), plus one videos.list when the step hands out comments on videos not yet known

    def pull(self, cursor: Any) -> Batch:
        sweep = Sweep(cursor)
        state = {
            "step": sweep.extra.get("step", "threads"),
            "queue": list(sweep.extra.get("queue") or []),
            "watch": dict(sweep.extra.get("watch") or {}),
            "checked": list(sweep.extra.get("checked") or []),
            "titles": dict(sweep.extra.get("titles") or {}),
        }
        items: list[NormalizedItem] = []
        if state["step"] not in STEPS:
            state["step"] = "threads"
        step = getattr(self, f"_step_{state['step']}")(sweep, state, items)
        state["checked"] = [key for key in state["checked"] if key in state["watch"]]
        state["titles"] = dict(list(state["titles"].items())[-MAX_TITLES:])
        if step == "done":
            sweep.finish()
            return Batch(items, sweep.cursor(watch=state["watch"]), more=False)
        return Batch(items, sweep.cursor(**(state | {"step": step})), more=True)

    def _step_threads(self, sweep: Sweep, state: dict, items: list) -> str:
        params = {
            "part": "snippet,replies",
            "allThreadsRelatedToChannelId": self.channel_id,
            "order": "time",
            "maxResults": PAGE_SIZE,
            "textFormat": "plainText",
        }
        data = self.get_page(THREADS, params, "pageToken", sweep.page)
        listed = data.get("items") or []
        fresh = list(itertools.takewhile(lambda t: not sweep.is_older(_activity(t)), listed))
        self._learn_titles(_videos_with_news(fresh, sweep), state)
        for thread in fresh:
            self._take(thread, sweep, state, items)
            state["checked"].append(thread["id"])
        if len(fresh) < len(listed):
            sweep.page = None
            return self._after_threads(state)
        sweep.page = data.get("nextPageToken")
        return "threads" if sweep.page else self._after_threads(state)

    def _after_threads(self, state: dict) -> str:
        return "recheck" if _to_recheck(state) else self._after_recheck(state)

    @staticmethod
    def _after_recheck(state: dict) -> str:
        state["checked"] = []
        return "replies" if state["queue"] else "done"

    def _step_recheck(self, sweep: Sweep, state: dict, items: list) -> str:
        ids = _to_recheck(state)
        if not ids:
            return self._after_recheck(state)
        params = {"part": "snippet,replies", "id": ",".join(ids), "textFormat": "plainText"}
        found = {t["id"]: t for t in self.get_json(THREADS, params=params).get("items") or []}
        grown = []
        for thread_id in ids:
            thread = found.get(thread_id)
            if thread is None:  # hidden or deleted since
                state["watch"].pop(thread_id, None)
            elif thread["snippet"].get("totalReplyCount", 0) != state["watch"][thread_id][0]:
                grown.append(thread)
        self._learn_titles(_videos_with_news(grown, sweep), state)
        for thread in grown:
            self._take(thread, sweep, state, items)
        return self._after_recheck(state)

    def _step_replies(self, sweep: Sweep, state: dict, items: list) -> str:
        thread_id, video_id = state["queue"][0]
        params = {"part": "snippet", "parentId": thread_id, "maxResults": PAGE_SIZE}
        try:
            data = self.get_page(
                COMMENTS, params | {"textFormat": "plainText"}, "pageToken", sweep.page
            )
        except NotAllowed:  # the thread went away between the listing and now
            data = {}
        if _any_new(data.get("items") or [], sweep):
            self._learn_titles([video_id], state)
        for comment in data.get("items") or []:
            self._emit(comment, video_id, thread_id, sweep, state, items)
        sweep.page = data.get("nextPageToken")
        if not sweep.page:
            state["queue"].pop(0)
        return "replies" if state["queue"] else "done"

    def _take(self, thread: dict, sweep: Sweep, state: dict, items: list) -> None:
        """Hand out a thread's new comments; queue its replies when the embedded ones fall short."""
        snippet = thread["snippet"]
        video_id = snippet.get("videoId")
        self._emit(snippet["topLevelComment"], video_id, thread["id"], sweep, state, items)
        embedded = (thread.get("replies") or {}).get("comments") or []
        count = snippet.get("totalReplyCount", 0)
        if count > len(embedded):
            if all(entry[0] != thread["id"] for entry in state["queue"]):
                state["queue"].append([thread["id"], video_id])
        else:
            for comment in embedded:
                self._emit(comment, video_id, thread["id"], sweep, state, items)
        watch = state["watch"]
        watch[thread["id"]] = [count, iso(_activity(thread))]
        if len(watch) > WATCH_MAX:
            newest = sorted(watch, key=lambda key: watch[key][1], reverse=True)[:WATCH_MAX]
            state["watch"] = {key: watch[key] for key in newest}

    def _learn_titles(self, video_ids: list, state: dict) -> None:
        """Read the titles of the videos this sync does not know yet, 50 ids per call."""
        titles = state["titles"]
        missing = list(dict.fromkeys(v for v in video_ids if v and v not in titles))
        for start in range(0, len(missing), VIDEO_BATCH):
            batch = missing[start : start + VIDEO_BATCH]
            data = self.get_json(VIDEOS, params={"part": "snippet", "id": ",".join(batch)})
            found = {
                video.get("id"): (video.get("snippet") or {}).get("title")
                for video in data.get("items") or []
                if isinstance(video, dict)
            }
            for video_id in batch:  # "" remembers a private or deleted video
                titles[video_id] = post_excerpt(found.get(video_id)) or ""

    def _emit(
        self, comment: dict, video_id, thread_id: str, sweep: Sweep, state: dict, items: list
    ) -> None:
        published = parse_time(comment["snippet"]["publishedAt"])
        if sweep.is_new(published, comment["id"]):
            items.append(self._item(comment, video_id, thread_id, state["titles"]))
            sweep.note(published, comment["id"])

    def _item(
        self, comment: dict, video_id: str | None, thread_id: str, titles: dict[str, str]
    ) -> NormalizedItem:
        s = comment["snippet"]
        video_id = video_id or s.get("videoId")
        name = s.get("authorDisplayName") or None
        author_id = (s.get("authorChannelId") or {}).get("value") or f"name:{name or 'unknown'}"
        published = parse_time(s["publishedAt"])
        updated = parse_time(s.get("updatedAt") or s["publishedAt"])
        url = f"https://www.youtube.com/watch?v={video_id}&lc={comment['id']}" if video_id else None
        return NormalizedItem(
            external_id=comment["id"],
            kind="comment",
            author=Author(
                author_id,
                handle=name if name and name.startswith("@") else None,
                name=name[:255] if name else None,
            ),
            created_at=published,
            body=s.get("textOriginal") or s.get("textDisplay") or "",
            thread_id=thread_id,
            post_id=video_id,
            parent_id=s.get("parentId"),
            edited_at=updated if updated > published else None,
            url=url,
            outbound=author_id == self.channel_id,
            post_text=titles.get(video_id or "") or None,
            post_url=f"{WATCH_URL}{video_id}" if video_id else None,
        )

    # -- writes ---------------------------------------------------------------------------

    def reply(self, target: Target, text: str) -> str:
        """Reply under the top-level comment of the target's thread (YouTube has one level)."""
        self.require("reply")
        if not text.strip():
            raise NotAllowed("An empty reply cannot be posted on YouTube.")
        parent = target.thread_id or target.external_id.split(".", 1)[0]
        body = {"snippet": {"parentId": parent, "textOriginal": text}}
        answer = self.json_of(self.call("POST", COMMENTS, params={"part": "snippet"}, json=body))
        if not isinstance(answer, dict) or not answer.get("id"):
            raise ConnectorError("YouTube took the reply but did not say its id; check the video.")
        return str(answer["id"])

    def moderate(self, target: Target, action: str) -> None:
        """Hide (status `rejected`) or restore (`published`) a comment on the channel's videos."""
        self.require(action)
        params = {"id": target.external_id, "moderationStatus": HIDE[action]}
        self.call("POST", f"{COMMENTS}/setModerationStatus", params=params)


def _comments_of(thread: dict) -> list[dict]:
    """A thread's comments as listed: the top-level one and the embedded replies."""
    embedded = (thread.get("replies") or {}).get("comments") or []
    return [thread["snippet"]["topLevelComment"], *embedded]


def _activity(thread: dict) -> Any:
    """The newest publishedAt in a thread as listed (top-level comment and embedded replies)."""
    return max(parse_time(c["snippet"]["publishedAt"]) for c in _comments_of(thread))


def _any_new(comments: list[dict], sweep: Sweep) -> bool:
    return any(sweep.is_new(parse_time(c["snippet"]["publishedAt"]), c["id"]) for c in comments)


def _videos_with_news(threads: list[dict], sweep: Sweep) -> list[str]:
    """The videos of the threads that hold a comment this sync will hand out."""
    return [t["snippet"].get("videoId") for t in threads if _any_new(_comments_of(t), sweep)]


def _to_recheck(state: dict) -> list[str]:
    """Watched threads not read in this sync and not already queued for their replies."""
    skip = set(state["checked"]) | {entry[0] for entry in state["queue"]}
    return [key for key in state["watch"] if key not in skip][:WATCH_MAX]
