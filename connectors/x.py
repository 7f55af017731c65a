"""X (Twitter API v2): mentions, quotes and reposts of the brand's posts, DMs, a keyword watch,
and Account Activity webhooks.

Contract (platform-apis.md §1; xdevplatform/xdk OpenAPI v2.167 and xdevplatform/docs). Marks:
[V] checked in the spec or docs, [P] partly checked, [U] assumed.

- Auth [V]: `Authorization: Bearer <OAuth 2.0 user access token>` of the brand's account, on
  `api_base` (default `https://api.x.com`). Scopes: `tweet.read users.read dm.read dm.write
  tweet.write tweet.moderate.write like.write` (+ `offline.access` so whoever refreshes the token
  can). This connector does not refresh tokens: a 401 is `AuthExpired` (reconnect).
- Pull [V], one page of one feed per call, feeds in this order, each with its own watermark:
  1. `mentions`: `GET /2/users/:id/mentions` with `since_id=<watermark>`, `pagination_token` ←
     `meta.next_token`; the watermark becomes the first page's `meta.newest_id` only once the
     last page is read. Kind `mention`; a post quoting one of ours is a `quote` (a `repost` when
     it adds no words); a retweet of one of ours is a `repost`.
  2. `dms`: `GET /2/dm_events?event_types=MessageCreate`. It has no `since_id`: pages (newest
     first) are read until one holds an event at or below the watermark, and only newer events
     are kept. Kind `dm`, thread = `dm_conversation_id`.
  3. `engagement`: `GET /2/users/reposts_of_me` lists our posts that were reposted, with their
     `public_metrics`; for each post whose repost or quote count moved since the last sync,
     `GET /2/tweets/:id/retweets` and `GET /2/tweets/:id/quote_tweets` (no `since_id` either:
     newest first, read until a page reaches that post's own watermark) [V endpoints; P order].
     Items `repost` / `quote` with `post_id` = our original post.
  4. `watch` (only with `watch_query`): `GET /2/tweets/search/recent?query=…&since_id=…` for
     brand mentions without an @ (last 7 days). Posts that @mention us (feed 1), retweets, and
     quotes of our posts (feed 3) are left out, so one post is reported by one feed. When X
     refuses a `since_id` older than the 7-day window, the whole window is searched and only
     posts above the watermark are kept.
  Threading (DESIGN §5): `thread_id` = `conversation_id` (the root post), `parent_id` = the
  `replied_to` post, `post_id` = the root for replies. Posts and DMs of our own account are
  `outbound` echoes. An edited post keeps the id of its first version (`edit_history_tweet_ids`)
  so the edit updates the item; `edited_at` is set then. Field names of spec v2.167
  (`referenced_posts`, `includes.posts`, `note_post`, `edit_history_post_ids`) are read too.
  The post an item answers (`post_text`, `post_url`): the `replied_to` post of a reply (else
  the `quoted` one), our post a quote quotes or a repost reposts. Every feed asks for it with
  `expansions=referenced_tweets.id,referenced_tweets.id.author_id` and reads it from
  `includes.tweets` (text, or `note_tweet.text` for a long post) and `includes.users` (the
  username that builds `https://x.com/<username>/status/<id>`) [V]: no call of its own.
- Account Activity webhooks [V]: CRC `GET ?crc_token=` answered with `{"response_token":
  "sha256=" + base64(HMAC-SHA256(consumer_secret, crc_token))}`; each POST carries
  `x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(consumer_secret, raw body)>`. Bodies
  use the v1.1 shapes (`tweet_create_events`, `direct_message_events`, `users`, `for_user_id`).
  Freshness: the newest event's `timestamp_ms` / `created_timestamp` must be within `tolerance`
  seconds (so X's replay jobs of older events are refused too). v1.1 posts carry no
  `conversation_id`: replies are resolved with one `GET /2/tweets?ids=` lookup (3 s, no retry;
  their parent stands in if X does not answer), which also expands `referenced_tweets.id` for
  the text of the posts they answer. A quote or a repost carries its post (`quoted_status`,
  `retweeted_status`); a reply names its parent's author (`in_reply_to_screen_name`), which
  builds the parent's link. A v1.1 DM has no conversation id: the one-to-one
  id `"<smaller id>-<larger id>"` is built, as X builds it [V]. Events for another subscribed
  account (`for_user_id`) are ignored.
- Write [V]: reply `POST /2/tweets {"text", "reply": {"in_reply_to_tweet_id"}}` → 201
  `data.id`; DM `POST /2/dm_conversations/:id/messages {"text"}` (or `/with/:participant_id/`
  when the conversation is unknown) → 201 `data.dm_event_id`; hide / unhide `PUT
  /2/tweets/:id/hidden {"hidden": bool}`; like `POST /2/users/:me/likes {"tweet_id"}`. Deleting
  someone else's post does not exist on X: `Unsupported`.
- Hiding [V rule, U error body]: X hides only replies in conversations the account started, and
  never the account's own posts. Before the `PUT` the target and its root are read with `GET
  /2/tweets?ids=…&tweet.fields=author_id,conversation_id`; outside our threads the action is
  refused with `NotAllowed` and no write is sent. X's own refusal (a 403 naming the
  conversation) is mapped to `NotAllowed` as well.
- Errors [V shapes, P bodies]: problem JSON `{"title", "detail", "type", "status"}` (and the
  v1-style `{"errors": [{"code", "message"}]}`). 429 → `RateLimited` until
  `x-rate-limit-reset` (epoch seconds; 15 minutes when absent, e.g. usage caps); 401 →
  `AuthExpired`; 403 → `PermissionDenied`, except X's refusals of one action on one item
  (duplicate text, deleted or invisible post, replies restricted, hiding outside our threads)
  → `NotAllowed`; 404 → `NotAllowed`; 400 "text is too long" → `NotAllowed`; 5xx → `Transient`.
  Lookups answer 200 with `errors[]` of type `…/resource-not-found` for missing posts [V].

Assumed [U]: `reposts_of_me` lists posts that were only quoted (if not, quotes of a post nobody
reposted arrive only by webhook, or as mentions when they @mention us); `retweets` and
`quote_tweets` are newest first; a v1.1 DM
event id equals the v2 `dm_event` id; a repost count that stays equal (one undone, one new)
hides the new repost until the count moves again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import requests
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from connectors import register
from connectors.base import (
    MAX_BODY_CHARS,
    AuthExpired,
    Author,
    BadPayload,
    Batch,
    ConnectorError,
    NormalizedItem,
    NotAllowed,
    PermissionDenied,
    RateLimited,
    RawRequest,
    Target,
    Transient,
    Unsupported,
    WebhookRejected,
)
from connectors.http import HttpConnector, api_base_field, seconds_until_epoch
from connectors.text import post_excerpt, web_link

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
SNOWFLAKE_EPOCH_MS = 1288834974657
TWEET_FIELDS = (
    "id,text,author_id,created_at,conversation_id,in_reply_to_user_id,referenced_tweets,"
    "entities,edit_history_tweet_ids,note_tweet,public_metrics"
)
USER_FIELDS = "id,name,username,public_metrics"  # followers, for moderation rules
DM_FIELDS = "id,text,event_type,created_at,dm_conversation_id,sender_id,participant_ids"
MENTIONS_PAGE = 100  # 5–100
DMS_PAGE = 100  # 1–100
SEARCH_PAGE = 100  # 10–100
ENGAGEMENT_PAGE = 100  # retweets 1–100, quote_tweets 10–100, reposts_of_me 1–100
MAX_POST_PAGES = 3  # reposts_of_me pages read per sync
MAX_POSTS = 300  # our posts whose counts and watermarks the cursor keeps
LOOKUP_TIMEOUT = 3.0  # the webhook's conversation lookup: X waits for our answer
MAX_EVENTS = 500
DIGITS = re.compile(r"^[0-9]{1,19}$")
MENTIONS, DMS, ENGAGEMENT, WATCH = "mentions", "dms", "engagement", "watch"
EXPANSIONS = "author_id,referenced_tweets.id,referenced_tweets.id.author_id"
PERMISSION_PROBLEMS = ("/client-forbidden", "/unsupported-authentication")
NOT_ALLOWED_HINTS = (
    "duplicate content",
    "deleted or not visible",
    "not allowed to reply",
    "reply to this conversation is not allowed",
    "conversation",
    "hide",
    "too long",
)


# -- config ---------------------------------------------------------------------------------


def _user_id(value: str) -> None:
    if not DIGITS.match(value or ""):
        raise ValidationError(
            "the numeric id of the brand's X account (GET /2/users/me shows it), e.g. 2244994945"
        )


def _query(value: str) -> None:
    if not value.strip():
        raise ValidationError('write the words to watch, e.g. "Maison Lumière" -is:retweet')


class XConfig(Schema):
    class Meta:
        unknown = RAISE

    api_base = api_base_field("https://api.x.com")
    access_token = fields.String(
        required=True,
        validate=validate.Length(min=8, max=2048),
        error_messages={
            "required": "Paste the OAuth 2.0 user access token of the brand's X account."
        },
        metadata={
            "secret": True,
            "description": "OAuth 2.0 user access token (scopes tweet.read users.read dm.read "
            "dm.write tweet.write tweet.moderate.write like.write)",
        },
    )
    consumer_secret = fields.String(
        load_default=None,
        validate=validate.Length(min=16, max=200),
        metadata={
            "secret": True,
            "description": "The X app's API key secret; it signs Account Activity webhooks "
            "(leave empty when the channel only polls)",
        },
    )
    user_id = fields.String(
        required=True,
        validate=_user_id,
        error_messages={"required": "Give the numeric id of the brand's X account."},
        metadata={"description": "Numeric id of the brand's X account"},
    )
    watch_query = fields.String(
        load_default=None,
        validate=[validate.Length(max=512), _query],
        metadata={
            "description": "Optional search query for brand mentions without an @ "
            '(X search syntax, last 7 days), e.g. "Maison Lumière" -is:retweet'
        },
    )
    tolerance = fields.Integer(
        load_default=300,
        validate=validate.Range(30, 3600),
        metadata={"description": "Oldest webhook event accepted, in seconds"},
    )


# -- helpers --------------------------------------------------------------------------------


def _id_key(value: str | None) -> tuple[int, str]:
    """Order X ids (snowflakes: numeric strings, growing with time)."""
    value = value or ""
    return len(value), value


def _newer(value: str | None, mark: str | None) -> bool:
    return value is not None and (mark is None or _id_key(value) > _id_key(mark))


def _newest(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return max(a, b, key=_id_key)


def snowflake_time(tweet_id: str) -> datetime | None:
    """When a post or event was created, read from its snowflake id."""
    try:
        ms = (int(tweet_id) >> 22) + SNOWFLAKE_EPOCH_MS
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(ms / 1000, UTC)


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _legacy_time(value: Any) -> datetime | None:
    """A v1.1 `created_at` such as "Wed Oct 10 20:19:24 +0000 2018"."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)
    except ValueError:
        return None


