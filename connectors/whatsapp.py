"""WhatsApp Business Platform (Cloud API): customer messages pushed by webhook, replies by API.

WhatsApp never lets a business list its conversations: inbound messages only arrive as
webhooks, so this connector does not poll. One conversation (and one ticket) per customer:
`thread_id` is the customer's `wa_id` (their phone number in international digits).

The contract, and how sure we are of each part
(V = seen in Meta's reference pages or an SDK that follows them; P = partly checked: third-party
docs, SDK code or issue threads; U = assumed):

- [V] Webhook envelope: `{"object": "whatsapp_business_account", "entry": [{"id": <WABA id>,
  "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp", "metadata":
  {"display_phone_number", "phone_number_id"}, "contacts": [{"profile": {"name"}, "wa_id"}],
  "messages": [{"from", "id": "wamid.…", "timestamp": "<unix seconds>", "type", "<type>": {…}}]
  }}]}]}` (Meta "messages webhook reference"). Delivery receipts come in the same field as
  `statuses[]` (`id`, `status` sent/delivered/read/failed, `timestamp`, `recipient_id`): they are
  not customer messages and yield no item.
- [V] Message types and their objects: `text{body}`; `image|video|document|audio|sticker{id,
  mime_type, sha256, caption?}` (document also `filename`, audio `voice`); `location{latitude,
  longitude, name?, address?}`; `contacts[]`; `reaction{message_id, emoji}`; `interactive`
  (`button_reply`/`list_reply` with `title`); `button{text, payload}`; `order`; `system{body}`;
  `unsupported`. A reply quotes the earlier message in `context{from, id}` (pywa, whatsapp-api-js
  types). Messages without a `contacts` entry exist (pywa falls back to `from`).
- [P] Business-scoped user ids (2026 usernames rollout): `contacts[].user_id` / `messages[].
  from_user_id` carry a BSUID such as `US.13491208655302741918`, and `wa_id` / `from` may be
  missing for customers who adopted a username; sends then use `"recipient": <BSUID>` instead of
  `"to"` (Meta's BSUID page as mirrored by partners; dualhook, 360dialog). Handled, untested
  against Meta.
- [P] Group messages carry `group_id`; they thread on the group and are answered with
  `"recipient_type": "group"` (Meta "Group messages webhook reference"; send shape not seen).
- [V] Subscription handshake: `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`,
  answer 200 with the challenge when the token matches (same as every Meta webhook).
- [V] Signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`.
- [U] Freshness: Meta signs no delivery time, so the newest `timestamp` of the messages (or
  statuses) in the signed body is used; a body with neither (other webhook fields) carries no
  time and is accepted on its signature alone (it yields no item). Meta retries failed
  deliveries for days [U]: a retry older than `tolerance` is refused, so keep the endpoint up or
  raise `tolerance`.
- [V] Send: `POST /{version}/{phone-number-id}/messages` with a bearer token and `{"messaging_
  product": "whatsapp", "recipient_type": "individual", "to": <wa_id>, "type": "text", "text":
  {"body": …}}` → `{"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id":
  "wamid.…"}]}`. Text bodies are limited to 4096 characters [P].
- [V] The 24-hour customer-service window: a free-form message can only be sent within 24 h of
  the customer's last message; after that only a pre-approved template is allowed. We refuse
  before any call when the target message is older than 24 h, and map Meta's own refusal
  (code 131047 "Re-engagement message"). [P] Meta returns 131047 either at once or later in a
  `failed` status webhook; the late form cannot reach the outbox through `parse_webhook`.
- [V] Account check: `GET /{version}/{phone-number-id}?fields=display_phone_number,
  verified_name`.
- [V] Errors are Graph errors: `{"error": {"message", "type", "code", "error_subcode",
  "error_data": {"messaging_product", "details"}, "fbtrace_id"}}` (pywa `errors.py`, Meta "Error
  codes"). Codes: 0/190 auth; 3, 10, 200-299, 131005 permission; 4, 80007, 130429, 131048, 131056
  throttling; 131047 window; 131026, 131021, 131051, 131030, 131009, 131008, 100 refused;
  368, 131031, 131042 account blocked or unpaid; 1, 2, 131000, 131016, 131057, 133004 transient.
  [P] The HTTP status of throttling errors (400 or 429) varies, so codes decide, not statuses.
- [P] Rate-limit resets: management calls (code 4/80007) report `estimated_time_to_regain_access`
  (minutes) in `X-Business-Use-Case-Usage`; message throughput (130429) resets within a second
  or so; the pair rate (131056) allows about one message every 6 s to the same customer; the spam
  limit (131048) has no documented reset [U: one hour].
- Not possible on WhatsApp: hiding, deleting or liking a customer's message (Unsupported).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from marshmallow import RAISE, Schema, fields, validate

from connectors import register
from connectors.base import (
    MAX_BODY_CHARS,
    AuthExpired,
    Author,
    BadPayload,
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
from connectors.http import HttpConnector, api_base_field, retry_after_seconds

GRAPH_BASE = "https://graph.facebook.com"
DEFAULT_VERSION = "v25.0"
SIGNATURE_HEADER = "X-Hub-Signature-256"
SERVICE_WINDOW = timedelta(hours=24)
MAX_TEXT_CHARS = 4096
MAX_CHALLENGE_CHARS = 256

AUTH_CODES = {0, 102, 190}
PERMISSION_CODES = {3, 10, 131005} | set(range(200, 300))
TRANSIENT_CODES = {1, 2, 131000, 131016, 131057, 133004}
REFUSED_CODES = {100, 131008, 131009, 131021, 131026, 131030, 131051, 131062}
BLOCKED_CODES = {368, 131031, 131042}
WINDOW_CODE = 131047
# throttling code -> default seconds to wait when the answer names no reset time
THROTTLE_CODES = {4: 60.0, 17: 60.0, 32: 60.0, 613: 60.0, 80007: 60.0}
THROTTLE_CODES |= {130429: 2.0, 131056: 6.0, 131048: 3600.0}

WINDOW_SENTENCE = (
    "WhatsApp only allows a free-form reply within 24 hours of the customer's last message; "
    "outside that window only a pre-approved template message can be sent. "
    "Wait for the customer to write again."
)

MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")


def sign(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value Meta sends for a raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_phone(key: str) -> bool:
    """Whether a customer key is a phone number (`wa_id`) rather than a business-scoped id."""
    return key.isdigit()


class WhatsAppConfig(Schema):
    class Meta:
        unknown = RAISE

    api_base = api_base_field(GRAPH_BASE)
    api_version = fields.String(
        load_default=DEFAULT_VERSION,
        validate=validate.Regexp(r"^v\d{1,3}\.\d$", error="write the Graph API version like v25.0"),
    )
    phone_number_id = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^\d{5,30}$",
            error="the phone number ID is the numeric id shown in WhatsApp Manager › API setup, "
            "not the phone number itself",
        ),
    )
    access_token = fields.String(
        required=True,
        validate=validate.Length(16, 4096, error="paste the system-user access token"),
        metadata={"secret": True, "description": "system-user token with whatsapp_business_*"},
    )
    app_secret = fields.String(
        required=True,
        validate=validate.Length(16, 200, error="paste the Meta app secret (App settings › Basic)"),
        metadata={"secret": True, "description": "signs every webhook delivery"},
    )
    verify_token = fields.String(
        required=True,
        validate=validate.Length(8, 200, error="choose a verify token of 8 to 200 characters"),
        metadata={"secret": True, "description": "the token typed in the app's webhook setup"},
    )
    tolerance = fields.Integer(
        load_default=300,
        validate=validate.Range(30, 86400, error="tolerance is 30 s to 86400 s"),
        metadata={"description": "oldest accepted delivery, in seconds"},
    )


class _Checker:
    """Collects validation errors under dotted paths while a payload is read."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def fail(self, path: str, reason: str) -> None:
        self.errors.setdefault(path, []).append(reason)

    def obj(self, value: Any, path: str) -> dict | None:
        if isinstance(value, dict):
            return value
        self.fail(path, "must be an object")
        return None

    def seq(self, value: Any, path: str, *, required: bool = False) -> list:
        if value is None and not required:
            return []
        if isinstance(value, list):
            return value
        self.fail(path, "must be a list")
        return []

    def text(self, value: Any, path: str, *, required: bool = True) -> str | None:
        if value is None and not required:
            return None
        if isinstance(value, str) and (value or not required):
            return value
        self.fail(path, "must be a non-empty string" if required else "must be a string")
        return None


