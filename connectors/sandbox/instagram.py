"""An Instagram professional account on the Graph API: media, comments, mentions, DMs, webhooks.

Nodes served (platform-apis.md §3), Instagram API with Facebook Login (a linked Page owns the
DMs; the Instagram Login paths on the account node work too): the account
(`?fields=id,username`, `mentioned_comment.comment_id(..){..}`, `mentioned_media.media_id(..)
{..}`, `/media`, `/tags`, `POST /mentions`, `/conversations?platform=instagram`, `/messages`),
media (`/comments` top-level with `replies{...}` inline, `POST /comments`), comments
(`/replies`, `POST /replies`, `POST ?hide=`, `DELETE`); a comment's `media` field expands like
Graph's (`media{caption,permalink}`, else `{id}`). Lists are newest first with cursor
paging. Rate limits answer error 80002 with `X-Business-Use-Case-Usage`; expired tokens 190/463.
Instagram has no like endpoint for comments: `/likes` is an unknown path here, as there.

Traffic: five media of the brand exist from the start; `add_inbound` adds comments, replies
under people's comments, media of other accounts that tag the brand (pulled from `/tags` as
mentions) and DMs. Webhook deliveries are `object=instagram` with `comments` and `mentions`
changes (a mention is a comment on another account's post naming @maisonlumiere, fetched back
through `mentioned_comment`) and `messaging[]` events, signed with the app secret.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

from connectors import demo
from connectors.sandbox.meta import (
    Field,
    GraphError,
    GraphSimulator,
    fmt,
    key_of,
    not_found,
    parse_fields,
    pick,
    sign_body,
    unknown_path,
)
from connectors.sandbox.traffic import Person

IG_USER_ID = "17841400008460056"
PAGE_ID = "104857600654321"
USERNAME = "maisonlumiere"
MEDIA_BASE = 17846368219900000
COMMENT_BASE = 17858154961900000
OTHER_MEDIA_BASE = 18172143295300000
USER_BASE = 6254927380000000
MEDIA = [
    (5 * 86400, "Le trench Odéon, version camel 🧥 #maisonlumiere #automne"),
    (3 * 86400, "Atelier day in Paris ✂️ Every piece is cut and finished by hand."),
    (2 * 86400, "Soldes -30 % dès demain 10 h, en ligne et en boutique ✨"),
    (30 * 3600, "New in: the Iris scarf in six colours. Which one is yours?"),
    (8 * 3600, "Concours 🎁 Taguez une amie pour gagner le sac Céleste !"),
]
KIND_WEIGHTS = {"comment": 40, "reply": 15, "mention": 10, "dm": 35}
TAG_CAPTIONS = {
    "fr": [
        "Ma tenue du jour avec {product} de @maisonlumiere 💛",
        "Déballage de ma commande @maisonlumiere 📦",
        "Balade du dimanche avec {product} @maisonlumiere",
    ],
    "en": [
        "OOTD feat. the {product} from @maisonlumiere",
        "Sunday stroll in my new @maisonlumiere {product}",
    ],
}


def shortcode(number: int) -> str:
    return base64.urlsafe_b64encode(hashlib.sha1(str(number).encode()).digest()).decode()[:11]


class InstagramSimulator(GraphSimulator):
    type = "instagram"
    platform = "instagram"
    throttle_code = 80002
    throttle_type = "instagram"
    throttle_message = (
        "(#80002) There have been too many calls to this Instagram account. Wait a bit and "
        "try again. For more info, please refer to "
        "https://developers.facebook.com/docs/graph-api/overview/rate-limiting."
    )

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.media: dict[str, dict[str, Any]] = {}
        self.others: dict[str, dict[str, Any]] = {}  # other accounts' media naming us
        self.mentioned: dict[str, dict[str, Any]] = {}  # comments on others' media naming us
        now = self.now()
        for age, caption in MEDIA:
            self.add_media(caption, now - age)

    # -- identities ------------------------------------------------------------------------------

    @property
    def account_id(self) -> str:
        return IG_USER_ID

    @property
    def inbox_nodes(self) -> set[str]:
        return {PAGE_ID, IG_USER_ID}

    def own_party(self) -> dict[str, Any]:
        return {"id": IG_USER_ID, "username": USERNAME}

    def party(self, person: Person) -> dict[str, Any]:
        return {"id": str(USER_BASE + int(person.id)), "username": person.handle}

    def message_id(self) -> str:
        raw = f"ig_item:1:IGMessage:{IG_USER_ID}:{self.next_seq()}".encode()
        return "aWdf" + base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")

    def conversation_id(self) -> str:
        raw = f"ig:1:IGMessageThread:{IG_USER_ID}:{self.next_seq()}".encode()
        return "aWdf" + base64.urlsafe_b64encode(hashlib.sha1(raw).digest()).decode().rstrip("=")

    def channel_config(self) -> dict[str, Any]:
        return super().channel_config() | {"ig_user_id": IG_USER_ID, "page_id": PAGE_ID}

    # -- state ---------------------------------------------------------------------------------

    def add_media(self, caption: str, created: int) -> dict[str, Any]:
        seq = self.next_seq()
        media = {
            "id": str(MEDIA_BASE + seq),
            "caption": caption,
            "created": created,
            "seq": seq,
            "permalink": f"https://www.instagram.com/p/{shortcode(MEDIA_BASE + seq)}/",
            "deleted": False,
        }
        self.media[media["id"]] = media
        return media

    def add_comment(
        self,
        media: dict[str, Any],
        text: str,
        created: int,
        *,
        person: Person | None = None,
        parent: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        seq = self.next_seq()
        comment = {
            "id": str(COMMENT_BASE + seq),
            "media_id": media["id"],
            "parent_id": parent["id"] if parent else None,
            "text": text,
            "created": created,
            "seq": seq,
            "from": self.party(person) if person else self.own_party(),
            "person": person,
            "hidden": False,
            "deleted": False,
            "private_replied": False,
        }
        self.comments[comment["id"]] = comment
        return comment

    def add_tag(self, created: int) -> dict[str, Any]:
        """Another account posts a photo tagging the brand."""
        rng = self.traffic.rng
        person = self.traffic.person()
        caption = self.traffic.message(author=person, tone="praise").text
        product = rng.choice(demo.PRODUCTS)[0 if person.lang == "fr" else 1]
        seq = self.next_seq()
        number = OTHER_MEDIA_BASE + seq
        media = {
            "id": str(number),
            "caption": rng.choice(TAG_CAPTIONS[person.lang]).format(product=product)
            + " "
            + caption,
            "created": created,
            "seq": seq,
            "username": person.handle,
            "permalink": f"https://www.instagram.com/p/{shortcode(number)}/",
            "tagged": True,
        }
        self.others[media["id"]] = media
        return media

    def add_mention(self, created: int) -> dict[str, Any]:
        """Someone names @maisonlumiere in a comment under another account's post."""
        media = self.add_tag(created)
        media["tagged"] = False  # a post of theirs we are not tagged in
        msg = self.traffic.message(tone=self.traffic.rng.choice(["question", "praise"]))
        seq = self.next_seq()
        comment = {
            "id": str(COMMENT_BASE + seq),
            "media_id": media["id"],
            "text": f"@{USERNAME} {msg.text}",
            "created": created,
            "seq": seq,
            "username": msg.author.handle,
        }
        self.mentioned[comment["id"]] = comment
        return comment

    def inbound(self, age: float = 0, *, push: bool = False) -> tuple[str, dict[str, Any]]:
        """One person writes to the brand: a comment, a reply, a mention or a DM."""
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
        if kind == "mention":
            return kind, (self.add_mention(created) if push else self.add_tag(created))
        if kind == "reply":
            parent = rng.choice(threads)
            msg = self.traffic.message(tone="reply")
            media = self.media[parent["media_id"]]
            return kind, self.add_comment(
                media, msg.text, created, person=msg.author, parent=parent
            )
        recent = [m for m in self.media.values() if not m["deleted"]]
        media = rng.choices(recent, [i + 1 for i in range(len(recent))])[0]
        msg = self.traffic.message()
        return kind, self.add_comment(media, msg.text, created, person=msg.author)

    def add_inbound(self, count: int = 1) -> list[str]:
        with self.lock:
            return [self.inbound()[1]["id"] for _ in range(count)]

    def add_dm(self, *, age: float = 0) -> dict[str, Any]:
        """A person (never a bot) sends a DM, `age` seconds ago."""
        with self.lock:
            return self.new_dm(age=age, person=self.traffic.person())

    # -- webhooks --------------------------------------------------------------------------------

    def webhook_delivery(
        self, count: int = 1, *, age: float = 0, secret: str | None = None
    ) -> tuple[dict[str, str], bytes, list[str]]:
        with self.lock:
            events = [self.inbound(age, push=True) for _ in range(count)]
            when = int(self.now() - age)
            changes, entries = [], []
            for kind, obj in events:
                if kind == "dm":
                    entries.append(
                        {
                            "id": IG_USER_ID,
                            "time": when * 1000,
                            "messaging": [self.messaging_event(obj)],
                        }
                    )
                elif kind == "mention":
                    value = {"media_id": obj["media_id"], "comment_id": obj["id"]}
                    changes.append({"field": "mentions", "value": value})
                else:
                    value = {
                        "from": obj["from"],
                        "media": {"id": obj["media_id"], "media_product_type": "FEED"},
                        "id": obj["id"],
                        "text": obj["text"],
                    }
                    if obj["parent_id"]:
                        value["parent_id"] = obj["parent_id"]
                    changes.append({"field": "comments", "value": value})
            if changes:
                entries.insert(0, {"id": IG_USER_ID, "time": when, "changes": changes})
            body = self.body_of({"object": "instagram", "entry": entries})
        return sign_body(secret or self.secret, body), body, [obj["id"] for _, obj in events]

    # -- rendering -------------------------------------------------------------------------------

    def visible(self, **match: Any) -> list[dict[str, Any]]:
        found = [
            c
            for c in self.comments.values()
            if not c["deleted"] and all(c[k] == v for k, v in match.items())
        ]
        return sorted(found, key=key_of, reverse=True)

    def render_comment(self, comment: dict[str, Any]) -> dict[str, Any]:
        full = {
            "id": comment["id"],
            "text": comment["text"],
            "timestamp": fmt(comment["created"]),
            "username": comment["from"]["username"],
            "from": comment["from"],
            "parent_id": comment["parent_id"],
            "hidden": comment["hidden"],
            "like_count": 0,
            "media": self.media_node(self.media[comment["media_id"]]),
            "replies": None,
        }
        if comment["parent_id"] is None:
            full["replies"] = self.edge_of(
                f"{comment['id']}/replies",
                lambda: self.visible(parent_id=comment["id"]),
                self.render_comment,
                "IGComment",
            )
        return full

    def media_node(self, media: dict[str, Any]) -> Callable[[Field], dict[str, Any]]:
        """A comment's `media` field: `{id}`, or the media fields asked as `media{...}`."""
        return lambda f: pick(self.render_media(media), f.sub or [Field("id")], "IGMedia")

    def render_media(self, media: dict[str, Any]) -> dict[str, Any]:
        count = len([c for c in self.comments.values() if c["media_id"] == media["id"]])
        return {
            "id": media["id"],
            "caption": media["caption"],
            "timestamp": fmt(media["created"]),
            "permalink": media["permalink"],
            "media_type": "IMAGE",
            "media_product_type": "FEED",
            "media_url": f"https://scontent.cdninstagram.com/v/{media['id']}.jpg",
            "comments_count": count,
            "like_count": 40 + media["seq"] % 300,
            "username": media.get("username", USERNAME),
        }

    # -- Graph calls -----------------------------------------------------------------------------

    def handle(self, method: str, node: str, edge: str | None, params: dict[str, Any]) -> Any:
        answer = self.handle_messaging(method, node, edge, params)
        if answer is not None:
            return answer
        if node == IG_USER_ID:
            return self.account_call(method, edge, params)
        if node == PAGE_ID and edge is None and method == "GET":
            page = {
                "id": PAGE_ID,
                "name": "Maison Lumière",
                "instagram_business_account": {"id": IG_USER_ID},
            }
            return pick(page, parse_fields(params.get("fields"), "id,name"), "Page")
        if node in self.media and not self.media[node]["deleted"]:
            return self.media_call(method, node, edge, params)
        comment = self.comments.get(node)
        if comment is None or comment["deleted"]:
            raise not_found(node, method)
        if edge is None:
            if method == "GET":
                wanted = parse_fields(params.get("fields"), "id,text,timestamp")
                return pick(self.render_comment(comment), wanted, "IGComment")
            if method == "DELETE":
                comment["deleted"] = True
                return {"success": True}
            if "hide" in params:
                comment["hidden"] = str(params["hide"]).lower() in ("true", "1")
                return {"success": True}
            raise GraphError("(#100) No valid parameters were given to update the object", 100)
        if edge == "replies":
            if method == "GET":
                wanted = parse_fields(params.get("fields"), "id,text,timestamp")
                return self.paged(
                    self.visible(parent_id=node),
                    render=lambda c: pick(self.render_comment(c), wanted, "IGComment"),
                    path=f"{node}/replies",
                    query=self.list_query(params),
                    limit=self.limit_of(params.get("limit")),
                    after=params.get("after"),
                )
            if method == "POST":
                top = self.comments[comment["parent_id"]] if comment["parent_id"] else comment
                media = self.media[comment["media_id"]]
                reply = self.add_comment(media, self.required_text(params), self.now(), parent=top)
                return {"id": reply["id"]}
        raise unknown_path(edge)

    @staticmethod
    def required_text(params: dict[str, Any]) -> str:
        text = str(params.get("message") or "").strip()
        if not text:
            raise GraphError("(#100) The parameter message is required", 100)
        return text

    def account_call(self, method: str, edge: str | None, params: dict[str, Any]) -> Any:
        if edge is None and method == "GET":
            account = {
                "id": IG_USER_ID,
                "username": USERNAME,
                "name": "Maison Lumière",
                "followers_count": 48210,
                "media_count": len(self.media),
                "mentioned_comment": self.mentioned_comment,
                "mentioned_media": self.mentioned_media,
            }
            return pick(account, parse_fields(params.get("fields"), "id,username"), "IGUser")
        if edge == "media" and method == "GET":
            media = sorted(
                (m for m in self.media.values() if not m["deleted"]), key=key_of, reverse=True
            )
            wanted = parse_fields(params.get("fields"), "id")
            return self.paged(
                media,
                render=lambda m: pick(self.render_media(m), wanted, "IGMedia"),
                path=f"{IG_USER_ID}/media",
                query=self.list_query(params),
                limit=self.limit_of(params.get("limit")),
                after=params.get("after"),
            )
        if edge == "tags" and method == "GET":
            tagged = sorted(
                (m for m in self.others.values() if m["tagged"]), key=key_of, reverse=True
            )
            wanted = parse_fields(params.get("fields"), "id")
            return self.paged(
                tagged,
                render=lambda m: pick(self.render_media(m), wanted, "IGMedia"),
                path=f"{IG_USER_ID}/tags",
                query=self.list_query(params),
                limit=self.limit_of(params.get("limit")),
                after=params.get("after"),
            )
        if edge == "mentions" and method == "POST":
            media_id = str(params.get("media_id") or "")
            if media_id not in self.others:
                raise not_found(media_id, "POST")
            comment_id = params.get("comment_id")
            if comment_id and str(comment_id) not in self.mentioned:
                raise not_found(str(comment_id), "POST")
            text = self.required_text(params)
            seq = self.next_seq()
            reply = {
                "id": str(COMMENT_BASE + seq),
                "media_id": media_id,
                "text": text,
                "created": self.now(),
                "seq": seq,
                "username": USERNAME,
                "reply_to": comment_id,
            }
            self.mentioned[reply["id"]] = reply
            return {"id": reply["id"]}
        raise unknown_path(edge or "")

    def media_call(self, method: str, node: str, edge: str | None, params: dict[str, Any]) -> Any:
        media = self.media[node]
        if edge is None and method == "GET":
            wanted = parse_fields(params.get("fields"), "id")
            return pick(self.render_media(media), wanted, "IGMedia")
        if edge == "comments" and method == "GET":
            wanted = parse_fields(params.get("fields"), "id,text,timestamp")
            return self.paged(
                self.visible(media_id=node, parent_id=None),
                render=lambda c: pick(self.render_comment(c), wanted, "IGComment"),
                path=f"{node}/comments",
                query=self.list_query(params),
                limit=self.limit_of(params.get("limit")),
                after=params.get("after"),
            )
        if edge == "comments" and method == "POST":
            comment = self.add_comment(media, self.required_text(params), self.now())
            return {"id": comment["id"]}
        raise unknown_path(edge or "")

    def mentioned_comment(self, f: Field) -> dict[str, Any]:
        found = self.mentioned.get(f.args.get("comment_id", ""))
        if found is None:
            raise GraphError("(#100) The comment does not mention this account", 100, subcode=33)
        full = {
            "id": found["id"],
            "text": found["text"],
            "timestamp": fmt(found["created"]),
            "username": found["username"],
            "like_count": 0,
            "media": self.media_node(self.others[found["media_id"]]),
        }
        return pick(full, f.sub or [Field("id")], "IGComment")

    def mentioned_media(self, f: Field) -> dict[str, Any]:
        found = self.others.get(f.args.get("media_id", ""))
        if found is None:
            raise GraphError("(#100) The media does not mention this account", 100, subcode=33)
        return pick(self.render_media(found), f.sub or [Field("id")], "IGMedia")
