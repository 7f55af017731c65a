"""Generic webhook channel: any source pushes our normalized JSON, HMAC-signed with its secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import requests
from marshmallow import RAISE, Schema, fields, validate

from connectors import register
from connectors.base import (
    BadPayload,
    Connector,
    NormalizedItem,
    NotAllowed,
    RawRequest,
    Target,
    Transient,
    Unsupported,
    WebhookRejected,
)

SIGNATURE_HEADER = "X-Inbox-Signature"
TIMESTAMP_HEADER = "X-Inbox-Timestamp"
MAX_ITEMS = 500


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """Return the signature header value for a body sent at a Unix timestamp."""
    message = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class WebhookConfig(Schema):
    class Meta:
        unknown = RAISE

    secret = fields.String(
        required=True, validate=validate.Length(min=16, max=200), metadata={"secret": True}
    )
    reply_url = fields.Url(load_default=None, schemes={"http", "https"}, require_tld=False)
    tolerance = fields.Integer(load_default=300, validate=validate.Range(30, 3600))


@register
class WebhookConnector(Connector):
    type = "webhook"
    label = "Webhook"
    capabilities = frozenset({"reply"})
    config_schema = WebhookConfig
    receives_webhooks = True

    def verify_webhook(self, request: RawRequest) -> None:
        """Check the timestamp is fresh and the HMAC of timestamp and raw body matches."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        timestamp = headers.get(TIMESTAMP_HEADER.lower(), "")
        given = headers.get(SIGNATURE_HEADER.lower(), "")
        if not timestamp.isdigit() or not given:
            raise WebhookRejected(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}")
        if abs(time.time() - int(timestamp)) > self.config.get("tolerance", 300):
            raise WebhookRejected("timestamp outside the accepted window (replay?)")
        expected = sign(self.config["secret"], timestamp, request.body)
        if not hmac.compare_digest(expected.encode(), given.encode()):
            raise WebhookRejected("signature does not match")

    def parse_webhook(self, body: bytes) -> list[NormalizedItem]:
        """Read `{"items": [...]}` in our normalized format; every item is validated."""
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadPayload("body is not valid JSON", {"body": [str(exc)]}) from exc
        if (
            not isinstance(data, dict)
            or set(data) != {"items"}
            or not isinstance(data["items"], list)
        ):
            raise BadPayload(
                "expected an object with a single 'items' list", {"items": ["required"]}
            )
        if not 1 <= len(data["items"]) <= MAX_ITEMS:
            raise BadPayload(f"send 1 to {MAX_ITEMS} items", {"items": ["wrong length"]})
        items, errors = [], {}
        for index, raw in enumerate(data["items"]):
            try:
                items.append(NormalizedItem.from_dict(raw if isinstance(raw, dict) else {}))
            except BadPayload as exc:
                errors[f"items.{index}"] = exc.errors or ["must be an object"]
        if errors:
            raise BadPayload("invalid items", errors)
        return items

    def reply(self, target: Target, text: str) -> str:
        """POST the reply to the source's reply URL, signed like inbound calls."""
        url = self.config.get("reply_url")
        if not url:
            raise Unsupported("this webhook channel has no reply URL")
        body = json.dumps(
            {"in_reply_to": target.external_id, "thread_id": target.thread_id, "text": text}
        ).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self.config["secret"], timestamp, body),
        }
        try:
            response = requests.post(url, data=body, headers=headers, timeout=10)
        except requests.RequestException as exc:
            raise Transient(f"reply URL unreachable: {exc}") from exc
        if response.status_code >= 500:
            raise Transient(f"reply URL answered {response.status_code}")
        if response.status_code >= 400:
            raise NotAllowed(f"reply URL refused the reply ({response.status_code})")
        try:
            return str(response.json()["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise Transient("reply URL answered without an 'id'") from exc