@register
class WhatsAppConnector(HttpConnector):
    type = "whatsapp"
    label = "WhatsApp"
    capabilities = frozenset({"reply"})
    config_schema = WhatsAppConfig
    default_api_base = GRAPH_BASE
    receives_webhooks = True
    polls = False

    def __init__(self, config):
        settings = WhatsAppConfig().load(dict(config))
        super().__init__(settings)
        self.settings = settings
        self.version = settings["api_version"]
        self.phone_number_id = settings["phone_number_id"]

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings['access_token']}"}

    def path(self, *parts: str) -> str:
        return "/".join((self.version, self.phone_number_id, *parts))

    # -- account ------------------------------------------------------------------------------

    def check(self) -> str:
        """Read the business phone number; name the verified business and its number."""
        data = self.get_json(self.path(), params={"fields": "display_phone_number,verified_name"})
        if not isinstance(data, dict):
            raise Transient("WhatsApp answered the account check with an unexpected body")
        name = data.get("verified_name") or "an unnamed business"
        number = data.get("display_phone_number") or self.phone_number_id
        return f"Connected to {name} on WhatsApp ({number})"

    # -- webhooks -----------------------------------------------------------------------------

    def handshake(self, request: RawRequest) -> tuple[int, str] | None:
        """Answer Meta's subscription check: echo `hub.challenge` if the verify token matches."""
        query = request.query or {}
        if request.method != "GET" or "hub.mode" not in query:
            return None
        token = query.get("hub.verify_token", "")
        challenge = query.get("hub.challenge", "")
        if query.get("hub.mode") != "subscribe" or not hmac.compare_digest(
            token.encode(), self.settings["verify_token"].encode()
        ):
            return 403, "verify token does not match this channel"
        if not challenge or len(challenge) > MAX_CHALLENGE_CHARS or not challenge.isprintable():
            return 400, "missing or malformed hub.challenge"
        return 200, challenge

    def verify_webhook(self, request: RawRequest) -> None:
        """Check Meta's HMAC of the raw body, then refuse deliveries older than `tolerance`."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        given = headers.get(SIGNATURE_HEADER.lower(), "")
        if not given.startswith("sha256="):
            raise WebhookRejected(f"missing {SIGNATURE_HEADER} header")
        expected = sign(self.settings["app_secret"], request.body)
        if not hmac.compare_digest(expected.encode(), given.strip().encode()):
            raise WebhookRejected("signature does not match the app secret")
        stamps = _timestamps(request.body)
        if not stamps:
            return  # nothing dated in it (e.g. an account update): the signature is all we have
        tolerance = self.settings["tolerance"]
        now = time.time()
        if max(stamps) < now - tolerance:
            raise WebhookRejected("delivery is older than the accepted window (replay?)")
        if min(stamps) > now + tolerance:
            raise WebhookRejected("delivery is dated in the future")

    def parse_webhook(self, body: bytes) -> list[NormalizedItem]:
        """Read customer messages for this phone number; statuses and other fields give none."""
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadPayload("body is not valid JSON", {"body": [str(exc)]}) from exc
        check = _Checker()
        root = check.obj(data, "body") or {}
        if root and root.get("object") != "whatsapp_business_account":
            check.fail("object", "must be 'whatsapp_business_account'")
        entries = check.seq(root.get("entry"), "entry", required=True) if root else []
        if root and "entry" not in check.errors and not entries:
            check.fail("entry", "must not be empty")
        items: list[NormalizedItem] = []
        for e, raw_entry in enumerate(entries):
            entry = check.obj(raw_entry, f"entry.{e}") or {}
            changes = check.seq(entry.get("changes"), f"entry.{e}.changes", required=True)
            for c, raw_change in enumerate(changes):
                path = f"entry.{e}.changes.{c}"
                change = check.obj(raw_change, path) or {}
                field = check.text(change.get("field"), f"{path}.field")
                value = check.obj(change.get("value"), f"{path}.value")
                if field == "messages" and value is not None:
                    items.extend(self._read_value(value, f"{path}.value", check))
        if check.errors:
            raise BadPayload("not a WhatsApp webhook delivery", check.errors)
        return items

    def _read_value(self, value: dict, path: str, check: _Checker) -> list[NormalizedItem]:
        metadata = check.obj(value.get("metadata"), f"{path}.metadata") or {}
        number = check.text(metadata.get("phone_number_id"), f"{path}.metadata.phone_number_id")
        contacts = check.seq(value.get("contacts"), f"{path}.contacts")
        messages = check.seq(value.get("messages"), f"{path}.messages")
        check.seq(value.get("statuses"), f"{path}.statuses")  # receipts: shape only
        names: dict[str, dict] = {}
        for i, raw in enumerate(contacts):
            contact = check.obj(raw, f"{path}.contacts.{i}") or {}
            profile = contact.get("profile") if isinstance(contact.get("profile"), dict) else {}
            for key in (contact.get("wa_id"), contact.get("user_id")):
                if isinstance(key, str) and key:
                    names[key] = profile
        if number is not None and number != self.phone_number_id:
            return []  # another number of the same business account: another channel's
        items = []
        for i, raw in enumerate(messages):
            item = self._read_message(raw, f"{path}.messages.{i}", names, check)
            if item is not None:
                items.append(item)
        return items

    def _read_message(
        self, raw: Any, path: str, names: dict[str, dict], check: _Checker
    ) -> NormalizedItem | None:
        message = check.obj(raw, path)
        if message is None:
            return None
        before = len(check.errors)
        wamid = check.text(message.get("id"), f"{path}.id")
        kind = check.text(message.get("type"), f"{path}.type")
        stamp = message.get("timestamp")
        if not (isinstance(stamp, str | int) and str(stamp).isdigit()):
            check.fail(f"{path}.timestamp", "must be Unix seconds")
        sender = message.get("from") or message.get("from_user_id")
        if not isinstance(sender, str) or not sender:
            check.fail(f"{path}.from", "must name the sender (from or from_user_id)")
        group = check.text(message.get("group_id"), f"{path}.group_id", required=False)
        if len(check.errors) > before or kind == "request_welcome":
            return None
        profile = names.get(sender) or names.get(message.get("from_user_id") or "") or {}
        name = profile.get("name") if isinstance(profile.get("name"), str) else None
        username = profile.get("username") if isinstance(profile.get("username"), str) else None
        handle = username or (f"+{sender}" if is_phone(sender) else None)
        body = _body_of(kind, message, path, check)
        context = message.get("context") if isinstance(message.get("context"), dict) else {}
        parent = context.get("id") if isinstance(context.get("id"), str) else None
        return NormalizedItem(
            external_id=wamid[:255],
            kind="dm",
            author=Author(id=sender[:255], handle=(handle or None), name=(name or None)),
            created_at=datetime.fromtimestamp(int(stamp), UTC),
            body=body[:MAX_BODY_CHARS],
            thread_id=(group or sender)[:255],
            parent_id=parent[:255] if parent else None,
        )

    # -- writes ---------------------------------------------------------------------------------

    def reply(self, target: Target, text: str) -> str:
        """Send a text message to the customer, inside the 24-hour customer-service window."""
        self.require("reply")
        if target.created_at is not None:
            written = target.created_at
            if written.tzinfo is None:
                written = written.replace(tzinfo=UTC)
            elapsed = datetime.now(UTC) - written
            if elapsed > SERVICE_WINDOW:
                hours = int(elapsed.total_seconds() // 3600)
                raise NotAllowed(
                    f"{WINDOW_SENTENCE} (This customer's message is {_age(hours)} old.)"
                )
        if not text.strip():
            raise NotAllowed("WhatsApp does not send an empty message")
        if len(text) > MAX_TEXT_CHARS:
            raise NotAllowed(
                f"WhatsApp text messages are limited to {MAX_TEXT_CHARS} characters; "
                f"this reply has {len(text)}"
            )
        key = target.thread_id or target.author_id
        if not key:
            raise NotAllowed("this message names no WhatsApp customer to answer")
        group = bool(target.author_id and target.thread_id and target.thread_id != target.author_id)
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "group" if group else "individual",
        }
        payload["to" if group or is_phone(key) else "recipient"] = key
        payload |= {"type": "text", "text": {"body": text}}
        response = self.call("POST", self.path("messages"), json=payload)
        try:
            return str(response.json()["messages"][0]["id"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            # not Transient: the message may well be on its way, and must not be sent twice
            raise ConnectorError(
                "WhatsApp accepted the reply but returned no message id; check the "
                "conversation on the phone before sending it again"
            ) from exc

    def moderate(self, target: Target, action: str) -> None:
        self.require(action)  # WhatsApp has no moderation: always Unsupported

    # -- errors ---------------------------------------------------------------------------------

    def raise_error(self, response: requests.Response) -> None:
        """Map Graph error bodies (code first, HTTP status second) to our errors."""
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            error = None
        if not isinstance(error, dict):
            super().raise_error(response)
            return
        try:
            code = int(error.get("code"))
        except (TypeError, ValueError):
            code = -1
        data = error.get("error_data") if isinstance(error.get("error_data"), dict) else {}
        said = str(data.get("details") or error.get("message") or "").strip()[:300]
        said = said or f"HTTP {response.status_code}"
        if code in AUTH_CODES:
            raise AuthExpired(
                f"WhatsApp refused the access token ({said}); reconnect the channel with a "
                "valid system-user token"
            )
        if code in THROTTLE_CODES:
            raise RateLimited(
                _reset_seconds(response, THROTTLE_CODES[code]),
                f"WhatsApp rate limit reached ({said})",
            )
        if code == WINDOW_CODE:
            raise NotAllowed(WINDOW_SENTENCE)
        if code in PERMISSION_CODES:
            raise PermissionDenied(
                f"the WhatsApp token lacks a permission for this ({said}); grant "
                "whatsapp_business_messaging and whatsapp_business_management"
            )
        if code in BLOCKED_CODES:
            raise NotAllowed(f"WhatsApp has restricted this business account ({said})")
        if code == 100 and error.get("error_subcode") == 33:
            raise NotAllowed(
                f"WhatsApp does not know phone number ID {self.phone_number_id}, or this token "
                "cannot see it"
            )
        if code in REFUSED_CODES:
            raise NotAllowed(f"WhatsApp refused the message ({said})")
        if code in TRANSIENT_CODES or error.get("is_transient") is True:
            raise Transient(f"WhatsApp had a temporary failure ({said})")
        super().raise_error(response)


def _age(hours: int) -> str:
    if hours < 48:
        return f"{hours} hours"
    return f"{hours // 24} days"


def _reset_seconds(response: requests.Response, default: float) -> float:
    """When to try again: Meta's regain time (minutes), a Retry-After, or the code's default."""
    minutes = 0.0
    try:
        usage = json.loads(response.headers.get("X-Business-Use-Case-Usage") or "{}")
        for buckets in usage.values() if isinstance(usage, dict) else ():
            for bucket in buckets if isinstance(buckets, list) else ():
                regain = bucket.get("estimated_time_to_regain_access") or 0
                minutes = max(minutes, float(regain))
    except (ValueError, TypeError, AttributeError):
        minutes = 0.0
    if minutes > 0:
        return minutes * 60.0
    if response.headers.get("Retry-After"):
        return retry_after_seconds(response, default)
    return default


def _timestamps(body: bytes) -> list[int]:
    """The Unix times of the messages and statuses in a delivery (lenient: parse comes later)."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return []
    found = []
    entries = data.get("entry") if isinstance(data, dict) else None
    for entry in entries if isinstance(entries, list) else ():
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else ():
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                continue
            for key in ("messages", "statuses"):
                events = value.get(key)
                for event in events if isinstance(events, list) else ():
                    stamp = event.get("timestamp") if isinstance(event, dict) else None
                    if isinstance(stamp, str | int) and str(stamp).isdigit():
                        found.append(int(stamp))
    return found


