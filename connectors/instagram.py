"""Instagram professional accounts: comments, mentions and DMs, polled and pushed (Graph API).

Shared Graph behaviour (auth, errors, paging, the sync queue, Send API, webhook checks) lives in
`connectors.meta`. Contract: platform-apis.md §3. Both hosts work: `graph.facebook.com` with a
Page token (Instagram API with Facebook Login; set `page_id`, the Page linked to the account,
which owns the DMs) or `graph.instagram.com` with an Instagram user token (Instagram Login;
leave `page_id` empty and set `api_base`).

Pull, one Graph call per `pull`:

1. `GET /{ig-user-id}/media` — the `media_count` most recent media, newest first. [V]
2. `GET /{media-id}/comments?fields=...,replies{...}` — top-level comments with their first
   page of replies inline, then `GET /{comment-id}/replies` for longer threads. [V] Comment
   edges have no `since` (and no documented order), so every page of each recent media is read
   and the items are filtered by the watermark (newest `timestamp` seen plus the ids at that
   second); ingest dedupes by id anyway. Thread = the top-level comment id, `post_id` = the
   media id, `url` = the media permalink. Our own replies (`from.id` = the account) are echoes.
   The post a comment answers (`post_text` = the media `caption`, `post_url` = its
   `permalink`) comes from the media call of step 1, kept in the comments task.
3. `GET /{ig-user-id}/tags` — media in which other accounts tag ours → kind `mention`
   (`external_id = thread_id = post_id =` the media id; the author is the media's `username`,
   the only author field such media expose). Assumed newest first [P]: paging stops at a page
   entirely older than the watermark.
4. `GET /{page-id or ig-user-id}/conversations?platform=instagram` with inline `messages{...}` —
   kind `dm`, thread = conversation id (see `connectors.meta`).

Push (`object=instagram`): `changes[]` fields `comments` (→ comment, dated by `entry.time`; the
value carries no time) and `mentions` (`{media_id, comment_id?}`, ids only: the mentioned
comment or caption is fetched with `GET /{ig-user-id}?fields=mentioned_comment.comment_id(..)`
or `mentioned_media.media_id(..)`, one call per mention, and becomes a `mention` threaded on the
media; a comment mention asks, in the same call, for `media{caption,permalink}`, the other
account's post it was written under [P: Graph field expansion on the IG Comment `media` field]),
and `messaging[]` (or a `messages` change) for DMs. Other fields are ignored. A pushed comment
carries only the media id: its `post_text` and `post_url` stay empty (no call while parsing).

Write:
- reply to a comment: `POST /{top-level-comment-id}/replies` `message=` (Instagram threads
  only one level deep);
- reply to a mention: `POST /{ig-user-id}/mentions` with `media_id`, `comment_id` (for a
  comment mention) and `message`;
- reply to a `dm`: Send API `POST /{page-id or ig-user-id}/messages`, `recipient.id` = IGSID,
  24-hour window (7 days with `human_agent`); a `dm` Target pointing at a comment (its
  `post_id` set) gets a private reply (`recipient.comment_id`), as on Facebook;
- hide / unhide: `POST /{comment-id}` `hide=true|false`; delete: `DELETE /{comment-id}` —
  comments on our own media only (mentions live on other accounts' media: `NotAllowed`);
- like: no API (`Unsupported`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from marshmallow import fields, validate

from connectors import register
from connectors.base import Author, NormalizedItem, NotAllowed, Target, Transient
from connectors.meta import (
    GraphConfig,
    GraphConnector,
    GraphId,
    clip,
    next_page,
    parse_time,
    require_keys,
    who,
)
from connectors.text import post_excerpt, web_link

log = logging.getLogger(__name__)

COMMENT_FIELDS = "id,text,timestamp,username,from,parent_id,hidden"
MEDIA_FIELDS = "id,caption,permalink,timestamp,comments_count"
TAG_FIELDS = "id,caption,timestamp,username,permalink"
MENTIONED_MEDIA_FIELDS = "id,caption,permalink"


class InstagramConfig(GraphConfig):
    ig_user_id = GraphId(
        "Instagram account", required=True, metadata={"description": "Instagram account id"}
    )
    page_id = GraphId(
        "Page",
        load_default=None,
        allow_none=True,
        metadata={"description": "linked Facebook Page id (Facebook Login tokens; owns the DMs)"},
    )
    media_count = fields.Integer(
        load_default=20,
        validate=validate.Range(1, 200),
        metadata={"description": "how many recent media are polled for comments"},
    )


def by_username(username: Any) -> Author:
    """Other accounts' media and mentions name their author only by username."""
    name = str(username or "unknown")[:254]
    return Author(id=name, handle=f"@{name}", name=name)


