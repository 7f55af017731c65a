"""Meta Graph API: what the Facebook and Instagram connectors share.

Both platforms speak the same Graph API (reference: ../shared/reference/platform-apis.md §2, §3):

- **Calls.** Versioned paths (`/v25.0/{node}/{edge}`, the version is configurable), the Page (or
  Instagram) token sent as the `access_token` query parameter, plus `appsecret_proof`
  (hex HMAC-SHA256 of the token keyed by the app secret) so apps that require it keep working.
- **Errors.** One body for everything, `{"error": {"message", "type", "code", "error_subcode",
  "fbtrace_id"}}`, usually on HTTP 400 or 403 whatever the cause, so the mapping reads the code:
  190 (and 102) → `AuthExpired`; 4, 17, 32, 613 and the 800xx business-use-case codes →
  `RateLimited`, waiting the `estimated_time_to_regain_access` minutes of the
  `X-Business-Use-Case-Usage` / `X-App-Usage` headers; 10 and 200–299 → `PermissionDenied`;
  100 with subcode 33 (object missing or unreachable) → `NotAllowed`; the messaging-window
  subcode 2018278 and the private-reply codes 10900 / 10903 → `NotAllowed` with a sentence;
  1, 2 and `is_transient` → `Transient`. [V] codes and shape (docs "Handling Errors", SDK);
  [P] 2018278, 2018001, 10900, 10903, 551 (seen in third-party integrations, not in the docs).
- **Paging.** `paging.cursors.after` with `paging.next`; only the absence of `next` ends a list.
  Time-based lists (the Page feed) carry only `next` links: those are followed as given, with
  the token stripped before the link is stored in a cursor (cursors are not secret).
- **Sync.** One pull = one Graph call. A sync is a queue of small tasks (one list page each) held
  in the cursor with the watermark of the previous finished sync, `{"ts": unix seconds,
  "ids": ids seen at exactly that second}`; the new watermark (the newest `created_time` seen)
  replaces it only when the queue is empty. Comments and messages have second resolution, so
  the ids at the boundary second keep a same-second latecomer from being lost or doubled.
- **Messaging.** Conversations (`/{id}/conversations?platform=messenger|instagram` with the
  first page of `messages{...}` inline, then `/{conversation-id}/messages`) are listed most
  recently updated first [P]; a sync stops at the first conversation not updated since the
  watermark. Replies use the Send API (`POST /{id}/messages`): `recipient.id` with
  `messaging_type: RESPONSE` inside the 24-hour standard window (optionally the `HUMAN_AGENT`
  tag up to 7 days), or `recipient.comment_id` for a private reply to a comment (one per
  comment, within 7 days).
- **Webhooks.** `GET ?hub.mode=subscribe&hub.verify_token&hub.challenge` is answered by echoing
  the challenge when the verify token matches (403 otherwise). Deliveries are signed
  `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`. Meta sends no signed
  timestamp header, so freshness comes from inside the signed body: the newest `entry[].time`
  (seconds) or messaging `timestamp` (milliseconds) must be within `tolerance` seconds. A
  delivery Meta retries after a long outage is therefore refused; the next poll reads what it
  carried. Messaging events carry no conversation id, so the conversation is looked up with
  `/{id}/conversations?user_id=<sender>` (one call per person and delivery) to thread a pushed
  message exactly like a pulled one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from marshmallow import RAISE, Schema, fields, validate

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
    WebhookRejected,
)
from connectors.http import HttpConnector, api_base_field

log = logging.getLogger(__name__)

GRAPH_BASE = "https://graph.facebook.com"
DEFAULT_VERSION = "v25.0"
SIGNATURE_HEADER = "X-Hub-Signature-256"
USAGE_HEADERS = ("X-Business-Use-Case-Usage", "X-App-Usage")

AUTH_CODES = frozenset({102, 190})
THROTTLE_CODES = frozenset({4, 17, 32, 613} | set(range(80001, 80015)))
TRANSIENT_CODES = frozenset({1, 2})
NOT_FOUND_SUBCODES = frozenset({33})
WINDOW_SUBCODES = frozenset({2018278})
NO_SUCH_USER_SUBCODE = 2018001
ALREADY_REPLIED_PRIVATELY = 10900
CANNOT_REPLY_PRIVATELY = 10903
RECIPIENT_UNAVAILABLE = 551
POLICY_BLOCK = 368
DUPLICATE_POST = 506
DEFAULT_THROTTLE_WAIT = 300.0

STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
PRIVATE_REPLY_WINDOW = timedelta(days=7)
MESSAGE_FIELDS = "id,message,from,to,created_time"
TOKEN_PARAMS = ("access_token", "appsecret_proof")


# -- small helpers ---------------------------------------------------------------------------


def parse_time(value: Any) -> datetime:
    """A Graph time: ISO 8601 with a `+0000` offset, or Unix seconds (webhooks), or ms."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError) as exc:
            raise ValueError(f"not a time: {value!r}") from exc
    if isinstance(value, str) and value:
        if value.isdigit():
            return parse_time(int(value))
        text = value.replace("Z", "+00:00")
        if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
            text = f"{text[:-2]}:{text[-2:]}"
        when = datetime.fromisoformat(text)
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
    raise ValueError(f"not a time: {value!r}")


