"""X (Twitter API v2) simulator: the brand's account, its posts, and people who answer them.

State: posts (ours and other people's), DM events, hidden replies and likes. The API side answers
what the connector calls, on X's paths and with X's shapes (platform-apis.md §1):

- `GET /2/users/me`, `GET /2/users/:id/mentions`, `GET /2/users/reposts_of_me`,
  `GET /2/tweets/:id/retweets`, `GET /2/tweets/:id/quote_tweets`, `GET /2/tweets/search/recent`,
  `GET /2/dm_events`, `GET /2/tweets` and `GET /2/tweets/:id`: newest first, `max_results`
  checked against each endpoint's range (the page is also capped by `page_size`), `since_id` /
  `until_id`, opaque `pagination_token` ← `meta.next_token` (absent on the last page), `meta`
  with `result_count`, `newest_id`, `oldest_id`; `tweet.fields`, `expansions` (`author_id`,
  `referenced_tweets.id`, `referenced_tweets.id.author_id`, `sender_id`) and `user.fields`
  decide what is returned; posts that do not exist come back as `errors[]` of type
  `resource-not-found` in a 200, as X does;
- `POST /2/tweets` (reply, quote or post; 201; 403 for duplicate text or a deleted parent; 400
  for text over 280 weighted characters), `PUT /2/tweets/:id/hidden` (403 unless the post is a
  reply by someone else in a conversation the brand started), `POST /2/users/:id/likes`,
  `DELETE /2/users/:id/likes/:tweet_id`, `DELETE /2/tweets/:id` (own posts only),
  `POST /2/dm_conversations/:id/messages` and `POST /2/dm_conversations/with/:user/messages`
  (201 with `dm_conversation_id`, `dm_event_id`);
- errors as problem JSON (`application/problem+json`): 401 `Unauthorized`, 429 `Too Many
  Requests` with `x-rate-limit-limit/remaining/reset` (epoch seconds; every answer carries these
  headers), 400 `invalid-request` with `errors[].parameters`.

Pushes follow Account Activity: `webhook_delivery` returns a POST body with `for_user_id` and
`tweet_create_events` (v1.1 post objects) or `direct_message_events` (v1.1 DM events with a
`users` map), signed `x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(consumer secret,
body)>`; `validate_crc(url)` runs X's CRC against an inbox webhook URL.

Assumed where X documents no body [U]: the 403 for hiding outside the brand's threads, and 404
problems for writes that name unknown posts or conversations.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import secrets
import time
import unicodedata
from datetime import UTC, datetime
from typing import Any

import requests
from flask import Flask, Response, request

from connectors.sandbox.base import Simulator
from connectors.sandbox.traffic import PEOPLE, Person

ME_ID = "1587403398011142145"
ME_USERNAME = "maisonlumiere"
ME_NAME = "Maison Lumière"
BRAND_WORDS = "Maison Lumière"
WATCH_QUERY = '"Maison Lumière" -is:retweet'
SNOWFLAKE_EPOCH_MS = 1288834974657
PROBLEMS = "https://api.twitter.com/2/problems/"
MAX_WEIGHT = 280
RATE_WINDOW = 900
RATE_LIMIT = 300
SEARCH_DAYS = 7
KINDS = {
    "reply": 30,  # someone answers one of our posts (or our reply under it)
    "mention": 14,  # a new post that @mentions us
    "thread": 6,  # an @mention in a reply under someone else's post
    "dm": 22,
    "quote": 8,
    "bare_quote": 2,  # a quote with no words of its own
    "repost": 8,
    "watch": 10,  # our name without the @ (found by search)
}
PUSHED_KINDS = ("reply", "mention", "thread", "quote", "bare_quote", "repost")
RANGES = {  # max_results limits per endpoint
    "mentions": (5, 100),
    "search": (10, 100),
    "quote_tweets": (10, 100),
    "retweets": (1, 100),
    "reposts_of_me": (1, 100),
    "dm_events": (1, 100),
}
TWEET_FIELDS = {
    "attachments", "author_id", "card_uri", "context_annotations", "conversation_id",
    "created_at", "edit_controls", "edit_history_tweet_ids", "entities", "geo", "id",
    "in_reply_to_user_id", "lang", "non_public_metrics", "note_tweet", "organic_metrics",
    "possibly_sensitive", "promoted_metrics", "public_metrics", "referenced_tweets",
    "reply_settings", "scopes", "source", "text", "withheld",
}  # fmt: skip
FIELD_ALIASES = {  # xdk spec v2.167 names
    "referenced_posts": "referenced_tweets",
    "edit_history_post_ids": "edit_history_tweet_ids",
    "note_post": "note_tweet",
}
USER_FIELDS = {
    "created_at", "description", "id", "location", "name", "pinned_tweet_id",
    "profile_image_url", "protected", "public_metrics", "url", "username", "verified",
}  # fmt: skip
DM_FIELDS = {
    "attachments", "created_at", "dm_conversation_id", "entities", "event_type", "id",
    "participant_ids", "referenced_tweets", "sender_id", "text",
}  # fmt: skip
OUR_POSTS = [
    "Nouvelle collection hiver : le trench Odéon revient en trois coloris ✨ En boutique et sur "
    "le site Maison Lumière.",
    "The Alba jumper is back in stock in every size. Thank you for your patience!",
    "Soldes d'hiver : jusqu'à -40 % dès mercredi 8h, en ligne et dans nos boutiques.",
    "Livraison offerte ce week-end dès 80 € d'achat 🚚",
    "Meet the Céleste bag, hand-finished in our Lyon workshop. Maison Lumière, since 1987.",
    "Question du jour : plutôt robe Capucine ou blouse Anémone pour les fêtes ?",
]
OTHER_ROOTS = [
    ("fr", "Vous connaissez une marque de manteaux chauds mais élégants ? Budget 300 € max."),
    ("en", "Looking for a winter coat that doesn't cost a fortune. Ideas?"),
    ("fr", "Premier jour des soldes, qui est déjà allé faire un tour en ville ?"),
]
MENTION_RE = re.compile(r"(?<![\w@])@(\w{1,15})")
URL_RE = re.compile(r"https?://\S+")


def x_user_id(person: Person) -> str:
    """A stable, plausible X user id for a traffic person."""
    return str(1_302_000_000 + int(person.id) * 7919)


def one_to_one(a: str, b: str) -> str:
    low, high = sorted((a, b), key=lambda v: (len(v), v))
    return f"{low}-{high}"


def weighted_length(text: str) -> int:
    """X's weighted length, simplified: Latin and punctuation 1, other scripts and emoji 2,
    links 23."""
    text = unicodedata.normalize("NFC", text)
    links = URL_RE.findall(text)
    text = URL_RE.sub("", text)
    weight = 23 * len(links)
    for char in text:
        point = ord(char)
        light = (
            point <= 4351 or 8192 <= point <= 8205 or 8208 <= point <= 8223 or 8242 <= point <= 8247
        )
        weight += 1 if light else 2
    return weight


def sign(secret: str, body: bytes) -> str:
    """The value of `x-twitter-webhooks-signature` (and of a CRC response token)."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def _iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _legacy_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%a %b %d %H:%M:%S +0000 %Y")