def _ms_time(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _either(record: Mapping, *names: str) -> Any:
    """The first present field among the spec's old and new names (tweets / posts)."""
    for name in names:
        if record.get(name) is not None:
            return record[name]
    return None


def _refs(tweet: Mapping) -> dict[str, str]:
    refs = _either(tweet, "referenced_tweets", "referenced_posts") or []
    return {
        str(r.get("type")): str(r.get("id")) for r in refs if isinstance(r, Mapping) and r.get("id")
    }


def _without_link_to(text: str, urls: Iterable[Mapping], quoted_id: str) -> str:
    """Quote text without the link to the quoted post (X appends one in some clients)."""
    for entity in urls:
        expanded = str(entity.get("expanded_url") or "")
        short = entity.get("url")
        if short and re.search(rf"/status(?:es)?/{re.escape(quoted_id)}\b", expanded):
            text = text.replace(str(short), "")
    return text.strip()


def _crc_token(secret: str, message: str | bytes) -> str:
    data = message.encode() if isinstance(message, str) else message
    digest = hmac.new(secret.encode(), data, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def problem_text(response: requests.Response) -> str:
    """The readable part of an X error body: a problem's detail, or v1-style messages."""
    try:
        body = response.json()
    except ValueError:
        body = None
    parts: list[str] = []
    if isinstance(body, Mapping):
        for key in ("detail", "title"):
            if isinstance(body.get(key), str) and body[key] not in parts:
                parts.append(body[key])
                break
        for error in body.get("errors") or []:
            if isinstance(error, Mapping):
                message = error.get("message") or error.get("detail")
                if isinstance(message, str) and message not in parts:
                    parts.append(message)
        if isinstance(body.get("error"), str):
            parts.append(body["error"])
    text = " ".join(p if p.endswith((".", "!", "?")) else p + "." for p in parts)
    text = text or f"HTTP {response.status_code}"
    return text[:300]


def _problem_type(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("type") or "") if isinstance(body, Mapping) else ""


# -- the connector --------------------------------------------------------------------------


@register
class XConnector(HttpConnector):
    type = "x"
    label = "X"
    capabilities = frozenset({"reply", "hide", "unhide", "like"})
    config_schema = XConfig
    polls = True
    receives_webhooks = True
    default_api_base = "https://api.x.com"

    @classmethod
    def require(cls, action: str) -> None:
        if action == "delete":
            raise Unsupported(
                "X cannot delete someone else's post; hide the reply instead (in the brand's "
                "own threads) or report it on X"
            )
        super().require(action)

    @property
    def me(self) -> str:
        return str(self.config["user_id"])

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config['access_token']}"}

    def raise_error(self, response: requests.Response) -> None:
        status, message = response.status_code, problem_text(response)
        kind = _problem_type(response)
        if status == 429:
            reset = response.headers.get("x-rate-limit-reset")
            wait = min(24 * 3600.0, seconds_until_epoch(reset, default=900.0))
            if kind.endswith("/usage-capped"):
                raise RateLimited(wait, f"X usage cap reached ({message}); retry in {wait:.0f} s")
            raise RateLimited(wait, f"X rate limit reached; calls resume in {wait:.0f} s")
        if status == 401:
            raise AuthExpired(
                f"X refused the access token ({message}); reconnect the X channel with a new token"
            )
        if status == 403:
            lowered = message.lower()
            if not kind.endswith(PERMISSION_PROBLEMS) and any(
                hint in lowered for hint in NOT_ALLOWED_HINTS
            ):
                raise NotAllowed(f"X refused it: {message}")
            raise PermissionDenied(
                f"X refused this call ({message}); the app or the token may lack the access "
                "level or scope it needs"
            )
        if status in (404, 410):
            raise NotAllowed(
                f"X cannot find it ({message}): it was deleted or is not visible to the account"
            )
        if status == 400 and "too long" in message.lower():
            raise NotAllowed(f"X refused the text: {message} (280 characters at most)")
        if status == 400:
            raise ConnectorError(f"X refused the request: {message}")
        super().raise_error(response)

    # -- who am I -----------------------------------------------------------------------------

    def check(self) -> str:
        user = (self.get_json("2/users/me", params={"user.fields": USER_FIELDS}) or {}).get(
            "data"
        ) or {}
        handle = user.get("username") or user.get("id")
        if str(user.get("id")) != self.me:
            raise PermissionDenied(
                f"The access token belongs to @{handle} (id {user.get('id')}), not to the account "
                f"this channel watches (id {self.me}); reconnect with the brand's account"
            )
        name = f" ({user['name']})" if user.get("name") else ""
        return f"Connected to @{handle}{name}"

    # -- pull ---------------------------------------------------------------------------------

    def feeds(self) -> list[str]:
        query = (self.config.get("watch_query") or "").strip()
        watch = [f"{WATCH}:{hashlib.sha1(query.encode()).hexdigest()[:12]}"] if query else []
        return [MENTIONS, DMS, ENGAGEMENT, *watch]

    def pull(self, cursor: Any) -> Batch:
        """One page of one feed per call; a feed's watermark moves when its last page is read."""
        state = dict(cursor) if isinstance(cursor, Mapping) else {}
        feeds = self.feeds()
        marks = {k: v for k, v in (state.get("marks") or {}).items() if k in feeds}
        posts = {
            str(p[0]): list(p[1:5])
            for p in state.get("posts") or []
            if isinstance(p, list) and len(p) == 5
        }
        run = dict(state.get("run") or {})
        todo = [f for f in run.get("todo") or [] if f in feeds]
        if not todo:
            todo, run = list(feeds), {}
        feed = todo[0]
        if run.get("feed") != feed:
            run = {"feed": feed}
        handle = state.get("handle")

        if feed == MENTIONS:
            items, done = self._mentions(run, marks.get(feed))
        elif feed == DMS:
            items, done = self._dms(run, marks.get(feed))
        elif feed == ENGAGEMENT:
            items, done = self._engagement(run, posts)
        else:
            if handle is None:
                handle = self._handle()
            items, done = self._watch(run, marks.get(feed), handle)

        if done:
            if run.get("newest") is not None:
                marks[feed] = _newest(marks.get(feed), run["newest"])
            for post_id, values in (run.get("pending") or {}).items():
                posts.pop(post_id, None)
                posts[post_id] = values
            todo = todo[1:]
            run = {}
        run["todo"] = todo
        new_cursor: dict[str, Any] = {
            "v": 1,
            "marks": marks,
            "posts": [[k, *v] for k, v in list(posts.items())[-MAX_POSTS:]],
            "run": run if todo else None,
        }
        if handle is not None:
            new_cursor["handle"] = handle
        return Batch(items, new_cursor, more=bool(todo))

    def _handle(self) -> str:
        user = (self.get_json("2/users/me", params={"user.fields": USER_FIELDS}) or {}).get(
            "data"
        ) or {}
        return str(user.get("username") or "")

    def _page(self, path: str, params: dict[str, Any], run: dict) -> tuple[dict, str | None]:
        if run.get("token"):
            params = params | {"pagination_token": run["token"]}
        page = self.get_json(path, params=params)
        if not isinstance(page, Mapping):
            raise Transient("X answered with something other than a JSON object")
        meta = page.get("meta") if isinstance(page.get("meta"), Mapping) else {}
        token = meta.get("next_token")
        return dict(page), str(token) if token else None

    def _mentions(self, run: dict, mark: str | None) -> tuple[list[NormalizedItem], bool]:
        params: dict[str, Any] = {
            "max_results": MENTIONS_PAGE,
            "tweet.fields": TWEET_FIELDS,
            "expansions": EXPANSIONS,
            "user.fields": USER_FIELDS,
        }
        if mark:
            params["since_id"] = mark
        page, token = self._page(f"2/users/{self.me}/mentions", params, run)
        data = [t for t in page.get("data") or [] if isinstance(t, Mapping)]
        run["newest"] = _newest(run.get("newest"), (page.get("meta") or {}).get("newest_id"))
        context = _Context(page, self.me)
        items = []
        for tweet in data:
            run["newest"] = _newest(run.get("newest"), str(tweet.get("id")))
            if _newer(str(tweet.get("id")), mark):
                item = self._tweet_item(tweet, context)
                if item is not None:
                    items.append(item)
        run["token"] = token
        return items, not (token and data)

    def _dms(self, run: dict, mark: str | None) -> tuple[list[NormalizedItem], bool]:
        params = {
            "max_results": DMS_PAGE,
            "event_types": "MessageCreate",
            "dm_event.fields": DM_FIELDS,
            "expansions": "sender_id",
            "user.fields": USER_FIELDS,
        }
        page, token = self._page("2/dm_events", params, run)
        users = _Context(page, self.me).users
        items, reached = [], False
        for event in page.get("data") or []:
            if not isinstance(event, Mapping):
                continue
            event_id = str(event.get("id"))
            run["newest"] = _newest(run.get("newest"), event_id)
            if not _newer(event_id, mark):
                reached = True
                continue
            item = self._dm_item(event, users)
            if item is not None:
                items.append(item)
        run["token"] = token
        return items, reached or not (token and page.get("data"))

    def _engagement(self, run: dict, posts: dict[str, list]) -> tuple[list[NormalizedItem], bool]:
        pending: dict[str, list] = run.setdefault("pending", {})
        tasks: list = run.setdefault("tasks", [])
        if run.get("phase") != "tasks":  # list our reposted posts and see which ones moved
            params = {
                "max_results": ENGAGEMENT_PAGE,
                "tweet.fields": "id,created_at,public_metrics,conversation_id",
            }
            page, token = self._page("2/users/reposts_of_me", params, run)
            for post in page.get("data") or []:
                if not isinstance(post, Mapping) or not post.get("id"):
                    continue
                post_id = str(post["id"])
                metrics = post.get("public_metrics") or {}
                reposts, quotes = metrics.get("retweet_count"), metrics.get("quote_count")
                known = pending.get(post_id) or posts.get(post_id) or [None, None, None, None]
                values = [reposts, quotes, known[2], known[3]]
                if reposts is None or reposts != known[0]:
                    tasks.append([post_id, "retweets"])
                if quotes is None or quotes != known[1]:
                    tasks.append([post_id, "quote_tweets"])
                pending[post_id] = values
            run["pages"] = run.get("pages", 0) + 1
            run["token"] = token
            if not token or not page.get("data") or run["pages"] >= MAX_POST_PAGES:
                run.update(phase="tasks", token=None)
            return [], run.get("phase") == "tasks" and not tasks

        post_id, what = tasks[0]
        values = pending.setdefault(post_id, [None, None, None, None])
        slot = 2 if what == "retweets" else 3
        mark = (posts.get(post_id) or [None] * 4)[slot]
        params: dict[str, Any] = {
            "max_results": ENGAGEMENT_PAGE,
            "tweet.fields": TWEET_FIELDS,
            "expansions": EXPANSIONS,
            "user.fields": USER_FIELDS,
        }
        page, token = self._page(f"2/tweets/{post_id}/{what}", params, run)
        context = _Context(page, self.me)
        items, reached = [], False
        for tweet in page.get("data") or []:
            if not isinstance(tweet, Mapping):
                continue
            tweet_id = str(tweet.get("id"))
            values[slot] = _newest(values[slot], tweet_id)
            if not _newer(tweet_id, mark):
                reached = True
                continue
            if what == "retweets":
                item = self._tweet_item(tweet, context, kind="repost", post_id=post_id)
            else:
                item = self._tweet_item(tweet, context, kind="quote", post_id=post_id)
            if item is not None:
                items.append(item)
        values[slot] = _newest(values[slot], mark)
        run["token"] = token
        if reached or not (token and page.get("data")):
            tasks.pop(0)
            run["token"] = None
        return items, not tasks

    def _watch(self, run: dict, mark: str | None, handle: str) -> tuple[list[NormalizedItem], bool]:
        params: dict[str, Any] = {
            "query": self.config["watch_query"].strip(),
            "max_results": SEARCH_PAGE,
            "tweet.fields": TWEET_FIELDS,
            "expansions": EXPANSIONS,
            "user.fields": USER_FIELDS,
        }
        if mark and not run.get("unbounded"):
            params["since_id"] = mark
        try:
            page, token = self._page("2/tweets/search/recent", params, run)
        except ConnectorError as exc:
            # recent search refuses a since_id older than its 7-day window: search the whole
            # window instead and keep only what is newer than the watermark
            if type(exc) is not ConnectorError or "since_id" not in str(exc) or run.get("token"):
                raise
            run["unbounded"] = True
            params.pop("since_id", None)
            page, token = self._page("2/tweets/search/recent", params, run)
        data = [t for t in page.get("data") or [] if isinstance(t, Mapping)]
        run["newest"] = _newest(run.get("newest"), (page.get("meta") or {}).get("newest_id"))
        context = _Context(page, self.me)
        items, reached = [], False
        for tweet in data:
            tweet_id = str(tweet.get("id"))
            run["newest"] = _newest(run.get("newest"), tweet_id)
            if not _newer(tweet_id, mark):
                reached = True
                continue
            if self._elsewhere(tweet, context, handle):
                continue
            item = self._tweet_item(tweet, context)
            if item is not None:
                items.append(item)
        run["token"] = token
        return items, reached or not (token and data)

    def _elsewhere(self, tweet: Mapping, context: _Context, handle: str) -> bool:
        """Whether another feed reports this search result (mentions, reposts, quotes of ours)."""
        refs = _refs(tweet)
        if "retweeted" in refs or context.author_of(refs.get("quoted")) == self.me:
            return True
        for mention in (tweet.get("entities") or {}).get("mentions") or []:
            if not isinstance(mention, Mapping):
                continue
            if str(mention.get("id") or "") == self.me:
                return True
            username = str(mention.get("username") or "")
            if handle and username.casefold() == handle.casefold():
                return True
        return False

    # -- v2 items -----------------------------------------------------------------------------

    def _tweet_item(
        self,
        tweet: Mapping,
        context: _Context,
        *,
        kind: str | None = None,
        post_id: str | None = None,
    ) -> NormalizedItem | None:
        tweet_id, author_id = tweet.get("id"), tweet.get("author_id")
        if not tweet_id or not author_id:
            return None
        tweet_id, author_id = str(tweet_id), str(author_id)
        refs = _refs(tweet)
        note = _either(tweet, "note_tweet", "note_post") or {}
        text = html.unescape(str(note.get("text") or tweet.get("text") or ""))
        conversation = str(tweet.get("conversation_id") or tweet_id)
        parent = refs.get("replied_to")
        if kind is None:
            if "retweeted" in refs:
                if context.author_of(refs["retweeted"]) != self.me:
                    return None  # a repost of someone else's post: nothing to answer
                kind, post_id = "repost", refs["retweeted"]
            elif "quoted" in refs and context.author_of(refs["quoted"]) == self.me:
                kind, post_id = "quote", refs["quoted"]
            else:
                kind = "mention"
        if kind == "quote":
            quoted = post_id or refs.get("quoted") or ""
            urls = (tweet.get("entities") or {}).get("urls") or []
            if not _without_link_to(text, [u for u in urls if isinstance(u, Mapping)], quoted):
                kind = "repost"
        if kind == "repost":
            thread = post_id or conversation
        else:
            thread = conversation
            if post_id is None and conversation != tweet_id:
                post_id = conversation
        history = _either(tweet, "edit_history_tweet_ids", "edit_history_post_ids") or []
        history = [str(i) for i in history if i]
        external_id, edited_at = tweet_id, None
        created = _iso(tweet.get("created_at")) or snowflake_time(tweet_id)
        if len(history) > 1:
            external_id = history[0]
            edited_at = created
            created = snowflake_time(external_id) or created
        if created is None:
            return None
        user = context.users.get(author_id, {})
        username = user.get("username")
        answered = post_id if kind in ("quote", "repost") else parent or refs.get("quoted")
        post_text, post_url = context.post(answered)
        return NormalizedItem(
            external_id=external_id,
            kind=kind,
            author=Author(
                id=author_id,
                handle=f"@{username}"[:255] if username else None,
                name=str(user.get("name") or username or author_id)[:255],
                followers=_followers(user.get("public_metrics")),
            ),
            created_at=created,
            edited_at=edited_at,
            body=text[:MAX_BODY_CHARS],
            thread_id=thread,
            post_id=post_id,
            parent_id=parent,
            url=f"https://x.com/{username}/status/{tweet_id}" if username else None,
            outbound=author_id == self.me,
            post_text=post_text,
            post_url=post_url,
        )

    def _dm_item(self, event: Mapping, users: Mapping[str, Mapping]) -> NormalizedItem | None:
        event_id, sender = event.get("id"), event.get("sender_id")
        if event.get("event_type", "MessageCreate") != "MessageCreate" or not event_id:
            return None
        if not sender:
            return None
        sender = str(sender)
        created = _iso(event.get("created_at")) or snowflake_time(str(event_id))
        if created is None:
            return None
        conversation = event.get("dm_conversation_id")
        if not conversation:
            others = [str(p) for p in event.get("participant_ids") or [] if str(p) != sender]
            conversation = one_to_one(sender, others[0]) if len(others) == 1 else None
        user = users.get(sender, {})
        username = user.get("username")
        return NormalizedItem(
            external_id=str(event_id),
            kind="dm",
            author=Author(
                id=sender,
                handle=f"@{username}"[:255] if username else None,
                name=str(user.get("name") or username or sender)[:255],
            ),
            created_at=created,
            body=str(event.get("text") or "")[:MAX_BODY_CHARS],
            thread_id=str(conversation) if conversation else None,
            outbound=sender == self.me,
        )

    # -- webhooks -----------------------------------------------------------------------------

    def _consumer_secret(self) -> str:
        secret = self.config.get("consumer_secret")
        if not secret:
            raise WebhookRejected(
                "this X channel has no consumer secret: add the app's API key secret to "
                "receive Account Activity webhooks"
            )
        return str(secret)

    def handshake(self, request: RawRequest) -> tuple[int, str] | None:
        """Answer X's CRC: GET ?crc_token= → the token's HMAC under the consumer secret."""
        if request.method != "GET" or "crc_token" not in request.query:
            return None
        token = request.query.get("crc_token") or ""
        secret = self.config.get("consumer_secret")
        if not token or not secret:
            return 400, json.dumps({"error": "crc_token and a consumer secret are needed"})
        return 200, json.dumps({"response_token": _crc_token(str(secret), token)})

    def verify_webhook(self, request: RawRequest) -> None:
        """Signature over the raw body (constant time), then the events' freshness."""
        secret = self._consumer_secret()
        headers = {k.lower(): v for k, v in request.headers.items()}
        given = headers.get(SIGNATURE_HEADER, "")
        if not given:
            raise WebhookRejected(f"missing {SIGNATURE_HEADER} header")
        expected = _crc_token(secret, request.body)
        if not hmac.compare_digest(expected.encode(), given.strip().encode()):
            raise WebhookRejected("X webhook signature does not match")
        try:
            envelope = json.loads(request.body)
        except (UnicodeDecodeError, ValueError):
            return  # signed but unreadable: parse_webhook says what is wrong
        if not isinstance(envelope, Mapping):
            return
        stamps, undated = [], False
        for key, value in envelope.items():
            if not key.endswith("_events") or not isinstance(value, list):
                continue
            for event in value:
                moment = _event_time(event) if isinstance(event, Mapping) else None
                if moment is None:
                    undated = undated or key in ("tweet_create_events", "direct_message_events")
                else:
                    stamps.append(moment.timestamp())
        tolerance = float(self.config.get("tolerance") or 300)
        if not stamps:
            if undated:
                raise WebhookRejected("X events without a timestamp cannot be checked for replay")
            return
        newest = max(stamps)
        if time.time() - newest > tolerance:
            raise WebhookRejected("X events are older than the accepted window (replay?)")
        if newest - time.time() > tolerance:
            raise WebhookRejected("X events are dated in the future")

    def parse_webhook(self, body: bytes) -> list[NormalizedItem]:
        """Account Activity (v1.1 shapes) → items; malformed bodies raise BadPayload."""
        try:
            envelope = json.loads(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadPayload("body is not valid JSON", {"body": [str(exc)]}) from exc
        if not isinstance(envelope, Mapping):
            raise BadPayload("expected a JSON object", {"body": ["must be an object"]})
        tweets = envelope.get("tweet_create_events")
        dms = envelope.get("direct_message_events")
        errors: dict[str, list[str]] = {}
        for key, value in (("tweet_create_events", tweets), ("direct_message_events", dms)):
            if value is not None and not isinstance(value, list):
                errors[key] = ["must be a list"]
            elif value is not None and len(value) > MAX_EVENTS:
                errors[key] = [f"at most {MAX_EVENTS} events"]
        for_user = envelope.get("for_user_id")
        if (tweets or dms) and not (isinstance(for_user, str) and DIGITS.match(for_user)):
            errors["for_user_id"] = ["required: the numeric id of the subscribed account"]
        users = envelope.get("users")
        if users is not None and not isinstance(users, Mapping):
            errors["users"] = ["must be an object keyed by user id"]
        if errors:
            raise BadPayload("not an X Account Activity delivery", errors)
        if for_user is not None and str(for_user) != self.me:
            return []  # another account subscribed to the same app; not this channel's
        tweets = tweets if isinstance(tweets, list) else []
        dms = dms if isinstance(dms, list) else []
        for index, tweet in enumerate(tweets):
            errors |= _check_legacy_tweet(tweet, f"tweet_create_events.{index}")
        for index, event in enumerate(dms):
            errors |= _check_legacy_dm(event, f"direct_message_events.{index}")
        if errors:
            raise BadPayload("invalid X events", errors)

        roots, parents = self._reply_context(
            [str(t["id_str"]) for t in tweets if t.get("in_reply_to_status_id_str")]
        )
        items = []
        for tweet in tweets:
            item = self._legacy_tweet_item(tweet, roots, parents)
            if item is not None:
                items.append(item)
        for event in dms:
            item = self._legacy_dm_item(event, users or {})
            if item is not None:
                items.append(item)
        return items

    def _reply_context(self, tweet_ids: list[str]) -> tuple[dict[str, str], dict[str, str]]:
        """Conversation roots of replies (v1.1 has none) and the text of the posts they answer:
        one short lookup, no retry; ({reply id: root id}, {parent id: text})."""
        ids = list(dict.fromkeys(i for i in tweet_ids if i))[:100]
        if not ids:
            return {}, {}
        params = {
            "ids": ",".join(ids),
            "tweet.fields": "conversation_id",
            "expansions": "referenced_tweets.id",
        }
        try:
            response = self.http.get(
                self.url("2/tweets"),
                params=params,
                headers=self.auth_headers(),
                timeout=LOOKUP_TIMEOUT,
            )
            page = response.json() if response.status_code == 200 else None
            context = _Context(page, self.me) if isinstance(page, Mapping) else None
        except (requests.RequestException, ValueError, AttributeError, ConnectorError):
            context = None
        if context is None:
            return {}, {}
        roots = {
            str(t["id"]): str(t["conversation_id"])
            for t in page.get("data") or []
            if isinstance(t, Mapping) and t.get("id") and t.get("conversation_id")
        }
        parents = {key: text for key in context.tweets if (text := context.post(key)[0])}
        return roots, parents

    def _legacy_tweet_item(
        self, tweet: Mapping, roots: Mapping[str, str], parents: Mapping[str, str]
    ) -> NormalizedItem | None:
        tweet_id = str(tweet["id_str"])
        user = tweet["user"]
        author_id = str(user["id_str"])
        retweeted = tweet.get("retweeted_status")
        quoted = tweet.get("quoted_status")
        extended = (
            tweet.get("extended_tweet") if isinstance(tweet.get("extended_tweet"), Mapping) else {}
        )
        text = html.unescape(
            str(extended.get("full_text") or tweet.get("full_text") or tweet.get("text") or "")
        )
        parent = tweet.get("in_reply_to_status_id_str")
        parent = str(parent) if parent else None
        thread = roots.get(tweet_id) or parent or tweet_id
        post_id = thread if parent else None
        if isinstance(retweeted, Mapping):
            if _legacy_user_id(retweeted) != self.me or author_id == self.me:
                return None
            kind, post_id = "repost", str(retweeted.get("id_str") or "")
            thread = post_id
        elif isinstance(quoted, Mapping) and _legacy_user_id(quoted) == self.me:
            kind, post_id = "quote", str(quoted.get("id_str") or tweet.get("quoted_status_id_str"))
            entities = extended.get("entities") or tweet.get("entities") or {}
            urls = [u for u in entities.get("urls") or [] if isinstance(u, Mapping)]
            if not _without_link_to(text, urls, post_id):
                kind = "repost"
        else:
            kind = "mention"
        created = _event_time(tweet) or snowflake_time(tweet_id)
        if created is None:
            return None
        post_text, post_url = _legacy_answered(tweet, kind, parents)
        handle = user.get("screen_name")
        return NormalizedItem(
            external_id=tweet_id,
            kind=kind,
            author=Author(
                id=author_id,
                handle=f"@{handle}"[:255] if handle else None,
                name=str(user.get("name") or handle or author_id)[:255],
                followers=_followers(user),
            ),
            created_at=created,
            body=text[:MAX_BODY_CHARS],
            thread_id=thread,
            post_id=post_id,
            parent_id=parent,
            url=f"https://x.com/{handle}/status/{tweet_id}" if handle else None,
            outbound=author_id == self.me,
            post_text=post_text,
            post_url=post_url,
        )

    def _legacy_dm_item(self, event: Mapping, users: Mapping) -> NormalizedItem | None:
        if event.get("type") != "message_create":
            return None
        create = event["message_create"]
        sender = str(create["sender_id"])
        recipient = str(create["target"]["recipient_id"])
        user = users.get(sender) if isinstance(users.get(sender), Mapping) else {}
        handle = user.get("screen_name")
        data = create.get("message_data") or {}
        return NormalizedItem(
            external_id=str(event["id"]),
            kind="dm",
            author=Author(
                id=sender,
                handle=f"@{handle}"[:255] if handle else None,
                name=str(user.get("name") or handle or sender)[:255],
                followers=_followers(user),
            ),
            created_at=_ms_time(event["created_timestamp"]) or datetime.now(UTC),
            body=str(data.get("text") or "")[:MAX_BODY_CHARS],
            thread_id=one_to_one(sender, recipient),
            outbound=sender == self.me,
        )

    # -- write --------------------------------------------------------------------------------

    def reply(self, target: Target, text: str) -> str:
        self.require("reply")
        text = (text or "").strip()
        if target is None:
            raise NotAllowed("X needs a message to answer; choose the post or DM to reply to")
        if not text:
            raise NotAllowed("X cannot send an empty reply")
        if target.kind == "dm":
            if target.thread_id:
                path = f"2/dm_conversations/{target.thread_id}/messages"
            elif target.author_id:
                path = f"2/dm_conversations/with/{target.author_id}/messages"
            else:
                raise NotAllowed("X needs the conversation or the person to send this DM to")
            created = self.json_of(self.call("POST", path, json={"text": text}))
            event_id = ((created or {}).get("data") or {}).get("dm_event_id")
            if not event_id:
                raise Transient("X answered the DM without a dm_event_id")
            return str(event_id)
        if target.kind == "repost":
            raise NotAllowed(
                "A repost has no words to answer on X; send the person a DM or answer one of "
                "their own posts instead"
            )
        body = {"text": text, "reply": {"in_reply_to_tweet_id": target.external_id}}
        created = self.json_of(self.call("POST", "2/tweets", json=body))
        tweet_id = ((created or {}).get("data") or {}).get("id")
        if not tweet_id:
            raise Transient("X answered the reply without a post id")
        return str(tweet_id)

    def moderate(self, target: Target, action: str) -> None:
        self.require(action)
        if target.kind == "dm":
            raise NotAllowed(f"X cannot {action} a direct message")
        if action == "like":
            self.call("POST", f"2/users/{self.me}/likes", json={"tweet_id": target.external_id})
            return
        self._check_hideable(target)
        self.call("PUT", f"2/tweets/{target.external_id}/hidden", json={"hidden": action == "hide"})

    def _check_hideable(self, target: Target) -> None:
        """Refuse, before writing, what X refuses: hiding outside the brand's own threads."""
        found = self._lookup([target.external_id, target.thread_id or ""])
        post = found.get(target.external_id)
        if post is None:
            raise NotAllowed("X cannot find this post: it was deleted or is not visible")
        if str(post.get("author_id")) == self.me:
            raise NotAllowed("X does not let the brand's account hide its own posts")
        root_id = str(post.get("conversation_id") or target.external_id)
        if root_id == target.external_id:
            raise NotAllowed(
                "X only hides replies, and this post starts its own conversation; it is not a "
                "reply in one of the brand's threads"
            )
        root = found.get(root_id) or self._lookup([root_id]).get(root_id)
        if root is None:
            return  # the root is gone: let X decide
        if str(root.get("author_id")) != self.me:
            raise NotAllowed(
                "X only lets the brand hide replies in conversations its own account started; "
                "this reply is in a conversation started by someone else"
            )

    def _lookup(self, ids: list[str]) -> dict[str, Mapping]:
        ids = list(dict.fromkeys(i for i in ids if i and DIGITS.match(i)))
        if not ids:
            return {}
        page = self.get_json(
            "2/tweets", params={"ids": ",".join(ids), "tweet.fields": "author_id,conversation_id"}
        )
        return {
            str(t["id"]): t
            for t in (page or {}).get("data") or []
            if isinstance(t, Mapping) and t.get("id")
        }


class _Context:
    """A page's expansions: users by id, referenced posts by id."""

    def __init__(self, page: Mapping, me: str):
        includes = page.get("includes") if isinstance(page.get("includes"), Mapping) else {}
        self.me = me
        self.users = {
            str(u["id"]): u
            for u in includes.get("users") or []
            if isinstance(u, Mapping) and u.get("id")
        }
        self.tweets = {
            str(t["id"]): t
            for t in (_either(includes, "tweets", "posts") or [])
            if isinstance(t, Mapping) and t.get("id")
        }

    def author_of(self, tweet_id: str | None) -> str | None:
        tweet = self.tweets.get(tweet_id or "")
        return str(tweet["author_id"]) if tweet and tweet.get("author_id") else None

    def post(self, tweet_id: str | None) -> tuple[str | None, str | None]:
        """The text and link of an expanded post, as far as the page's includes tell."""
        tweet = self.tweets.get(tweet_id or "")
        if tweet is None:
            return None, None
        note = _either(tweet, "note_tweet", "note_post") or {}
        text = html.unescape(str(note.get("text") or tweet.get("text") or ""))
        username = self.users.get(str(tweet.get("author_id")), {}).get("username")
        link = f"https://x.com/{username}/status/{tweet_id}" if username else None
        return post_excerpt(text), web_link(link)


def one_to_one(a: str, b: str) -> str:
    """X's id of the one-to-one DM conversation between two accounts."""
    low, high = sorted((str(a), str(b)), key=_id_key)
    return f"{low}-{high}"


def _legacy_post(tweet: Any) -> tuple[str | None, str | None]:
    """The text and link of a v1.1 post carried inside another (quoted or reposted)."""
    if not isinstance(tweet, Mapping):
        return None, None
    extended = tweet.get("extended_tweet")
    full = extended.get("full_text") if isinstance(extended, Mapping) else None
    text = html.unescape(str(full or tweet.get("full_text") or tweet.get("text") or ""))
    user = tweet.get("user") if isinstance(tweet.get("user"), Mapping) else {}
    tweet_id, handle = tweet.get("id_str"), user.get("screen_name")
    link = f"https://x.com/{handle}/status/{tweet_id}" if handle and tweet_id else None
    return post_excerpt(text), web_link(link)


def _legacy_answered(
    tweet: Mapping, kind: str, parents: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """The text and link of the post a v1.1 post answers, as far as the delivery tells:
    the post a repost or quote carries, else the parent of a reply (its text from the
    conversation lookup), else a post it quotes."""
    carried = tweet.get("retweeted_status") or tweet.get("quoted_status")
    parent = tweet.get("in_reply_to_status_id_str")
    if kind in ("repost", "quote") or not parent:
        return _legacy_post(carried)
    screen_name = tweet.get("in_reply_to_screen_name")
    link = f"https://x.com/{screen_name}/status/{parent}" if screen_name else None
    return parents.get(str(parent)), web_link(link)


def _legacy_user_id(tweet: Mapping) -> str | None:
    user = tweet.get("user")
    return str(user.get("id_str")) if isinstance(user, Mapping) and user.get("id_str") else None


def _event_time(event: Mapping) -> datetime | None:
    """An Account Activity event's time: `timestamp_ms`, `created_timestamp` or `created_at`."""
    for key in ("timestamp_ms", "created_timestamp"):
        if event.get(key) is not None:
            return _ms_time(event[key])
    return _legacy_time(event.get("created_at"))


def _check_legacy_tweet(tweet: Any, where: str) -> dict[str, list[str]]:
    if not isinstance(tweet, Mapping):
        return {where: ["must be an object"]}
    errors: dict[str, list[str]] = {}
    if not (isinstance(tweet.get("id_str"), str) and DIGITS.match(tweet["id_str"])):
        errors[f"{where}.id_str"] = ["required: the post id as a string"]
    user = tweet.get("user")
    if not isinstance(user, Mapping) or not isinstance(user.get("id_str"), str):
        errors[f"{where}.user.id_str"] = ["required: the author's id"]
    if _event_time(tweet) is None:
        errors[f"{where}.timestamp_ms"] = ["required: timestamp_ms or created_at"]
    extended = tweet.get("extended_tweet")
    if not any(
        isinstance(v, str)
        for v in (
            tweet.get("text"),
            tweet.get("full_text"),
            extended.get("full_text") if isinstance(extended, Mapping) else None,
        )
    ):
        errors[f"{where}.text"] = ["required"]
    return errors


def _check_legacy_dm(event: Any, where: str) -> dict[str, list[str]]:
    if not isinstance(event, Mapping):
        return {where: ["must be an object"]}
    if event.get("type") != "message_create":
        return {}
    errors: dict[str, list[str]] = {}
    if not isinstance(event.get("id"), str) or not event["id"]:
        errors[f"{where}.id"] = ["required"]
    if _ms_time(event.get("created_timestamp")) is None:
        errors[f"{where}.created_timestamp"] = ["required: milliseconds since the epoch"]
    create = event.get("message_create")
    if not isinstance(create, Mapping):
        return errors | {f"{where}.message_create": ["required"]}
    if not create.get("sender_id"):
        errors[f"{where}.message_create.sender_id"] = ["required"]
    target = create.get("target")
    if not isinstance(target, Mapping) or not target.get("recipient_id"):
        errors[f"{where}.message_create.target.recipient_id"] = ["required"]
    data = create.get("message_data")
    if not isinstance(data, Mapping) or not isinstance(data.get("text"), str):
        errors[f"{where}.message_create.message_data.text"] = ["required"]
    return errors


def _followers(metrics: Any) -> int | None:
    """`followers_count` of a v2 `public_metrics` or a v1.1 user object, when present."""
    if not isinstance(metrics, Mapping):
        return None
    value = metrics.get("followers_count")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
