"""A Facebook Page on the Graph API: posts, comments, visitor posts, Messenger, webhooks.

Nodes served (platform-apis.md §2): the Page (`?fields=id,name`, `/feed` with `since`/`until`
and time-based `next` links carrying `__paging_token`, `/conversations`, `/messages`), posts and
comments (`?fields=`, `/comments` with `filter=stream|toplevel`, `order`, `since`, cursor paging;
`POST /comments`, `POST ?is_hidden=`, `DELETE`, `POST /likes`), conversations
(`/messages`). Ids look like Graph's: posts `{page-id}_{n}`, comments `{post-n}_{n}`,
conversations `t_{n}`, messages `m_…`. Rate limits answer error 80001 with
`X-Business-Use-Case-Usage`; expired tokens error 190/463.

Traffic: four Page posts (French and English) exist from the start; `add_inbound` adds comments
on them, replies under people's comments, visitor posts and Messenger messages (new chats and
follow-ups), spam from the bots included. Webhook deliveries are `object=page` with `feed`
changes (`item=comment` or `item=status`) and one `messaging[]` event per entry, signed with the
app secret.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from connectors.sandbox.meta import (
    GraphError,
    GraphSimulator,
    decode_cursor,
    encode_cursor,
    fmt,
    key_of,
    not_found,
    parse_fields,
    pick,
    sign_body,
    unknown_path,
)
from connectors.sandbox.traffic import Person

PAGE_ID = "104857600123456"
PAGE_NAME = "Maison Lumière"
POST_BASE = 2954961744700000
COMMENT_BASE = 2966313500250000
CONVERSATION_BASE = 587956915300000
USER_BASE = 2711636948800000
PAGE_POSTS = [
    (4 * 86400, "Nouvelle collection automne : le trench Odéon revient en trois couleurs 🍂"),
    (2 * 86400, "Les soldes commencent demain à 10 h, en boutique et en ligne !"),
    (26 * 3600, "Behind the scenes at our Paris atelier ✨ Which piece should we make next?"),
    (
        6 * 3600,
        "Concours 🎁 Gagnez la robe Capucine de votre choix : dites-nous en commentaire "
        "votre couleur préférée !",
    ),
]
KIND_WEIGHTS = {"comment": 40, "reply": 15, "visitor": 10, "dm": 35}


def truthy(value: Any) -> bool:
    return str(value).lower() in ("true", "1")


class FacebookSimulator(GraphSimulator):
    type = "facebook"
    platform = "messenger"
    throttle_code = 80001
    throttle_type = "pages"
    throttle_message = (
        "(#80001) There have been too many calls to this Page account. Wait a bit and try "
        "again. For more info, please refer to "
        "https://developers.facebook.com/docs/graph-api/overview/rate-limiting."
    )

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.posts: dict[str, dict[str, Any]] = {}
        now = self.now()
        for age, text in PAGE_POSTS:
            self.add_post(text, now - age)

    # -- identities ------------------------------------------------------------------------------

    @property
    def account_id(self) -> str:
        return PAGE_ID

    @property
    def inbox_nodes(self) -> set[str]:
        return {PAGE_ID}

    def own_party(self) -> dict[str, Any]:
        return {"id": PAGE_ID, "name": PAGE_NAME, "email": f"{PAGE_ID}@facebook.com"}

    def party(self, person: Person) -> dict[str, Any]:
        user_id = str(USER_BASE + int(person.id))
        return {"id": user_id, "name": person.name, "email": f"{user_id}@facebook.com"}

    @staticmethod
    def author(party: dict[str, Any]) -> dict[str, Any]:
        return {"id": party["id"], "name": party["name"]}

    def message_id(self) -> str:
        digest = hashlib.sha256(f"fb-message-{self.next_seq()}".encode()).digest()
        return "m_" + base64.urlsafe_b64encode(digest[:48]).decode().rstrip("=")

    def conversation_id(self) -> str:
        return f"t_{CONVERSATION_BASE + self.next_seq()}"

    def channel_config(self) -> dict[str, Any]:
        return super().channel_config() | {"page_id": PAGE_ID}

    # -- state ---------------------------------------------------------------------------------

    def add_post(self, text: str, created: int, person: Person | None = None) -> dict[str, Any]:
        seq = self.next_seq()
        number = POST_BASE + seq
        party = self.party(person) if person else self.own_party()
        post = {
            "id": f"{PAGE_ID}_{number}",
            "number": number,
            "message": text,
            "created": created,
            "updated": created,
            "seq": seq,
            "from": self.author(party),
            "person": person,
            "hidden": False,
            "deleted": False,
            "likes": set(),
        }
        self.posts[post["id"]] = post
        return post

    def add_comment(
        self,
        post: dict[str, Any],
        text: str,
        created: int,
        *,
        person: Person | None = None,
        parent: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        seq = self.next_seq()
        number = COMMENT_BASE + seq
        party = self.party(person) if person else self.own_party()
        comment = {
            "id": f"{post['number']}_{number}",
            "number": number,
            "post_id": post["id"],
            "parent_id": parent["id"] if parent else None,
            "message": text,
            "created": created,
            "seq": seq,
            "from": self.author(party),
            "person": person,
            "hidden": False,
            "deleted": False,
            "likes": set(),
            "private_replied": False,
        }
        self.comments[comment["id"]] = comment
        post["updated"] = max(post["updated"], created)
        return comment

    def inbound(self, age: float = 0) -> tuple[str, dict[str, Any]]:
        """One person writes to the Page: a comment, a reply, a visitor post or a DM."""
        rng = self.traffic.rng
        created = int(self.now() - age)
        kind = rng.choices(list(KIND_WEIGHTS), list(KIND_WEIGHTS.values()))[0]
        threads = [
            c
            for c in self.comments.values()
            if c["parent_id"] is None and c["person"] and not c["deleted"]
        ]
        if kind == "reply" and not threads:
            kind = "comment"
        if kind == "dm":
            return kind, self.new_dm(age=age)
        if kind == "visitor":
            msg = self.traffic.message(tone=rng.choice(["question", "complaint", "praise"]))
            return kind, self.add_post(msg.text, created, msg.author)
        if kind == "reply":
            parent = rng.choice(threads)
            msg = self.traffic.message(tone="reply")
            post = self.posts[parent["post_id"]]
            return kind, self.add_comment(post, msg.text, created, person=msg.author, parent=parent)
        page_posts = [p for p in self.posts.values() if p["person"] is None and not p["deleted"]]
        post = rng.choices(page_posts, [i + 1 for i in range(len(page_posts))])[0]
        msg = self.traffic.message()
        return kind, self.add_comment(post, msg.text, created, person=msg.author)

    def add_inbound(self, count: int = 1) -> list[str]:
        with self.lock:
            return [self.inbound()[1]["id"] for _ in range(count)]

    def add_dm(self, *, age: float = 0) -> dict[str, Any]:
        """A person (never a bot) writes a new Messenger message, `age` seconds ago."""
        with self.lock:
            person = self.traffic.person()
            return self.new_dm(age=age, person=person)

    # -- webhooks --------------------------------------------------------------------------------

    def webhook_delivery(
        self, count: int = 1, *, age: float = 0, secret: str | None = None
    ) -> tuple[dict[str, str], bytes, list[str]]:
        with self.lock:
            events = [self.inbound(age) for _ in range(count)]
            when = int(self.now() - age)
            changes, entries = [], []
            for kind, obj in events:
                if kind == "dm":
                    entries.append(
                        {
                            "id": PAGE_ID,
                            "time": when * 1000,
                            "messaging": [self.messaging_event(obj)],
                        }
                    )
                else:
                    changes.append({"field": "feed", "value": self.feed_value(kind, obj)})
            if changes:
                entries.insert(0, {"id": PAGE_ID, "time": when, "changes": changes})
            body = self.body_of({"object": "page", "entry": entries})
        return sign_body(secret or self.secret, body), body, [obj["id"] for _, obj in events]

    def feed_value(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        if kind == "visitor":
            return {
                "from": obj["from"],
                "message": obj["message"],
                "post_id": obj["id"],
                "created_time": obj["created"],
                "item": "status",
                "published": 1,
                "verb": "add",
            }
        post = self.posts[obj["post_id"]]
        return {
            "from": obj["from"],
            "post": {
                "id": post["id"],
                "status_type": "mobile_status_update",
                "is_published": True,
                "updated_time": fmt(post["updated"]),
                "permalink_url": self.permalink(post),
                "promotion_status": "inactive",
            },
            "message": obj["message"],
            "post_id": post["id"],
            "comment_id": obj["id"],
            "created_time": obj["created"],
            "item": "comment",
            "parent_id": obj["parent_id"] or post["id"],
            "verb": "add",
        }

    # -- rendering -------------------------------------------------------------------------------

    @staticmethod
    def permalink(post: dict[str, Any], comment: dict[str, Any] | None = None) -> str:
        link = f"https://www.facebook.com/{PAGE_ID}/posts/{post['number']}/"
        return f"{link}?comment_id={comment['number']}" if comment else link

    def render_post(self, post: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": post["id"],
            "message": post["message"],
            "created_time": fmt(post["created"]),
            "updated_time": fmt(post["updated"]),
            "from": post["from"],
            "permalink_url": self.permalink(post),
            "is_hidden": post["hidden"],
            "status_type": "mobile_status_update",
        }

    def render_comment(self, comment: dict[str, Any]) -> dict[str, Any]:
        ours = comment["person"] is None
        replies = [
            c
            for c in self.comments.values()
            if c["parent_id"] == comment["id"] and not c["deleted"]
        ]
        return {
            "id": comment["id"],
            "message": comment["message"],
            "created_time": fmt(comment["created"]),
            "from": comment["from"],
            "parent": {"id": comment["parent_id"]} if comment["parent_id"] else None,
            "permalink_url": self.permalink(self.posts[comment["post_id"]], comment),
            "is_hidden": comment["hidden"],
            "can_hide": not ours,
            "can_remove": True,
            "can_like": True,
            "can_comment": True,
            "can_reply_privately": not ours and not comment["private_replied"],
            "like_count": len(comment["likes"]),
            "comment_count": len(replies),
            "user_likes": PAGE_ID in comment["likes"],
        }

    # -- Graph calls -----------------------------------------------------------------------------

    def handle(self, method: str, node: str, edge: str | None, params: dict[str, Any]) -> Any:
        answer = self.handle_messaging(method, node, edge, params)
        if answer is not None:
            return answer
        if node == PAGE_ID:
            if edge is None and method == "GET":
                page = {"id": PAGE_ID, "name": PAGE_NAME, "username": "maisonlumiere"}
                return pick(page, parse_fields(params.get("fields"), "id,name"), "Page")
            if edge == "feed" and method == "GET":
                return self.feed(params)
            raise unknown_path(edge or "")
        post = self.posts.get(node)
        comment = self.comments.get(node)
        target = post or comment
        if target is None or target["deleted"]:
            raise not_found(node, method)
        if edge is None:
            if method == "GET":
                render = self.render_post(post) if post else self.render_comment(comment)
                default = "id,message,created_time"
                return pick(render, parse_fields(params.get("fields"), default), "Comment")
            if method == "DELETE":
                target["deleted"] = True
                return {"success": True}
            if "is_hidden" in params:
                target["hidden"] = truthy(params["is_hidden"])
                return {"success": True}
            raise GraphError("(#100) No valid parameters were given to update the object", 100)
        if edge == "comments":
            if method == "GET":
                return self.comment_list(node, post, params)
            if method == "POST":
                text = str(params.get("message") or "").strip()
                if not text:
                    raise GraphError("(#100) Missing message or attachment", 100)
                if post is None:
                    top = self.comments[comment["parent_id"]] if comment["parent_id"] else comment
                    post = self.posts[comment["post_id"]]
                else:
                    top = None
                created = self.add_comment(post, text, self.now(), parent=top)
                return {"id": created["id"]}
        if edge == "likes" and method in ("POST", "DELETE"):
            (target["likes"].add if method == "POST" else target["likes"].discard)(PAGE_ID)
            return {"success": True}
        raise unknown_path(edge)

    def feed(self, params: dict[str, Any]) -> dict[str, Any]:
        posts = sorted(
            (p for p in self.posts.values() if not p["deleted"]), key=key_of, reverse=True
        )
        if params.get("since"):
            posts = [p for p in posts if p["created"] >= int(params["since"])]
        if params.get("until"):
            posts = [p for p in posts if p["created"] <= int(params["until"])]
        token = params.get("__paging_token")
        if token:
            cut = decode_cursor(token)
            if cut is None:
                raise GraphError("(#100) Invalid paging token", 100)
            posts = [p for p in posts if key_of(p) < cut]
        limit = self.limit_of(params.get("limit"))
        wanted = parse_fields(params.get("fields"), "id,message,created_time")
        chunk = posts[:limit]
        body: dict[str, Any] = {"data": [pick(self.render_post(p), wanted, "Post") for p in chunk]}
        if chunk:
            base = self.list_query(params, "since") | {"limit": limit}
            paging = {
                "previous": self.link(
                    f"{PAGE_ID}/feed", base | {"since": chunk[0]["created"], "__previous": 1}
                )
            }
            if len(posts) > limit:
                paging["next"] = self.link(
                    f"{PAGE_ID}/feed",
                    base
                    | {
                        "until": chunk[-1]["created"],
                        "__paging_token": encode_cursor(key_of(chunk[-1])),
                    },
                )
            body["paging"] = paging
        return body

    def comment_list(
        self, node: str, post: dict[str, Any] | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        if post is not None:
            pool = [c for c in self.comments.values() if c["post_id"] == node]
            if params.get("filter", "toplevel") != "stream":
                pool = [c for c in pool if c["parent_id"] is None]
        else:
            pool = [c for c in self.comments.values() if c["parent_id"] == node]
        pool = [c for c in pool if not c["deleted"]]
        if params.get("since"):
            pool = [c for c in pool if c["created"] >= int(params["since"])]
        newest_first = params.get("order") == "reverse_chronological"
        pool.sort(key=key_of, reverse=newest_first)
        wanted = parse_fields(params.get("fields"), "id,message,created_time,from")
        return self.paged(
            pool,
            render=lambda c: pick(self.render_comment(c), wanted, "Comment"),
            path=f"{node}/comments",
            query=self.list_query(params, "filter", "order", "since"),
            limit=self.limit_of(params.get("limit")),
            after=params.get("after"),
            newest_first=newest_first,
        )