def _csv(name: str) -> list[str]:
    return [v.strip() for v in request.args.get(name, "").split(",") if v.strip()]


class XSimulator(Simulator):
    type = "x"
    pushes = True

    def __init__(self, **kwargs: Any):
        self.tweets: dict[str, dict[str, Any]] = {}
        self.dm_events: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {
            ME_ID: {"id": ME_ID, "name": ME_NAME, "username": ME_USERNAME}
        }
        self.hidden: set[str] = set()
        self.likes: set[str] = set()
        self.our_posts: list[str] = []
        self.other_roots: list[str] = []
        self._last_id = 0
        self._seq = 0
        self._forced: list[tuple[str | None, Response]] = []
        self._window = (0.0, 0)
        super().__init__(**kwargs)
        self._seed()

    # -- setup ----------------------------------------------------------------------------------

    def _seed(self) -> None:
        """Our recent posts and a few strangers' posts, dated over the last days."""
        now = time.time()
        with self.lock:
            for index, text in enumerate(OUR_POSTS):
                at = now - (len(OUR_POSTS) - index) * 9 * 3600
                self.our_posts.append(self._post(ME_ID, text, at=at, lang=_lang(text))["id"])
            for index, (lang, text) in enumerate(OTHER_ROOTS):
                person = self.traffic.rng.choice([p for p in PEOPLE if p.lang == lang])
                at = now - (len(OTHER_ROOTS) - index) * 5 * 3600
                self.other_roots.append(self._post(self._user(person), text, at=at)["id"])

    def _user(self, person: Person) -> str:
        user_id = x_user_id(person)
        username = re.sub(r"[^A-Za-z0-9_]", "_", person.handle)[:15]  # X allows no dots
        self.users.setdefault(user_id, {"id": user_id, "name": person.name, "username": username})
        return user_id

    def _next_id(self, at: float) -> str:
        """A snowflake id: milliseconds since X's epoch, a worker and a sequence; always new."""
        self._seq += 1
        ms = int(at * 1000) - SNOWFLAKE_EPOCH_MS
        candidate = (ms << 22) | (7 << 12) | (self._seq & 0xFFF)
        candidate = max(candidate, self._last_id + 1)
        self._last_id = candidate
        return str(candidate)

    @staticmethod
    def id_time_ms(item_id: str) -> int:
        return (int(item_id) >> 22) + SNOWFLAKE_EPOCH_MS

    def _post(
        self,
        author_id: str,
        text: str,
        *,
        at: float | None = None,
        parent: str | None = None,
        quoted: str | None = None,
        retweeted: str | None = None,
        lang: str | None = None,
        urls: list[dict] | None = None,
    ) -> dict[str, Any]:
        """Store a post; its id, conversation and entities are derived as X derives them."""
        tweet_id = self._next_id(at or time.time())
        refs = []
        conversation = tweet_id
        in_reply_to = None
        if parent is not None:
            refs.append({"type": "replied_to", "id": parent})
            conversation = self.tweets[parent]["conversation_id"]
            in_reply_to = self.tweets[parent]["author_id"]
        if quoted is not None:
            refs.append({"type": "quoted", "id": quoted})
        if retweeted is not None:
            refs.append({"type": "retweeted", "id": retweeted})
        mentions = []
        for match in MENTION_RE.finditer(text):
            user = next(
                (u for u in self.users.values() if u["username"].lower() == match[1].lower()),
                None,
            )
            entity = {"start": match.start(), "end": match.end(), "username": match[1]}
            if user is not None:
                entity["id"] = user["id"]
            mentions.append(entity)
        entities: dict[str, Any] = {}
        if mentions:
            entities["mentions"] = mentions
        if urls:
            entities["urls"] = urls
        tweet = {
            "id": tweet_id,
            "text": text,
            "author_id": author_id,
            "created_at": _iso(self.id_time_ms(tweet_id)),
            "conversation_id": conversation,
            "edit_history_tweet_ids": [tweet_id],
            "lang": lang or "fr",
            "reply_settings": "everyone",
            "possibly_sensitive": False,
        }
        if in_reply_to is not None:
            tweet["in_reply_to_user_id"] = in_reply_to
        if refs:
            tweet["referenced_tweets"] = refs
        if entities:
            tweet["entities"] = entities
        self.tweets[tweet_id] = tweet
        return tweet

    def _live(self) -> list[dict[str, Any]]:
        """Posts as timelines show them: the latest version of an edited post only."""
        return [t for t in self.tweets.values() if not t.get("superseded")]

    def edit(self, tweet_id: str, text: str) -> str:
        """Edit a post as X does: a new version with a new id and a shared edit history."""
        with self.lock:
            old = self.tweets[tweet_id]
            history = old["edit_history_tweet_ids"]
            parent, quoted = _ref(old, "replied_to"), _ref(old, "quoted")
            new = self._post(old["author_id"], text, parent=parent, quoted=quoted, lang=old["lang"])
            if parent is None:
                new["conversation_id"] = old["conversation_id"]
            new["edit_history_tweet_ids"] = [*history, new["id"]]
            for version in history:
                self.tweets[version]["superseded"] = True
                self.tweets[version]["edit_history_tweet_ids"] = new["edit_history_tweet_ids"]
            return new["id"]

    def _dm(self, sender: str, conversation: str, text: str) -> dict[str, Any]:
        event_id = self._next_id(time.time())
        event = {
            "id": event_id,
            "event_type": "MessageCreate",
            "text": text,
            "sender_id": sender,
            "dm_conversation_id": conversation,
            "created_at": _iso(self.id_time_ms(event_id)),
        }
        self.dm_events[event_id] = event
        return event

    # -- traffic --------------------------------------------------------------------------------

    def add_inbound(self, count: int = 1, *, kind: str | None = None) -> list[str]:
        """`count` people write to or about the brand; returns post ids and DM event ids."""
        ids = []
        with self.lock:
            for _ in range(count):
                chosen = kind or self.traffic.rng.choices(list(KINDS), list(KINDS.values()))[0]
                ids.append(self._inbound(chosen))
        return ids

    def _inbound(self, kind: str) -> str:
        rng = self.traffic.rng
        tone = "praise" if kind in ("quote", "repost", "bare_quote") else None
        said = self.traffic.message(tone=tone)
        author = self._user(said.author)
        lang = "en" if said.author.lang == "en" else "fr"
        brand = f"@{ME_USERNAME}"
        bare = said.text.replace(brand, "").replace("  ", " ").strip()
        if kind == "dm":
            return self._dm(author, one_to_one(ME_ID, author), bare or said.text)["id"]
        if kind == "reply":
            root = rng.choice(self.our_posts)
            ours = [  # our replies under that post: people answer them too
                t["id"]
                for t in self.tweets.values()
                if t["conversation_id"] == root and t["author_id"] == ME_ID and t["id"] != root
            ]
            parent = rng.choice(ours) if ours and rng.random() < 0.4 else root
            handles = {brand}
            parent_author = self.users[self.tweets[parent]["author_id"]]["username"]
            handles.add(f"@{parent_author}")
            prefix = " ".join(sorted(handles, key=lambda h: h != brand))
            text = f"{prefix} {bare}"
            return self._post(author, text, parent=parent, lang=lang)["id"]
        if kind == "mention":
            text = said.text if brand in said.text else f"{brand} {said.text}"
            return self._post(author, text, lang=lang)["id"]
        if kind == "thread":
            root = rng.choice(self.other_roots)
            root_author = self.users[self.tweets[root]["author_id"]]["username"]
            text = f"@{root_author} {brand} {bare}"
            return self._post(author, text, parent=root, lang=lang)["id"]
        if kind == "quote":
            return self._post(author, bare, quoted=rng.choice(self.our_posts), lang=lang)["id"]
        if kind == "bare_quote":
            post = rng.choice(self.our_posts)
            link = f"https://t.co/{secrets.token_urlsafe(7)[:10]}"
            expanded = f"https://x.com/{ME_USERNAME}/status/{post}"
            url = {
                "start": 0,
                "end": len(link),
                "url": link,
                "expanded_url": expanded,
                "display_url": f"x.com/{ME_USERNAME}/status/{post[:5]}…",
            }
            return self._post(author, link, quoted=post, lang=lang, urls=[url])["id"]
        if kind == "repost":
            post = rng.choice(self.our_posts)
            text = f"RT {brand}: {self.tweets[post]['text']}"
            return self._post(author, text, retweeted=post, lang=self.tweets[post]["lang"])["id"]
        if kind == "watch":
            text = said.text.replace(brand, BRAND_WORDS)
            if BRAND_WORDS not in text:
                text = f"{text} — {BRAND_WORDS}"
            return self._post(author, text, lang=lang)["id"]
        raise ValueError(f"unknown kind {kind!r}")

    # -- the gate -------------------------------------------------------------------------------

    def authorized(self) -> bool:
        return request.headers.get("Authorization", "") == f"Bearer {self.token}"

    def problem(
        self,
        status: int,
        title: str,
        detail: str,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> Response:
        body = {"title": title, "detail": detail, "type": type_, "status": status} | extra
        response = Response(
            json.dumps(body), status=status, content_type="application/problem+json"
        )
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response

    def auth_error(self) -> Response:
        return self.problem(401, "Unauthorized", "Unauthorized")

    def rate_limited(self, reset_at: float) -> Response:
        headers = {
            "x-rate-limit-limit": str(RATE_LIMIT),
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(math.ceil(reset_at)),
        }
        return self.problem(429, "Too Many Requests", "Too Many Requests", headers=headers)

    def invalid(self, message: str, parameters: dict[str, list[str]]) -> Response:
        body = {
            "errors": [{"parameters": parameters, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": PROBLEMS + "invalid-request",
        }
        return Response(json.dumps(body), status=400, content_type="application/problem+json")

    def not_found(self, tweet_id: str, what: str = "tweet") -> Response:
        return self.problem(
            404,
            "Not Found Error",
            f"Could not find {what} with id: [{tweet_id}].",
            PROBLEMS + "resource-not-found",
        )

    def forbidden(self, detail: str) -> Response:
        return self.problem(403, "Forbidden", detail)

    def fail_next(
        self,
        status: int,
        detail: str | None = None,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        times: int = 1,
        path: str | None = None,
    ) -> None:
        """Answer the next `times` API calls (to `path` only, if given) with this problem."""
        with self.lock:
            for _ in range(times):
                self._forced.append(
                    (
                        path,
                        self.problem(
                            status,
                            title
                            or {500: "Internal Server Error", 503: "Service Unavailable"}.get(
                                status, "Error"
                            ),
                            detail or "",
                            type_,
                            headers=headers,
                        ),
                    )
                )

    def _forced_failure(self) -> Response | None:
        with self.lock:
            if self.token_expired or not self.authorized():
                return None
            for index, (path, _) in enumerate(self._forced):
                if path is None or path == request.path:
                    return self._forced.pop(index)[1]
        return None

    def _rate_headers(self, response: Response) -> Response:
        if response.status_code == 429 or "x-rate-limit-limit" in response.headers:
            return response  # a 429 carries its own reset (or, for usage caps, none)
        if request.path.startswith("/2/"):
            with self.lock:
                start, used = self._window
                now = time.time()
                if now - start >= RATE_WINDOW:
                    start, used = now, 0
                used += 1
                self._window = (start, used)
            response.headers["x-rate-limit-limit"] = str(RATE_LIMIT)
            response.headers["x-rate-limit-remaining"] = str(max(0, RATE_LIMIT - used))
            response.headers["x-rate-limit-reset"] = str(int(start + RATE_WINDOW))
        return response

    # -- routes ---------------------------------------------------------------------------------

    def routes(self, app: Flask) -> None:
        app.before_request(self._forced_failure)
        app.after_request(self._rate_headers)
        rule = app.add_url_rule
        rule("/2/users/me", "me", self._me, methods=["GET"])
        rule("/2/users/<user_id>/mentions", "mentions", self._mentions, methods=["GET"])
        rule("/2/users/reposts_of_me", "reposts_of_me", self._reposts_of_me, methods=["GET"])
        rule("/2/tweets/<tweet_id>/retweets", "retweets", self._retweets, methods=["GET"])
        rule("/2/tweets/<tweet_id>/quote_tweets", "quotes", self._quotes, methods=["GET"])
        rule("/2/tweets/search/recent", "search", self._search, methods=["GET"])
        rule("/2/tweets", "lookup", self._lookup, methods=["GET"])
        rule("/2/tweets", "create", self._create, methods=["POST"])
        rule("/2/tweets/<tweet_id>", "one", self._one, methods=["GET"])
        rule("/2/tweets/<tweet_id>", "delete", self._delete, methods=["DELETE"])
        rule("/2/tweets/<tweet_id>/hidden", "hidden", self._hide, methods=["PUT"])
        rule("/2/users/<user_id>/likes", "like", self._like, methods=["POST"])
        rule("/2/users/<user_id>/likes/<tweet_id>", "unlike", self._unlike, methods=["DELETE"])
        rule("/2/dm_events", "dm_events", self._dm_events, methods=["GET"])
        rule(
            "/2/dm_conversations/with/<user_id>/messages",
            "dm_with",
            self._dm_with,
            methods=["POST"],
        )
        rule(
            "/2/dm_conversations/<conversation_id>/messages",
            "dm_send",
            self._dm_send,
            methods=["POST"],
        )

    # -- reads ----------------------------------------------------------------------------------

    def _me(self) -> Response:
        return self._json({"data": self._render_user(ME_ID, self._user_fields())})

    def _mentions(self, user_id: str) -> Response:
        def mentions(t: dict) -> bool:
            if t["author_id"] == user_id or _ref(t, "retweeted"):
                return False
            return any(m.get("id") == user_id for m in t.get("entities", {}).get("mentions", []))

        with self.lock:
            found = [t for t in self._live() if mentions(t)]
            return self._tweet_page(found, "mentions", since=True)

    def _reposts_of_me(self) -> Response:
        with self.lock:
            posts = []
            for post_id in self.our_posts:
                engaged = [
                    t["id"]
                    for t in self._live()
                    if _ref(t, "retweeted") == post_id or _ref(t, "quoted") == post_id
                ]
                if engaged and post_id in self.tweets:
                    posts.append((max(engaged, key=int), self.tweets[post_id]))
            posts.sort(key=lambda pair: int(pair[0]), reverse=True)
            return self._tweet_page(
                [p for _, p in posts], "reposts_of_me", since=False, order=False
            )

    def _engaged(self, tweet_id: str, ref: str, endpoint: str) -> Response:
        with self.lock:
            if tweet_id not in self.tweets:
                return self._json({"errors": [self._missing(tweet_id)]})
            found = [t for t in self._live() if _ref(t, ref) == tweet_id]
            if endpoint == "quote_tweets":
                exclude = set(_csv("exclude"))
                if "replies" in exclude:
                    found = [t for t in found if not _ref(t, "replied_to")]
            return self._tweet_page(found, endpoint, since=False)

    def _retweets(self, tweet_id: str) -> Response:
        return self._engaged(tweet_id, "retweeted", "retweets")

    def _quotes(self, tweet_id: str) -> Response:
        return self._engaged(tweet_id, "quoted", "quote_tweets")

    def _search(self) -> Response:
        query = request.args.get("query", "")
        if not query.strip():
            return self.invalid("The `query` query parameter can not be empty", {"query": [query]})
        if request.args.get("pagination_token") and request.args.get("next_token"):
            return self.invalid(
                "At most one of `pagination_token`, `next_token` may be provided",
                {"pagination_token": [request.args["pagination_token"]]},
            )
        matcher = _Query(query)
        oldest = (time.time() - SEARCH_DAYS * 86400) * 1000
        with self.lock:
            found = [
                t for t in self._live() if self.id_time_ms(t["id"]) >= oldest and matcher.matches(t)
            ]
            return self._tweet_page(found, "search", since=True)

    def _lookup(self) -> Response:
        ids = _csv("ids")
        if not ids or len(ids) > 100 or not all(i.isdigit() for i in ids):
            return self.invalid(
                "The `ids` query parameter value must be 1 to 100 comma-separated post ids",
                {"ids": [request.args.get("ids", "")]},
            )
        with self.lock:
            found = [self.tweets[i] for i in ids if i in self.tweets]
            body = self._tweets_body(found)
            missing = [self._missing(i) for i in ids if i not in self.tweets]
        if missing:
            body["errors"] = missing
        return self._json(body)

    def _one(self, tweet_id: str) -> Response:
        with self.lock:
            if tweet_id not in self.tweets:
                return self._json({"errors": [self._missing(tweet_id)]})
            body = self._tweets_body([self.tweets[tweet_id]])
        body["data"] = body["data"][0]
        return self._json(body)

    def _dm_events(self) -> Response:
        token = request.args.get("pagination_token")
        if token is not None and len(token) < 16:
            return self.invalid(
                f"The `pagination_token` query parameter value [{token}] is not valid",
                {"pagination_token": [token]},
            )
        size = self._page_size("dm_events")
        if isinstance(size, Response):
            return size
        fields = set(_csv("dm_event.fields"))
        bad = fields - DM_FIELDS
        if bad:
            return self._bad_field("dm_event.fields", bad)
        types = set(_csv("event_types")) or {
            "MessageCreate",
            "ParticipantsJoin",
            "ParticipantsLeave",
        }
        with self.lock:
            events = [
                e
                for e in self.dm_events.values()
                if e["event_type"] in types and ME_ID in e["dm_conversation_id"].split("-")
            ]
            page, token_out = self._slice(events, "dm_events", size, since=False)
            if isinstance(page, Response):
                return page
            data = [
                {k: v for k, v in e.items() if k in fields | {"id", "event_type", "text"}}
                for e in page
            ]
            body: dict[str, Any] = {"meta": {"result_count": len(data)}}
            if data:
                body["data"] = data
            if "sender_id" in _csv("expansions"):
                senders = list(dict.fromkeys(e["sender_id"] for e in page))
                user_fields = self._user_fields()
                body["includes"] = {"users": [self._render_user(u, user_fields) for u in senders]}
        if token_out:
            body["meta"]["next_token"] = token_out
        return self._json(body)

    # -- writes ---------------------------------------------------------------------------------

    def _create(self) -> Response:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return self.invalid("The request body must be a JSON object", {"body": []})
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            return self.invalid("The `text` field is required", {"text": [str(text)]})
        if weighted_length(text) > MAX_WEIGHT:
            body = {
                "errors": [{"message": "Your Tweet text is too long."}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": PROBLEMS + "invalid-request",
            }
            return Response(json.dumps(body), status=400, content_type="application/problem+json")
        reply = data.get("reply") if isinstance(data.get("reply"), dict) else None
        parent = str(reply.get("in_reply_to_tweet_id") or "") if reply else None
        quoted = data.get("quote_tweet_id")
        with self.lock:
            if parent is not None and parent not in self.tweets:
                return self.forbidden(
                    "You attempted to reply to a Tweet that is deleted or not visible to you."
                )
            if quoted is not None and str(quoted) not in self.tweets:
                return self.forbidden("The Tweet you are quoting is deleted or not visible.")
            if any(t["author_id"] == ME_ID and t["text"] == text for t in self.tweets.values()):
                return self.forbidden(
                    "You are not allowed to create a Tweet with duplicate content."
                )
            tweet = self._post(
                ME_ID,
                text,
                parent=parent,
                quoted=str(quoted) if quoted is not None else None,
                lang="en" if re.search(r"\b(the|thanks|you)\b", text, re.I) else "fr",
            )
        return self._json(
            {"data": {"id": tweet["id"], "text": text, "edit_history_tweet_ids": [tweet["id"]]}},
            201,
        )

    def _delete(self, tweet_id: str) -> Response:
        with self.lock:
            tweet = self.tweets.get(tweet_id)
            if tweet is None:
                return self.not_found(tweet_id)
            if tweet["author_id"] != ME_ID:
                return self.forbidden("You are not authorized to delete this Tweet.")
            del self.tweets[tweet_id]
        return self._json({"data": {"deleted": True}})

    def _hide(self, tweet_id: str) -> Response:
        data = request.get_json(silent=True)
        if not isinstance(data, dict) or not isinstance(data.get("hidden"), bool):
            return self.invalid(
                "The `hidden` field is required and must be a boolean", {"hidden": []}
            )
        with self.lock:
            tweet = self.tweets.get(tweet_id)
            if tweet is None:
                return self.not_found(tweet_id)
            root = self.tweets.get(tweet["conversation_id"])
            if tweet["conversation_id"] == tweet_id:
                return self.forbidden(
                    "Only replies can be hidden, and this post starts its own conversation."
                )
            if root is None or root["author_id"] != ME_ID:
                return self.forbidden(
                    "You can only hide or unhide replies in a conversation you started."
                )
            if tweet["author_id"] == ME_ID:
                return self.forbidden(
                    "Replies written by the conversation's author cannot be hidden."
                )
            if data["hidden"]:
                self.hidden.add(tweet_id)
            else:
                self.hidden.discard(tweet_id)
        return self._json({"data": {"hidden": data["hidden"]}})

    def _like(self, user_id: str) -> Response:
        if user_id != ME_ID:
            return self.forbidden("You are not permitted to perform this action.")
        data = request.get_json(silent=True)
        tweet_id = data.get("tweet_id") if isinstance(data, dict) else None
        if not isinstance(tweet_id, str) or not tweet_id.isdigit():
            return self.invalid("The `tweet_id` field is required", {"tweet_id": []})
        with self.lock:
            if tweet_id not in self.tweets:
                return self.not_found(tweet_id)
            self.likes.add(tweet_id)
        return self._json({"data": {"liked": True}})

    def _unlike(self, user_id: str, tweet_id: str) -> Response:
        if user_id != ME_ID:
            return self.forbidden("You are not permitted to perform this action.")
        with self.lock:
            self.likes.discard(tweet_id)
        return self._json({"data": {"liked": False}})

    def _dm_text(self) -> str | Response:
        data = request.get_json(silent=True)
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(text, str) or not text:
            return self.invalid(
                "At least one of `text`, `attachments` is required", {"text": [], "attachments": []}
            )
        if len(text) > 10_000:
            return self.invalid("The `text` field is too long", {"text": [text[:20]]})
        return text

    def _dm_send(self, conversation_id: str) -> Response:
        text = self._dm_text()
        if isinstance(text, Response):
            return text
        with self.lock:
            known = any(e["dm_conversation_id"] == conversation_id for e in self.dm_events.values())
            if not known or ME_ID not in conversation_id.split("-"):
                return self.not_found(conversation_id, "dm_conversation")
            event = self._dm(ME_ID, conversation_id, text)
        return self._json(
            {"data": {"dm_conversation_id": conversation_id, "dm_event_id": event["id"]}}, 201
        )

    def _dm_with(self, user_id: str) -> Response:
        text = self._dm_text()
        if isinstance(text, Response):
            return text
        with self.lock:
            if user_id not in self.users or user_id == ME_ID:
                return self.not_found(user_id, "user")
            conversation = one_to_one(ME_ID, user_id)
            event = self._dm(ME_ID, conversation, text)
        return self._json(
            {"data": {"dm_conversation_id": conversation, "dm_event_id": event["id"]}}, 201
        )

    # -- rendering ------------------------------------------------------------------------------

    def _json(self, body: Any, status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json")

    def _missing(self, tweet_id: str) -> dict[str, Any]:
        return {
            "value": tweet_id,
            "detail": f"Could not find tweet with id: [{tweet_id}].",
            "title": "Not Found Error",
            "resource_type": "tweet",
            "parameter": "id",
            "resource_id": tweet_id,
            "type": PROBLEMS + "resource-not-found",
        }

    def _bad_field(self, name: str, bad: set[str]) -> Response:
        value = sorted(bad)[0]
        return self.invalid(
            f"The `{name}` query parameter value [{value}] is not one of the allowed values",
            {name: [value]},
        )

    def _tweet_fields(self) -> set[str] | Response:
        raw = set(_csv("tweet.fields")) | set(_csv("post.fields"))
        fields = {FIELD_ALIASES.get(f, f) for f in raw}
        bad = fields - TWEET_FIELDS
        if bad:
            return self._bad_field("tweet.fields", bad)
        return fields

    def _user_fields(self) -> set[str]:
        return set(_csv("user.fields")) & USER_FIELDS

    def _page_size(self, endpoint: str) -> int | Response:
        low, high = RANGES[endpoint]
        raw = request.args.get("max_results")
        if raw is None:
            wanted = {"mentions": 10, "search": 10, "quote_tweets": 10}.get(endpoint, 100)
        elif not raw.isdigit() or not low <= int(raw) <= high:
            return self.invalid(
                f"The `max_results` query parameter value [{raw}] is not between {low} and {high}",
                {"max_results": [raw]},
            )
        else:
            wanted = int(raw)
        return max(1, min(wanted, self.page_size))

    def _slice(
        self, records: list[dict], scope: str, size: int, *, since: bool, order: bool = True
    ) -> tuple[list[dict] | Response, str | None]:
        """Newest first, bounded by since_id / until_id and the page token."""
        if order:
            records = sorted(records, key=lambda r: int(r["id"]), reverse=True)
        bounds = {}
        for name in ("since_id", "until_id") if since else ():
            value = request.args.get(name)
            if value is not None:
                if not re.fullmatch(r"[0-9]{1,19}", value):
                    return self.invalid(
                        f"The `{name}` query parameter value [{value}] does not match "
                        "^[0-9]{1,19}$",
                        {name: [value]},
                    ), None
                bounds[name] = int(value)
        token = request.args.get("pagination_token") or request.args.get("next_token")
        mark = _decode_token(token, scope) if token else None
        if token and mark is None:
            return self.invalid(
                f"The `pagination_token` query parameter value [{token}] is not valid",
                {"pagination_token": [token]},
            ), None
        chosen = records
        if "since_id" in bounds:
            chosen = [r for r in chosen if int(r["id"]) > bounds["since_id"]]
        if "until_id" in bounds:
            chosen = [r for r in chosen if int(r["id"]) < bounds["until_id"]]
        if mark is not None and order:  # below the last id served: arrivals shift nothing
            chosen = [r for r in chosen if int(r["id"]) < mark]
        elif mark is not None:  # a list in another order is paged by position
            chosen = chosen[mark:]
        page = chosen[:size]
        if len(chosen) <= size:
            return page, None
        return page, _encode_token(scope, int(page[-1]["id"]) if order else (mark or 0) + size)

    def _tweet_page(
        self, records: list[dict], endpoint: str, *, since: bool, order: bool = True
    ) -> Response:
        size = self._page_size(endpoint)
        if isinstance(size, Response):
            return size
        fields = self._tweet_fields()
        if isinstance(fields, Response):
            return fields
        page, token = self._slice(records, endpoint, size, since=since, order=order)
        if isinstance(page, Response):
            return page
        body = self._tweets_body(page)
        meta: dict[str, Any] = {"result_count": len(page)}
        if page and endpoint in ("mentions", "search"):
            ids = [p["id"] for p in page]
            meta |= {"newest_id": max(ids, key=int), "oldest_id": min(ids, key=int)}
        if token:
            meta["next_token"] = token
        body["meta"] = meta
        return self._json(body)

    def _tweets_body(self, tweets: list[dict]) -> dict[str, Any]:
        fields = self._tweet_fields()
        fields = fields if isinstance(fields, set) else set()
        expansions = {
            e.replace("referenced_posts", "referenced_tweets") for e in _csv("expansions")
        }
        body: dict[str, Any] = {}
        if tweets:
            body["data"] = [self._render_tweet(t, fields) for t in tweets]
        users: list[str] = []
        referenced: list[dict] = []
        if "author_id" in expansions:
            users += [t["author_id"] for t in tweets]
        if "in_reply_to_user_id" in expansions:
            users += [t["in_reply_to_user_id"] for t in tweets if t.get("in_reply_to_user_id")]
        if "referenced_tweets.id" in expansions or "referenced_tweets.id.author_id" in expansions:
            for tweet in tweets:
                for ref in tweet.get("referenced_tweets", []):
                    if ref["id"] in self.tweets:
                        referenced.append(self.tweets[ref["id"]])
        if "referenced_tweets.id.author_id" in expansions:
            users += [t["author_id"] for t in referenced]
        includes: dict[str, Any] = {}
        if users:
            user_fields = self._user_fields()
            includes["users"] = [
                self._render_user(u, user_fields) for u in dict.fromkeys(users) if u in self.users
            ]
        if referenced and "referenced_tweets.id" in expansions:
            unique = {t["id"]: t for t in referenced}
            includes["tweets"] = [self._render_tweet(t, fields) for t in unique.values()]
        if includes:
            body["includes"] = includes
        return body

    def _render_tweet(self, tweet: dict, fields: set[str]) -> dict[str, Any]:
        out = {
            "id": tweet["id"],
            "text": tweet["text"],
            "edit_history_tweet_ids": tweet["edit_history_tweet_ids"],
        }
        for name in sorted(fields):
            if name == "public_metrics":
                out[name] = self._metrics(tweet["id"])
            elif name in tweet:
                out[name] = tweet[name]
        return out

    def _metrics(self, tweet_id: str) -> dict[str, int]:
        refs = [r for t in self.tweets.values() for r in t.get("referenced_tweets", [])]
        count = {kind: sum(1 for r in refs if r["id"] == tweet_id and r["type"] == kind)
                 for kind in ("retweeted", "quoted", "replied_to")}  # fmt: skip
        return {
            "retweet_count": count["retweeted"],
            "reply_count": count["replied_to"],
            "like_count": 0,
            "quote_count": count["quoted"],
            "bookmark_count": 0,
            "impression_count": 40 * (1 + count["retweeted"]),
        }

    def _render_user(self, user_id: str, fields: set[str]) -> dict[str, Any]:
        user = self.users[user_id]
        out = {"id": user_id, "name": user["name"], "username": user["username"]}
        extra = {
            "protected": False,
            "verified": user_id == ME_ID,
            "created_at": "2012-03-08T10:00:00.000Z",
            "description": "Mode & maroquinerie, Paris" if user_id == ME_ID else "",
            "public_metrics": {
                "followers_count": self._followers(user_id),
                "following_count": 180,
                "tweet_count": 4_200,
                "listed_count": 3,
                "like_count": 900,
            },
        }
        out |= {k: v for k, v in extra.items() if k in fields}
        return out

    # -- pushes ---------------------------------------------------------------------------------

    def webhook_delivery(
        self,
        count: int = 1,
        *,
        age: float = 0,
        secret: str | None = None,
        dms: bool = False,
    ) -> tuple[dict[str, str], bytes, list[str]]:
        """New inbound posts (or DMs) pushed as X's Account Activity sends them."""
        at_ms = int((time.time() - age) * 1000)
        with self.lock:
            if dms:
                ids = [self._inbound("dm") for _ in range(count)]
                envelope = self._dm_envelope(ids, at_ms)
            else:
                rng = self.traffic.rng
                kinds = [
                    rng.choices(PUSHED_KINDS, [KINDS[k] for k in PUSHED_KINDS])[0]
                    for _ in range(count)
                ]
                ids = [self._inbound(kind) for kind in kinds]
                envelope = {
                    "for_user_id": ME_ID,
                    "user_has_blocked": "false",
                    "tweet_create_events": [self._legacy_tweet(self.tweets[i], at_ms) for i in ids],
                }
        headers, body = self.signed(envelope, secret)
        return headers, body, ids

    def signed(self, envelope: dict, secret: str | None = None) -> tuple[dict[str, str], bytes]:
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "x-twitter-webhooks-signature": sign(secret or self.secret, body),
        }
        return headers, body

    def _dm_envelope(self, ids: list[str], at_ms: int) -> dict[str, Any]:
        events, users = [], {}
        for event_id in ids:
            event = self.dm_events[event_id]
            recipient = next(
                p for p in event["dm_conversation_id"].split("-") if p != event["sender_id"]
            )
            events.append(
                {
                    "type": "message_create",
                    "id": event_id,
                    "created_timestamp": str(at_ms),
                    "message_create": {
                        "target": {"recipient_id": recipient},
                        "sender_id": event["sender_id"],
                        "message_data": {
                            "text": event["text"],
                            "entities": {
                                "hashtags": [],
                                "symbols": [],
                                "user_mentions": [],
                                "urls": [],
                            },
                        },
                    },
                }
            )
            for user_id in (event["sender_id"], recipient):
                users[user_id] = self._legacy_user(user_id)
        return {"for_user_id": ME_ID, "direct_message_events": events, "users": users}

    @staticmethod
    def _followers(user_id: str) -> int:
        """A stable audience per account: ours is large, people's vary from tens to 50,000."""
        return 18_250 if user_id == ME_ID else (int(user_id) * 7919) % 50_000

    def _legacy_user(self, user_id: str) -> dict[str, Any]:
        user = self.users[user_id]
        return {
            "id": int(user_id),
            "id_str": user_id,
            "name": user["name"],
            "screen_name": user["username"],
            "location": None,
            "protected": False,
            "verified": user_id == ME_ID,
            "followers_count": self._followers(user_id),
            "created_at": "Thu Mar 08 10:00:00 +0000 2012",
        }

    def _legacy_tweet(self, tweet: dict, at_ms: int | None = None) -> dict[str, Any]:
        """A v1.1 post object, as Account Activity carries it."""
        text = tweet["text"]
        ms = at_ms if at_ms is not None else self.id_time_ms(tweet["id"])
        entities = {
            "hashtags": [],
            "symbols": [],
            "urls": [
                {
                    "url": u["url"],
                    "expanded_url": u["expanded_url"],
                    "display_url": u["display_url"],
                    "indices": [u["start"], u["end"]],
                }
                for u in tweet.get("entities", {}).get("urls", [])
            ],
            "user_mentions": [
                {
                    "screen_name": m["username"],
                    "name": self.users[m["id"]]["name"] if m.get("id") in self.users else "",
                    "id": int(m["id"]) if m.get("id") else None,
                    "id_str": m.get("id"),
                    "indices": [m["start"], m["end"]],
                }
                for m in tweet.get("entities", {}).get("mentions", [])
            ],
        }
        parent = _ref(tweet, "replied_to")
        out: dict[str, Any] = {
            "created_at": _legacy_time(ms),
            "id": int(tweet["id"]),
            "id_str": tweet["id"],
            "text": text,
            "source": '<a href="https://mobile.twitter.com" rel="nofollow">Twitter for iPhone</a>',
            "truncated": False,
            "in_reply_to_status_id": int(parent) if parent else None,
            "in_reply_to_status_id_str": parent,
            "in_reply_to_user_id": None,
            "in_reply_to_user_id_str": None,
            "in_reply_to_screen_name": None,
            "user": self._legacy_user(tweet["author_id"]),
            "is_quote_status": bool(_ref(tweet, "quoted")),
            "quote_count": 0,
            "reply_count": 0,
            "retweet_count": 0,
            "favorite_count": 0,
            "entities": entities,
            "favorited": False,
            "retweeted": False,
            "filter_level": "low",
            "lang": tweet.get("lang", "fr"),
            "timestamp_ms": str(ms),
        }
        if parent and tweet.get("in_reply_to_user_id"):
            replied = tweet["in_reply_to_user_id"]
            out["in_reply_to_user_id"] = int(replied)
            out["in_reply_to_user_id_str"] = replied
            out["in_reply_to_screen_name"] = self.users[replied]["username"]
        quoted = _ref(tweet, "quoted")
        if quoted and quoted in self.tweets:
            out["quoted_status_id"] = int(quoted)
            out["quoted_status_id_str"] = quoted
            inner = self._legacy_tweet(self.tweets[quoted])
            inner.pop("timestamp_ms", None)
            out["quoted_status"] = inner
        retweeted = _ref(tweet, "retweeted")
        if retweeted and retweeted in self.tweets:
            inner = self._legacy_tweet(self.tweets[retweeted])
            inner.pop("timestamp_ms", None)
            out["retweeted_status"] = inner
        if len(text) > 140:
            out["truncated"] = True
            out["text"] = text[:139] + "…"
            out["extended_tweet"] = {
                "full_text": text,
                "display_text_range": [0, len(text)],
                "entities": entities,
            }
        return out

    def validate_crc(self, url: str) -> bool:
        """Run X's CRC against an inbox webhook URL; True if it answered the right token."""
        token = secrets.token_urlsafe(24)
        answer = requests.get(url, params={"crc_token": token}, timeout=3)
        try:
            given = answer.json().get("response_token")
        except (ValueError, AttributeError):
            return False
        return answer.status_code == 200 and given == sign(self.secret, token.encode())

    def channel_config(self) -> dict[str, Any]:
        return {
            "api_base": self.base_url,
            "access_token": self.token,
            "consumer_secret": self.secret,
            "user_id": ME_ID,
            "watch_query": WATCH_QUERY,
        }


class _Query:
    """Enough of X's search syntax for the demo: words, "phrases", -negation, is: operators."""

    def __init__(self, query: str):
        self.terms: list[tuple[bool, str]] = []
        for match in re.finditer(r'(-?)("([^"]+)"|\S+)', query):
            negated, phrase, word = match[1] == "-", match[3], match[2]
            self.terms.append((negated, (phrase or word).casefold()))

    def matches(self, tweet: dict) -> bool:
        text = tweet["text"].casefold()
        for negated, term in self.terms:
            if term == "or":
                continue
            if term.startswith("is:"):
                found = {
                    "is:retweet": bool(_ref(tweet, "retweeted")),
                    "is:reply": bool(_ref(tweet, "replied_to")),
                    "is:quote": bool(_ref(tweet, "quoted")),
                }.get(term, False)
            elif term.startswith("from:"):
                found = tweet["author_id"] == term[5:] or False
            elif ":" in term and not term.startswith(("http", "@")):
                found = True  # other operators (lang:, has:…) are not modelled
            else:
                found = term in text
            if found == negated:
                return False
        return True


def _ref(tweet: dict, kind: str) -> str | None:
    return next((r["id"] for r in tweet.get("referenced_tweets", []) if r["type"] == kind), None)


def _encode_token(scope: str, value: int) -> str:
    """An opaque token (base32hex, like X's) naming where the next page starts."""
    raw = f"{scope}:{value}:{secrets.token_hex(3)}".encode()
    return base64.b32hexencode(raw).decode().lower().rstrip("=")


def _decode_token(token: str, scope: str) -> int | None:
    padded = token.upper() + "=" * (-len(token) % 8)
    try:
        got_scope, offset, _ = base64.b32hexdecode(padded).decode().split(":")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if got_scope != scope or not offset.isdigit():
        return None
    return int(offset)


def _lang(text: str) -> str:
    return "en" if re.search(r"\b(the|our|is|in|every)\b", text) else "fr"
