"""Facebook Pages: comments, visitor posts and Messenger, polled and pushed (Graph API).

Shared Graph behaviour (auth, errors, paging, the sync queue, Send API, webhook checks) lives in
`connectors.meta`; this module says what a Page is made of. Contract: platform-apis.md §2.

Pull, one Graph call per `pull`:

1. `GET /{page-id}/feed?since=<now - post_days>` — page posts and visitor posts, newest first,
   followed through the feed's time-based `next` links. [V]
   *Visitor posts* (written on the Page by someone else) are items of kind `comment` that are
   their own thread (`thread_id = post_id = external_id = the post id`): a person addressing the
   brand in public, answered with a comment and moderated like one. Comments under a visitor
   post follow the ordinary comment rule below, so pushed and pulled items thread the same way
   (a webhook cannot tell a visitor post from a Page post).
   Every post whose `updated_time` is not older than the watermark gets its comments read;
   Graph bumps `updated_time` when someone comments [U: from memory of the Page Post reference].
2. `GET /{post-id}/comments?filter=stream&order=reverse_chronological&since=<watermark - 1 s>`
   — every comment and reply, flat; `parent{id}` marks a reply. A comment's thread is its
   top-level comment (`parent.id`, else its own id), `post_id` the post. The Page's own comments
   are outbound echoes. The one-second overlap plus the watermark's boundary ids make the result
   exact whether Graph reads `since` as inclusive or exclusive. [V] edge and params, [P] `since`.
   Each comment carries the post it answers (`post_text` = the post's `message`, `post_url` =
   its `permalink_url`), read from the feed call of step 1 and kept in the comments task: no
   call of its own.
3. `GET /{page-id}/conversations?platform=messenger&fields=id,updated_time,messages{...}` and,
   for long conversations, `GET /{conversation-id}/messages` — kind `dm`, thread = the
   conversation id, the Page's own messages are outbound echoes. [V] edges, [P] ordering.

Push (`object=page`): `entry[].changes[]` with `field=feed` (`item=comment` → comment; `item`
status/post/photo/video by someone else → visitor post; verbs `add` and `edited`; removals,
hides and reactions are ignored) and `entry[].messaging[]` for Messenger (see `connectors.meta`).
A pushed comment gets the `post.permalink_url` the change value carries as its `post_url`; the
value has no post text, so `post_text` waits for none (no call is made while parsing).
The Page `mention` field (the Page tagged elsewhere) is not handled.

Write:
- reply to a comment or visitor post: `POST /{thread-id}/comments` `message=` (the top-level
  comment, so a reply always lands in the ticket's thread);
- reply to a `dm`: Messenger Send API `POST /{page-id}/messages` with `recipient.id` (the
  person's PSID), `messaging_type: RESPONSE`, refused with `NotAllowed` outside the 24-hour
  standard window (or the 7-day `HUMAN_AGENT` window when `human_agent` is on);
- **private reply**: a `Target` of kind `dm` that points at a *comment* (its `post_id` is set,
  its `external_id` is the comment id) is answered in Messenger with
  `recipient: {"comment_id": ...}` — one message per comment, within 7 days;
- hide / unhide: `POST /{id}` `is_hidden=true|false`; delete: `DELETE /{id}`;
  like (as the Page): `POST /{id}/likes`. Messenger messages cannot be moderated.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from marshmallow import fields, validate

from connectors import register
from connectors.base import NormalizedItem, NotAllowed, Target, Transient
from connectors.meta import (
    GraphConfig,
    GraphConnector,
    GraphId,
    clip,
    epoch,
    parse_time,
    require_keys,
    who,
)
from connectors.text import post_excerpt, web_link

POST_ITEMS = ("status", "post", "photo", "video")
COMMENT_FIELDS = "id,message,created_time,from{id,name},parent{id},permalink_url"
POST_FIELDS = "id,message,created_time,updated_time,from{id,name},permalink_url"


class FacebookConfig(GraphConfig):
    page_id = GraphId("Page", required=True, metadata={"description": "the Facebook Page id"})
    post_days = fields.Integer(
        load_default=30,
        validate=validate.Range(1, 365),
        metadata={"description": "posts younger than this many days are polled for comments"},
    )


@register
class FacebookConnector(GraphConnector):
    type = "facebook"
    label = "Facebook"
    capabilities = frozenset({"reply", "hide", "unhide", "delete", "like"})
    config_schema = FacebookConfig
    webhook_object = "page"
    messaging_platform = "messenger"

    def __init__(self, config: Mapping[str, Any]):
        super().__init__(config)
        self.page_id = str(self.config["page_id"])
        self.post_days = int(self.config.get("post_days") or 30)

    @property
    def inbox_id(self) -> str:
        return self.page_id

    @property
    def own_ids(self) -> set[str]:
        return {self.page_id}

    def check(self) -> str:
        page = self.get_json(self.path(self.page_id), params={"fields": "id,name"})
        if not isinstance(page, dict) or not page.get("id"):
            raise Transient("Facebook answered the Page lookup without an id")
        return f"Connected to the Facebook Page “{page.get('name') or page['id']}” ({page['id']})"

    # -- pull ---------------------------------------------------------------------------------

    def first_tasks(self) -> list[dict[str, Any]]:
        return [{"t": "feed"}, {"t": "conversations"}]

    def run_task(self, task, wm):
        if task["t"] == "feed":
            return self.feed_task(task, wm)
        if task["t"] == "comments":
            return self.comments_task(task, wm)
        return super().run_task(task, wm)

    def feed_task(self, task, wm):
        params = {
            "fields": POST_FIELDS,
            "limit": self.limit,
            "since": int(time.time()) - self.post_days * 86400,
        }
        body, page = self.fetch(self.path(self.page_id, "feed"), params, task)
        items, follow = [], []
        for post in body.get("data", []):
            if not isinstance(post, dict) or not post.get("id") or not post.get("created_time"):
                continue
            author = who(post.get("from"), self.page_id)
            if author.id != self.page_id:
                items.append(self.visitor_post(post, author))
            active = post.get("updated_time") or post["created_time"]
            if not wm or epoch(active) >= wm["ts"]:
                follow.append({"t": "comments", "id": str(post["id"])} | about(post))
        return items, follow, page

    def comments_task(self, task, wm):
        params: dict[str, Any] = {
            "filter": "stream",
            "order": "reverse_chronological",
            "fields": COMMENT_FIELDS,
            "limit": self.limit,
        }
        if wm:
            params["since"] = wm["ts"] - 1
        body, page = self.fetch(self.path(task["id"], "comments"), params, task)
        items = [
            self.comment(c, task)
            for c in body.get("data", [])
            if isinstance(c, dict) and c.get("id") and c.get("created_time")
        ]
        return items, [], page if self.may_hold_new(items, wm) else None

    def comment(self, node: dict[str, Any], task: dict[str, Any]) -> NormalizedItem:
        """A comment read by a comments task; the task names its post and carries what it says."""
        parent = (
            (node.get("parent") or {}).get("id") if isinstance(node.get("parent"), dict) else None
        )
        author = who(node.get("from"), f"unknown-{node['id']}")
        return NormalizedItem(
            external_id=str(node["id"]),
            kind="comment",
            author=author,
            created_at=parse_time(node["created_time"]),
            body=clip(node.get("message")),
            thread_id=str(parent or node["id"]),
            post_id=task["id"],
            parent_id=str(parent) if parent else None,
            url=node.get("permalink_url") or None,
            outbound=author.id == self.page_id,
            post_text=task.get("text"),
            post_url=task.get("url"),
        )

    def visitor_post(self, post: dict[str, Any], author) -> NormalizedItem:
        return NormalizedItem(
            external_id=str(post["id"]),
            kind="comment",
            author=author,
            created_at=parse_time(post["created_time"]),
            body=clip(post.get("message")),
            thread_id=str(post["id"]),
            post_id=str(post["id"]),
            url=post.get("permalink_url") or None,
        )

    # -- webhooks ---------------------------------------------------------------------------

    def change_items(
        self, field: str, value: dict[str, Any], when: datetime, where: str
    ) -> list[NormalizedItem]:
        if field != "feed":
            return []
        at = f"{where}.value"
        require_keys(value, at, item=str, verb=str)
        if value["verb"] not in ("add", "edited") or value["item"] not in ("comment", *POST_ITEMS):
            return []
        keys: dict[str, Any] = {"post_id": str, "from": dict}
        if value["item"] == "comment":
            keys["comment_id"] = str
        require_keys(value, at, **keys)
        require_keys(value["from"], f"{at}.from", id=(str, int))
        author = who(value["from"], "")
        created = parse_time(value.get("created_time") or when)
        edited = when if value["verb"] == "edited" else None
        post_id = value["post_id"]
        if value["item"] != "comment":
            if author.id == self.page_id:
                return []  # the Page's own post: not something to answer
            return [
                NormalizedItem(
                    external_id=post_id,
                    kind="comment",
                    author=author,
                    created_at=created,
                    body=clip(value.get("message")),
                    thread_id=post_id,
                    post_id=post_id,
                    edited_at=edited,
                )
            ]
        parent = value.get("parent_id")
        top = not parent or parent == post_id
        post = value.get("post") if isinstance(value.get("post"), dict) else {}
        return [
            NormalizedItem(
                external_id=value["comment_id"],
                kind="comment",
                author=author,
                created_at=created,
                body=clip(value.get("message")),
                thread_id=value["comment_id"] if top else str(parent),
                post_id=post_id,
                parent_id=None if top else str(parent),
                edited_at=edited,
                outbound=author.id == self.page_id,
                post_url=web_link(post.get("permalink_url")),
            )
        ]

    # -- write ------------------------------------------------------------------------------

    def reply(self, target: Target, text: str) -> str:
        self.require("reply")
        if not text.strip():
            raise NotAllowed("An empty reply cannot be sent.")
        if target.kind == "dm":
            if target.post_id:
                return self.private_reply(target, text)
            return self.send_message(target, text)
        if target.kind not in ("comment", "mention"):
            raise NotAllowed(f"Facebook cannot answer an item of kind {target.kind}.")
        node = target.thread_id or target.external_id
        answer = self.json_of(
            self.call("POST", self.path(node, "comments"), data={"message": text})
        )
        if not isinstance(answer, dict) or not answer.get("id"):
            raise Transient("Facebook accepted the comment without giving its id")
        return str(answer["id"])

    def moderate(self, target: Target, action: str) -> None:
        self.require(action)
        if target.kind == "dm":
            raise NotAllowed(
                "Messenger messages cannot be hidden, deleted or liked; only comments and "
                "visitor posts can."
            )
        node = target.external_id
        if action in ("hide", "unhide"):
            flag = "true" if action == "hide" else "false"
            response = self.call("POST", self.path(node), data={"is_hidden": flag})
        elif action == "delete":
            response = self.call("DELETE", self.path(node))
        else:
            response = self.call("POST", self.path(node, "likes"))
        answer = self.json_of(response)
        if isinstance(answer, dict) and answer.get("success") is False:
            raise NotAllowed(f"Facebook did not {action} this item.")


def about(post: dict[str, Any]) -> dict[str, str]:
    """What a comments task keeps of its post for the comments: text and link, when present."""
    found = {"text": post_excerpt(post.get("message")), "url": web_link(post.get("permalink_url"))}
    return {key: value for key, value in found.items() if value}