@register
class InstagramConnector(GraphConnector):
    type = "instagram"
    label = "Instagram"
    capabilities = frozenset({"reply", "hide", "unhide", "delete"})
    config_schema = InstagramConfig
    webhook_object = "instagram"
    messaging_platform = "instagram"

    def __init__(self, config: Mapping[str, Any]):
        super().__init__(config)
        self.ig_user_id = str(self.config["ig_user_id"])
        self.page_id = str(self.config["page_id"]) if self.config.get("page_id") else None
        self.media_count = int(self.config.get("media_count") or 20)

    @property
    def inbox_id(self) -> str:
        return self.page_id or self.ig_user_id

    @property
    def own_ids(self) -> set[str]:
        return {self.ig_user_id} | ({self.page_id} if self.page_id else set())

    def permission_hint(self) -> str:
        return "instagram_manage_comments or instagram_manage_messages"

    def check(self) -> str:
        me = self.get_json(self.path(self.ig_user_id), params={"fields": "id,username"})
        if not isinstance(me, dict) or not me.get("id"):
            raise Transient("Instagram answered the account lookup without an id")
        return f"Connected to @{me.get('username') or me['id']} on Instagram"

    # -- pull ---------------------------------------------------------------------------------

    def first_tasks(self) -> list[dict[str, Any]]:
        return [{"t": "media"}, {"t": "tags"}, {"t": "conversations"}]

    def run_task(self, task, wm):
        step = task["t"]
        if step == "media":
            return self.media_task(task)
        if step in ("comments", "replies"):
            return self.comments_task(task)
        if step == "tags":
            return self.tags_task(task, wm)
        return super().run_task(task, wm)

    def media_task(self, task):
        params = {"fields": MEDIA_FIELDS, "limit": self.limit}
        body, page = self.fetch(self.path(self.ig_user_id, "media"), params, task)
        seen, follow = int(task.get("n", 0)), []
        for media in body.get("data", []):
            if not isinstance(media, dict) or not media.get("id"):
                continue
            if seen >= self.media_count:
                page = None
                break
            seen += 1
            if media.get("comments_count") == 0:
                continue
            step = {"t": "comments", "id": str(media["id"]), "media": str(media["id"])}
            follow.append(step | about(media))
        if seen >= self.media_count:
            page = None
        return [], follow, (page | {"n": seen}) if page else None

    def comments_task(self, task):
        """A page of a media's top-level comments (with inline replies) or of one's replies."""
        if task["t"] == "comments":
            fields_ = f"{COMMENT_FIELDS},replies{{{COMMENT_FIELDS}}}"
            path = self.path(task["id"], "comments")
        else:
            fields_, path = COMMENT_FIELDS, self.path(task["id"], "replies")
        body, page = self.fetch(path, {"fields": fields_, "limit": self.limit}, task)
        items, follow = [], []
        parent = task["id"] if task["t"] == "replies" else None
        post = {k: task[k] for k in ("media", "url", "text") if task.get(k)}
        for node in body.get("data", []):
            if not isinstance(node, dict) or not node.get("id") or not node.get("timestamp"):
                continue
            items.append(self.comment(node, post, parent))
            replies = node.get("replies") if isinstance(node.get("replies"), dict) else {}
            for reply in replies.get("data", []):
                if isinstance(reply, dict) and reply.get("id") and reply.get("timestamp"):
                    items.append(self.comment(reply, post, node["id"]))
            more = next_page(replies) if replies else None
            if more:
                follow.append({"t": "replies", "id": str(node["id"])} | post | more)
        return items, follow, page

    def tags_task(self, task, wm):
        params = {"fields": TAG_FIELDS, "limit": self.limit}
        body, page = self.fetch(self.path(self.ig_user_id, "tags"), params, task)
        items = [
            NormalizedItem(
                external_id=str(media["id"]),
                kind="mention",
                author=by_username(media.get("username")),
                created_at=parse_time(media["timestamp"]),
                body=clip(media.get("caption")),
                thread_id=str(media["id"]),
                post_id=str(media["id"]),
                url=media.get("permalink") or None,
            )
            for media in body.get("data", [])
            if isinstance(media, dict) and media.get("id") and media.get("timestamp")
        ]
        return items, [], page if self.may_hold_new(items, wm) else None

    def comment(
        self, node: dict[str, Any], post: dict[str, str], parent: str | None
    ) -> NormalizedItem:
        """A comment under our media; `post` is what the task knows of it (media, url, text)."""
        parent = parent or node.get("parent_id") or None
        if isinstance(node.get("from"), dict) and node["from"].get("id"):
            username = node["from"].get("username") or node.get("username")
            author = who(node["from"] | {"username": username}, "")
        else:
            author = by_username(node.get("username"))
        return NormalizedItem(
            external_id=str(node["id"]),
            kind="comment",
            author=author,
            created_at=parse_time(node["timestamp"]),
            body=clip(node.get("text")),
            thread_id=str(parent or node["id"]),
            post_id=post["media"],
            parent_id=str(parent) if parent else None,
            url=post.get("url"),
            outbound=author.id in self.own_ids,
            post_text=post.get("text"),
            post_url=post.get("url"),
        )

    # -- webhooks ---------------------------------------------------------------------------

    def change_items(
        self, field: str, value: dict[str, Any], when: datetime, where: str
    ) -> list[NormalizedItem]:
        at = f"{where}.value"
        if field == "comments":
            require_keys(value, at, id=str, **{"from": dict, "media": dict})
            require_keys(value["from"], f"{at}.from", id=str)
            require_keys(value["media"], f"{at}.media", id=str)
            parent = value.get("parent_id") or None
            author = who(value["from"], "")
            return [
                NormalizedItem(
                    external_id=value["id"],
                    kind="comment",
                    author=author,
                    created_at=when,
                    body=clip(value.get("text")),
                    thread_id=str(parent or value["id"]),
                    post_id=value["media"]["id"],
                    parent_id=str(parent) if parent else None,
                    outbound=author.id in self.own_ids,
                )
            ]
        if field == "mentions":
            require_keys(value, at, media_id=str)
            comment_id = value.get("comment_id")
            if comment_id is not None and not isinstance(comment_id, str):
                require_keys(value, at, comment_id=str)
            item = self.mentioned(value["media_id"], comment_id, when)
            return [item] if item else []
        return []

    def mentioned(self, media_id: str, comment_id: str | None, when: datetime):
        """Fetch what a `mentions` notification points at (it carries ids only)."""
        if comment_id:
            spec = (
                f"mentioned_comment.comment_id({comment_id})"
                f"{{id,text,timestamp,username,media{{{MENTIONED_MEDIA_FIELDS}}}}}"
            )
            key, text_key, external = "mentioned_comment", "text", comment_id
        else:
            spec = f"mentioned_media.media_id({media_id}){{id,caption,timestamp,username}}"
            key, text_key, external = "mentioned_media", "caption", media_id
        try:
            body = self.get_json(self.path(self.ig_user_id), params={"fields": spec})
        except NotAllowed:
            log.info("Instagram mention %s is gone before it could be read", external)
            return None
        node = body.get(key) if isinstance(body, dict) else None
        if not isinstance(node, dict):
            return None
        try:
            created = parse_time(node.get("timestamp"))
        except ValueError:
            created = when
        post = about(node["media"]) if isinstance(node.get("media"), dict) else {}
        return NormalizedItem(
            external_id=external,
            kind="mention",
            author=by_username(node.get("username")),
            created_at=created,
            body=clip(node.get(text_key)),
            thread_id=media_id,
            post_id=media_id,
            post_text=post.get("text"),
            post_url=post.get("url"),
        )

    # -- write ------------------------------------------------------------------------------

    def reply(self, target: Target, text: str) -> str:
        self.require("reply")
        if not text.strip():
            raise NotAllowed("An empty reply cannot be sent.")
        if target.kind == "dm":
            if target.post_id:
                return self.private_reply(target, text)
            return self.send_message(target, text)
        if target.kind == "mention":
            media = target.post_id or target.external_id
            data = {"media_id": media, "message": text}
            if target.external_id != media:
                data["comment_id"] = target.external_id
            response = self.call("POST", self.path(self.ig_user_id, "mentions"), data=data)
        elif target.kind == "comment":
            node = target.thread_id or target.external_id
            response = self.call("POST", self.path(node, "replies"), data={"message": text})
        else:
            raise NotAllowed(f"Instagram cannot answer an item of kind {target.kind}.")
        answer = self.json_of(response)
        if not isinstance(answer, dict) or not answer.get("id"):
            raise Transient("Instagram accepted the reply without giving its id")
        return str(answer["id"])

    def moderate(self, target: Target, action: str) -> None:
        self.require(action)
        if target.kind == "dm":
            raise NotAllowed("Instagram messages cannot be hidden or deleted from the inbox.")
        if target.kind != "comment":
            raise NotAllowed(
                "This is on another account's post: Instagram only lets you hide or delete "
                "comments on your own posts."
            )
        node = target.external_id
        if action in ("hide", "unhide"):
            flag = "true" if action == "hide" else "false"
            response = self.call("POST", self.path(node), data={"hide": flag})
        else:
            response = self.call("DELETE", self.path(node))
        answer = self.json_of(response)
        if isinstance(answer, dict) and answer.get("success") is False:
            raise NotAllowed(f"Instagram did not {action} this comment.")


def about(media: dict[str, Any]) -> dict[str, str]:
    """What comments keep of the media they answer: its caption and permalink, when present."""
    found = {"text": post_excerpt(media.get("caption")), "url": web_link(media.get("permalink"))}
    return {key: value for key, value in found.items() if value}