def epoch(value: Any) -> int:
    """Whole Unix seconds of a Graph time."""
    return int(parse_time(value).timestamp())


def sign(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value Meta sends with a webhook body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def appsecret_proof(secret: str, token: str) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def graph_error(response: requests.Response) -> dict[str, Any] | None:
    """The `error` object of a Graph error body, or None when the body is something else."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def regain_minutes(headers: Mapping[str, str]) -> float | None:
    """The longest `estimated_time_to_regain_access` (minutes) in Meta's usage headers."""
    found: list[float] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            value = node.get("estimated_time_to_regain_access")
            if isinstance(value, int | float) and not isinstance(value, bool):
                found.append(float(value))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    for name in USAGE_HEADERS:
        raw = headers.get(name)
        if not raw:
            continue
        try:
            walk(json.loads(raw))
        except ValueError:
            continue
    return max(found) if found else None


def strip_token(url: str) -> str:
    """A paging link without the credentials Graph puts in it (cursors are stored in clear)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    kept = urlencode([(k, v) for k, v in query if k not in TOKEN_PARAMS])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, kept, parts.fragment))


def next_page(body: Mapping[str, Any]) -> dict[str, str] | None:
    """Where the next page of a Graph list is, or None when `paging.next` is absent."""
    paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
    link = paging.get("next")
    if not link:
        return None
    after = (paging.get("cursors") or {}).get("after")
    if after:
        return {"after": str(after)}
    return {"next": strip_token(str(link))}


def is_new(wm: Mapping[str, Any] | None, ts: int, item_id: str) -> bool:
    """Whether an item is past the watermark of the last finished sync."""
    if not wm:
        return True
    return ts > wm["ts"] or (ts == wm["ts"] and item_id not in wm["ids"])


def raise_mark(high: dict[str, Any] | None, ts: int, item_id: str) -> dict[str, Any]:
    """Move the in-progress watermark to include one more item."""
    if high is None or ts > high["ts"]:
        return {"ts": ts, "ids": [item_id]}
    if ts == high["ts"] and item_id not in high["ids"]:
        return {"ts": ts, "ids": [*high["ids"], item_id]}
    return high


def clip(text: Any) -> str:
    return str(text or "")[:MAX_BODY_CHARS]


def who(node: Any, fallback: str) -> Author:
    """An author from a Graph `from` object (`{id, name}` or `{id, username}`)."""
    node = node if isinstance(node, dict) else {}
    username = node.get("username")
    name = node.get("name") or username
    return Author(
        id=str(node.get("id") or fallback)[:255],
        handle=f"@{username}"[:255] if username else None,
        name=str(name)[:255] if name else None,
    )


# -- config ------------------------------------------------------------------------------------


class GraphConfig(Schema):
    """The settings both Meta connectors share."""

    class Meta:
        unknown = RAISE

    access_token = fields.String(
        required=True,
        validate=validate.Length(20, 1000, error="paste the whole access token"),
        metadata={"secret": True, "description": "long-lived Page access token"},
    )
    app_secret = fields.String(
        required=True,
        validate=validate.Length(16, 200, error="paste the app secret from the app dashboard"),
        metadata={
            "secret": True,
            "description": "app secret: verifies webhook signatures and signs calls",
        },
    )
    verify_token = fields.String(
        required=True,
        validate=validate.Length(8, 200, error="choose a verify token of at least 8 characters"),
        metadata={
            "secret": True,
            "description": "the verify token typed in the app's webhook settings",
        },
    )
    api_version = fields.String(
        load_default=DEFAULT_VERSION,
        validate=validate.Regexp(r"^v\d{1,3}\.0$", error="a Graph API version such as v25.0"),
        metadata={"description": "Graph API version"},
    )
    api_base = api_base_field(GRAPH_BASE)
    page_size = fields.Integer(
        load_default=25,
        validate=validate.Range(1, 100),
        metadata={"description": "items asked per Graph call"},
    )
    human_agent = fields.Boolean(
        load_default=False,
        metadata={
            "description": "answer DMs up to 7 days with the HUMAN_AGENT tag "
            "(needs Meta's Human Agent permission)"
        },
    )
    tolerance = fields.Integer(
        load_default=300,
        validate=validate.Range(30, 3600),
        metadata={"description": "oldest webhook delivery accepted, in seconds"},
    )


class GraphId(fields.String):
    """A numeric Graph object id."""

    def __init__(self, what: str, **kwargs: Any):
        super().__init__(
            validate=validate.Regexp(r"^\d{5,30}$", error=f"the numeric {what} id"), **kwargs
        )


# -- the shared connector ------------------------------------------------------------------------


class GraphConnector(HttpConnector):
    """A Meta Graph connector: calls, errors, paging, sync queue, Send API and webhooks."""

    default_api_base = GRAPH_BASE
    polls = True
    receives_webhooks = True
    webhook_object: ClassVar[str]  # "page" or "instagram"
    messaging_platform: ClassVar[str]  # "messenger" or "instagram"

    def __init__(self, config: Mapping[str, Any]):
        super().__init__(config)
        self.version = str(self.config.get("api_version") or DEFAULT_VERSION)
        self.token = str(self.config["access_token"])
        self.app_secret = str(self.config.get("app_secret") or "")
        self.limit = int(self.config.get("page_size") or 25)

    # -- what each platform defines -------------------------------------------------------------

    @property
    def inbox_id(self) -> str:
        """The node that owns the conversations and the Send API (`/{id}/messages`)."""
        raise NotImplementedError

    @property
    def own_ids(self) -> set[str]:
        """Ids that mean "written by us" (outbound echoes)."""
        raise NotImplementedError

    def first_tasks(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def run_task(
        self, task: dict[str, Any], wm: dict[str, Any] | None
    ) -> tuple[list[NormalizedItem], list[dict[str, Any]], dict[str, str] | None]:
        """Do one call of a task: (items, follow-up tasks, next page of this task or None)."""
        if task["t"] == "conversations":
            return self.conversations_task(task, wm)
        if task["t"] == "messages":
            return self.messages_task(task, wm)
        raise ConnectorError(f"unknown sync step {task['t']!r}")

    def change_items(
        self, field: str, value: dict[str, Any], when: datetime, where: str
    ) -> list[NormalizedItem]:
        """Items of one `entry[].changes[]` element (field and value already type-checked)."""
        return []

    # -- calls ------------------------------------------------------------------------------

    def path(self, *parts: str) -> str:
        return "/".join([self.version, *parts])

    def auth_params(self) -> dict[str, str]:
        params = {"access_token": self.token}
        if self.app_secret:
            params["appsecret_proof"] = appsecret_proof(self.app_secret, self.token)
        return params

    def raise_error(self, response: requests.Response) -> None:
        error = graph_error(response)
        if error is None:
            super().raise_error(response)
            return
        code, sub = error.get("code"), error.get("error_subcode")
        text = str(error.get("error_user_msg") or error.get("message") or "").strip()
        detail = f"{text} (error {code}{f'/{sub}' if sub else ''}"
        detail += f", trace {error['fbtrace_id']})" if error.get("fbtrace_id") else ")"
        name = self.label
        if code in AUTH_CODES:
            raise AuthExpired(
                f"{name} no longer accepts this channel's access token: reconnect the channel "
                f"with a new token. {detail}"
            )
        if code in THROTTLE_CODES:
            minutes = regain_minutes(response.headers)
            wait = minutes * 60 if minutes and minutes > 0 else DEFAULT_THROTTLE_WAIT
            wait = max(1.0, wait)
            raise RateLimited(
                wait,
                f"{name} is limiting this account's calls; they resume in about "
                f"{max(1, math.ceil(wait / 60))} min. {detail}",
            )
        if sub in WINDOW_SUBCODES:
            raise NotAllowed(f"{self.window_sentence()} {detail}")
        if code == ALREADY_REPLIED_PRIVATELY:
            raise NotAllowed(
                f"This comment already received its private reply; {name} allows only one. {detail}"
            )
        if code == CANNOT_REPLY_PRIVATELY:
            raise NotAllowed(
                f"{name} no longer lets the Page answer this comment in private. {detail}"
            )
        if code == RECIPIENT_UNAVAILABLE:
            raise NotAllowed(f"This person cannot receive messages right now. {detail}")
        if code == 100 and sub == NO_SUCH_USER_SUBCODE:
            raise NotAllowed(f"{name} does not know this person as a correspondent. {detail}")
        if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
            raise PermissionDenied(
                f"The access token lacks a permission this needs (for example "
                f"{self.permission_hint()}), or the person who connected it lost their role "
                f"on the account. {detail}"
            )
        if code == 100 and sub in NOT_FOUND_SUBCODES:
            raise NotAllowed(
                f"This item no longer exists on {name}, or the account cannot reach it. {detail}"
            )
        if code == POLICY_BLOCK:
            raise NotAllowed(f"{name} has temporarily blocked this action. {detail}")
        if code == DUPLICATE_POST:
            raise NotAllowed(f"{name} refused a duplicate of a message just sent. {detail}")
        if code in TRANSIENT_CODES or error.get("is_transient") or response.status_code >= 500:
            raise Transient(f"{name} failed for a moment. {detail}")
        if response.status_code == 429:
            super().raise_error(response)
        raise ConnectorError(f"{name} refused the call: {detail}")

    def permission_hint(self) -> str:
        return "pages_manage_engagement or pages_messaging"

    def window_sentence(self) -> str:
        return (
            f"{self.label} only lets a business answer a private message within 24 hours of "
            "the person's last message; they must write again before you can answer here."
        )

    def fetch(
        self, path: str, params: Mapping[str, Any], page: Mapping[str, str] | None
    ) -> tuple[dict[str, Any], dict[str, str] | None]:
        """GET one page of a Graph list: (body, where the next page is or None)."""
        if page and page.get("next"):
            body = self.get_json(page["next"])
        else:
            query = dict(params)
            if page and page.get("after"):
                query["after"] = page["after"]
            body = self.get_json(path, params=query)
        if not isinstance(body, dict) or not isinstance(body.get("data", []), list):
            raise Transient(f"{self.label} answered a list call with an unexpected body")
        return body, next_page(body)

    # -- pull -----------------------------------------------------------------------------------

    def pull(self, cursor: Any) -> Batch:
        """One Graph call of the sync in progress (or of a new one)."""
        state = cursor if isinstance(cursor, dict) else {}
        wm = state.get("wm")
        sync = state.get("sync")
        if not sync:
            sync = {"queue": self.first_tasks(), "high": wm}
        queue = [dict(t) for t in sync["queue"]]
        high = sync.get("high")
        items: list[NormalizedItem] = []
        if queue:
            task = queue[0]
            found, follow, page = self.run_task(task, wm)
            for item in found:
                ts = int(item.created_at.timestamp())
                if is_new(wm, ts, item.external_id):
                    items.append(item)
                    high = raise_mark(high, ts, item.external_id)
            if page:
                queue[0] = {k: v for k, v in task.items() if k not in ("after", "next")} | page
            else:
                queue.pop(0)
            queue.extend(follow)
        if not queue:
            return Batch(items, {"wm": high, "sync": None}, more=False)
        return Batch(items, {"wm": wm, "sync": {"queue": queue, "high": high}}, more=True)

    def conversations_task(
        self, task: dict[str, Any], wm: dict[str, Any] | None
    ) -> tuple[list[NormalizedItem], list[dict[str, Any]], dict[str, str] | None]:
        """One page of conversations, each with its newest messages inline."""
        params = {
            "platform": self.messaging_platform,
            "fields": f"id,updated_time,messages{{{MESSAGE_FIELDS}}}",
            "limit": self.limit,
        }
        body, page = self.fetch(self.path(self.inbox_id, "conversations"), params, task)
        items: list[NormalizedItem] = []
        follow: list[dict[str, Any]] = []
        for conv in body.get("data", []):
            if not isinstance(conv, dict) or not conv.get("id"):
                continue
            if wm and conv.get("updated_time") and epoch(conv["updated_time"]) < wm["ts"]:
                page = None  # most recently updated first: the rest is older still
                break
            inline = conv.get("messages") if isinstance(conv.get("messages"), dict) else {}
            found = self.message_items(str(conv["id"]), inline.get("data", []))
            items.extend(found)
            more = next_page(inline)
            if more and self.may_hold_new(found, wm):
                follow.append({"t": "messages", "id": str(conv["id"])} | more)
        return items, follow, page

    def messages_task(
        self, task: dict[str, Any], wm: dict[str, Any] | None
    ) -> tuple[list[NormalizedItem], list[dict[str, Any]], dict[str, str] | None]:
        """A further page of one conversation's messages (newest first)."""
        params = {"fields": MESSAGE_FIELDS, "limit": self.limit}
        body, page = self.fetch(self.path(task["id"], "messages"), params, task)
        found = self.message_items(task["id"], body.get("data", []))
        return found, [], page if self.may_hold_new(found, wm) else None

    @staticmethod
    def may_hold_new(found: list[NormalizedItem], wm: dict[str, Any] | None) -> bool:
        """Whether the page after a newest-first page may still hold items past the watermark."""
        if not wm:
            return True
        return not found or min(int(i.created_at.timestamp()) for i in found) >= wm["ts"]

    def message_items(self, conversation: str, messages: Iterable[Any]) -> list[NormalizedItem]:
        items = []
        for message in messages:
            if not isinstance(message, dict) or not message.get("id"):
                continue
            try:
                created = parse_time(message.get("created_time"))
            except ValueError:
                log.warning("%s message %s has no readable time", self.label, message.get("id"))
                continue
            author = who(message.get("from"), f"unknown-{conversation}")
            items.append(
                NormalizedItem(
                    external_id=str(message["id"]),
                    kind="dm",
                    author=author,
                    created_at=created,
                    body=clip(message.get("message")),
                    thread_id=conversation,
                    outbound=author.id in self.own_ids,
                )
            )
        return items

    # -- Send API ----------------------------------------------------------------------------

    def send_message(self, target: Target, text: str) -> str:
        """Answer a private conversation through the Send API, inside the messaging window."""
        if not target.author_id:
            raise NotAllowed("This conversation has no known correspondent to answer.")
        body: dict[str, Any] = {
            "recipient": {"id": target.author_id},
            "messaging_type": "RESPONSE",
            "message": {"text": text},
        }
        if target.created_at is not None:
            age = datetime.now(UTC) - target.created_at
            if age > STANDARD_WINDOW:
                if not (self.config.get("human_agent") and age <= HUMAN_AGENT_WINDOW):
                    raise NotAllowed(self.window_sentence())
                body["messaging_type"] = "MESSAGE_TAG"
                body["tag"] = "HUMAN_AGENT"
        return self.post_message(body)

    def private_reply(self, target: Target, text: str) -> str:
        """Answer a comment in private: one Send API message to its author (7 days, once)."""
        too_old = target.created_at and datetime.now(UTC) - target.created_at > PRIVATE_REPLY_WINDOW
        if too_old:
            raise NotAllowed(
                f"{self.label} allows a private reply only within 7 days of the comment."
            )
        body = {"recipient": {"comment_id": target.external_id}, "message": {"text": text}}
        return self.post_message(body)

    def post_message(self, body: dict[str, Any]) -> str:
        answer = self.json_of(self.call("POST", self.path(self.inbox_id, "messages"), json=body))
        if not isinstance(answer, dict) or not answer.get("message_id"):
            raise Transient(f"{self.label} accepted the message without giving its id")
        return str(answer["message_id"])

    # -- webhooks ------------------------------------------------------------------------------

    def handshake(self, request: RawRequest) -> tuple[int, str] | None:
        """Meta's subscription check: echo `hub.challenge` when the verify token matches."""
        query = request.query or {}
        if request.method != "GET" or not any(k.startswith("hub.") for k in query):
            return None
        given = str(query.get("hub.verify_token", ""))
        expected = str(self.config.get("verify_token", ""))
        if query.get("hub.mode") != "subscribe" or not hmac.compare_digest(
            given.encode(), expected.encode()
        ):
            return 403, "verify token does not match"
        challenge = str(query.get("hub.challenge", ""))
        if not challenge or len(challenge) > 200 or not challenge.isalnum():
            return 400, "missing or malformed hub.challenge"
        return 200, challenge

    def verify_webhook(self, request: RawRequest) -> None:
        """Signature over the raw body, then freshness from the times inside the signed body."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        given = headers.get(SIGNATURE_HEADER.lower(), "")
        if not given.startswith("sha256="):
            raise WebhookRejected(f"missing {SIGNATURE_HEADER}")
        expected = sign(self.app_secret, request.body)
        if not hmac.compare_digest(expected.encode(), given.strip().encode()):
            raise WebhookRejected("signature does not match (is the app secret right?)")
        try:
            data = json.loads(request.body)
            stamps = [
                parse_time(stamp).timestamp()
                for entry in data["entry"]
                for stamp in [
                    entry.get("time"),
                    *(e.get("timestamp") for e in entry.get("messaging") or []),
                ]
                if stamp is not None
            ]
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise WebhookRejected("cannot read the delivery's event times") from exc
        if not stamps:
            raise WebhookRejected("the delivery carries no event time")
        skew = time.time() - max(stamps)
        tolerance = int(self.config.get("tolerance", 300))
        if skew > tolerance:
            raise WebhookRejected(f"events are {int(skew)} s old (replay?)")
        if skew < -tolerance:
            raise WebhookRejected("events are dated in the future")

    def parse_webhook(self, body: bytes) -> list[NormalizedItem]:
        """Items of a Meta delivery: `entry[].changes[]` per platform, `entry[].messaging[]`."""
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadPayload("body is not valid JSON", {"body": [str(exc)]}) from exc
        if not isinstance(data, dict) or data.get("object") != self.webhook_object:
            raise BadPayload(
                f"expected object '{self.webhook_object}'", {"object": ["wrong or missing"]}
            )
        entries = data.get("entry")
        if not isinstance(entries, list) or not entries:
            raise BadPayload("expected a non-empty 'entry' list", {"entry": ["required"]})
        items: list[NormalizedItem] = []
        errors: dict[str, list[str]] = {}
        threads: dict[str, str | None] = {}
        for n, entry in enumerate(entries):
            where = f"entry.{n}"
            if not isinstance(entry, dict):
                errors[where] = ["must be an object"]
                continue
            if not isinstance(entry.get("id"), str | int) or isinstance(entry.get("id"), bool):
                errors[f"{where}.id"] = ["required"]
                continue
            try:
                when = parse_time(entry.get("time"))
            except ValueError:
                errors[f"{where}.time"] = ["required: the event time"]
                continue
            if str(entry["id"]) not in self.own_ids:
                continue  # another account of the same app: not this channel's
            changes = entry.get("changes", [])
            messaging = entry.get("messaging", [])
            if not isinstance(changes, list) or not isinstance(messaging, list):
                errors[where] = ["'changes' and 'messaging' must be lists"]
                continue
            for m, change in enumerate(changes):
                at = f"{where}.changes.{m}"
                if (
                    not isinstance(change, dict)
                    or not isinstance(change.get("field"), str)
                    or not isinstance(change.get("value"), dict)
                ):
                    errors[at] = ["expected {field, value}"]
                    continue
                try:
                    if change["field"] == "messages" and "sender" in change["value"]:
                        items.extend(self.messaging_items([change["value"]], at, threads))
                    else:
                        items.extend(self.change_items(change["field"], change["value"], when, at))
                except BadPayload as exc:
                    errors.update(exc.errors)
            try:
                items.extend(self.messaging_items(messaging, f"{where}.messaging", threads))
            except BadPayload as exc:
                errors.update(exc.errors)
        if errors:
            raise BadPayload("invalid webhook delivery", errors)
        return items

    def messaging_items(
        self, events: list[Any], where: str, threads: dict[str, str | None]
    ) -> list[NormalizedItem]:
        """DMs (and echoes of ours) in `messaging[]`; receipts, reads and postbacks are skipped."""
        items, errors = [], {}
        for n, event in enumerate(events):
            at = f"{where}.{n}"
            if not isinstance(event, dict):
                errors[at] = ["must be an object"]
                continue
            message = event.get("message")
            if message is None:
                continue  # delivery, read, reaction, postback…: nothing to answer
            sender = event.get("sender") if isinstance(event.get("sender"), dict) else {}
            recipient = event.get("recipient") if isinstance(event.get("recipient"), dict) else {}
            problems = []
            if not isinstance(message, dict) or not isinstance(message.get("mid"), str):
                problems.append("message.mid is required")
            if not sender.get("id") or not recipient.get("id"):
                problems.append("sender.id and recipient.id are required")
            try:
                created = parse_time(event.get("timestamp"))
            except ValueError:
                problems.append("timestamp is required")
            if problems:
                errors[at] = problems
                continue
            if message.get("is_deleted"):
                continue
            echo = bool(message.get("is_echo"))
            person = str(recipient["id"] if echo else sender["id"])
            thread = self.conversation_of(person, threads)
            if thread is None:
                continue  # not visible yet: the next poll reads it from the conversation
            items.append(
                NormalizedItem(
                    external_id=message["mid"],
                    kind="dm",
                    author=Author(id=str(sender["id"])),
                    created_at=created,
                    body=clip(message.get("text")),
                    thread_id=thread,
                    outbound=echo,
                )
            )
        if errors:
            raise BadPayload("invalid messaging events", errors)
        return items

    def conversation_of(self, person: str, threads: dict[str, str | None]) -> str | None:
        """The conversation id of the chat with one person (webhooks carry none)."""
        if person not in threads:
            params = {"platform": self.messaging_platform, "user_id": person, "fields": "id"}
            try:
                body = self.get_json(self.path(self.inbox_id, "conversations"), params=params)
            except NotAllowed:
                body = {}
            data = body.get("data") if isinstance(body, dict) else None
            first = data[0] if isinstance(data, list) and data else {}
            threads[person] = (
                str(first["id"]) if isinstance(first, dict) and first.get("id") else None
            )
        return threads[person]


def require_keys(value: Mapping[str, Any], where: str, **kinds: type | tuple[type, ...]) -> None:
    """Raise BadPayload naming every key of a webhook value that is missing or mistyped."""
    errors = {
        f"{where}.{key}": [f"required ({getattr(kind, '__name__', 'value')})"]
        for key, kind in kinds.items()
        if not isinstance(value.get(key), kind) or isinstance(value.get(key), bool)
    }
    if errors:
        raise BadPayload("invalid change value", errors)