def _body_of(kind: str, message: dict, path: str, check: _Checker) -> str:
    """The message text, or a readable placeholder with any caption for other types."""
    content = message.get(kind) if isinstance(message.get(kind), dict) else {}
    if kind == "text":
        text = message.get("text")
        body = text.get("body") if isinstance(text, dict) else None
        if not isinstance(body, str):
            check.fail(f"{path}.text.body", "must be a string")
            return ""
        return body
    if kind in MEDIA_TYPES:
        label = kind
        if kind == "audio" and content.get("voice"):
            label = "voice message"
        if kind == "document" and isinstance(content.get("filename"), str):
            label = f"document: {content['filename']}"
        return _join(f"[{label}]", content.get("caption"))
    if kind == "location":
        place = ", ".join(
            str(content[k]) for k in ("name", "address") if isinstance(content.get(k), str)
        )
        if not place and "latitude" in content and "longitude" in content:
            place = f"{content['latitude']}, {content['longitude']}"
        return f"[location: {place}]" if place else "[location]"
    if kind == "contacts":
        shared = message.get("contacts") if isinstance(message.get("contacts"), list) else []
        names = [
            c["name"]["formatted_name"]
            for c in shared
            if isinstance(c, dict)
            and isinstance(c.get("name"), dict)
            and isinstance(c["name"].get("formatted_name"), str)
        ]
        return f"[contact: {', '.join(names)}]" if names else "[contact]"
    if kind == "reaction":
        emoji = content.get("emoji")
        return f"[reaction {emoji}]" if emoji else "[reaction removed]"
    if kind == "interactive":
        reply = content.get("button_reply") or content.get("list_reply") or {}
        title = reply.get("title") if isinstance(reply, dict) else None
        return _join("[choice]", title)
    if kind == "button":
        return _join("[button]", content.get("text"))
    if kind == "order":
        products = content.get("product_items")
        count = len(products) if isinstance(products, list) else 0
        return f"[order: {count} item{'s' if count != 1 else ''}]"
    if kind == "system":
        return _join("[system]", content.get("body"))
    if kind == "unsupported":
        return "[a message type WhatsApp does not deliver to businesses]"
    return f"[{re.sub(r'[^a-z_]', '', kind)[:40] or 'message'}]"


def _join(label: str, text: Any) -> str:
    return f"{label} {text}" if isinstance(text, str) and text.strip() else label
