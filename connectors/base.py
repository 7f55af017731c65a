"""The connector contract: normalized items, batches, errors and the base class."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from marshmallow import RAISE, Schema, ValidationError, fields, validate

INBOUND_KINDS = ("comment", "dm", "mention", "quote", "repost", "review", "email", "reply")
MAX_BODY_CHARS = 20_000
POST_TEXT_CHARS = 2_000  # enough to recognise the post; its page has the rest


class ConnectorError(Exception):
    """A platform call failed; subclasses say how the caller should react."""


class RateLimited(ConnectorError):
    def __init__(self, retry_after: float, message: str = "rate limited"):
        super().__init__(message)
        self.retry_after = retry_after


class AuthExpired(ConnectorError):
    """The credentials no longer work: the channel needs reconnecting by a person."""


class PermissionDenied(ConnectorError):
    """The credentials work but lack the permission for this call."""


class NotAllowed(ConnectorError):
    """The platform forbids this action on this target (e.g. hiding outside our threads)."""


class Transient(ConnectorError):
    """A temporary failure (timeout, 5xx): retry later."""


class Unsupported(ConnectorError):
    """The connector cannot do this at all; refused before any call is made."""


class WebhookRejected(ConnectorError):
    """A pushed request failed verification (signature, timestamp)."""


class BadPayload(ConnectorError):
    """A pushed body is not what the platform's contract says; `errors` maps fields to reasons."""

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.errors = errors or {}


class AuthorSchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=validate.Length(1, 255))
    handle = fields.String(load_default=None, validate=validate.Length(max=255))
    name = fields.String(load_default=None, validate=validate.Length(max=255))
    followers = fields.Integer(load_default=None, validate=validate.Range(min=0))


class ItemSchema(Schema):
    """Our normalized item, as connectors produce it and the generic webhook accepts it."""

    class Meta:
        unknown = RAISE

    external_id = fields.String(required=True, validate=validate.Length(1, 255))
    kind = fields.String(required=True, validate=validate.OneOf(INBOUND_KINDS))
    thread_id = fields.String(load_default=None, validate=validate.Length(max=255))
    post_id = fields.String(load_default=None, validate=validate.Length(max=255))
    parent_id = fields.String(load_default=None, validate=validate.Length(max=255))
    author = fields.Nested(AuthorSchema, required=True)
    body = fields.String(load_default="", validate=validate.Length(max=MAX_BODY_CHARS))
    subject = fields.String(load_default=None, validate=validate.Length(max=300))
    created_at = fields.AwareDateTime(required=True, default_timezone=None)
    edited_at = fields.AwareDateTime(load_default=None)
    rating = fields.Integer(load_default=None, validate=validate.Range(1, 5))
    url = fields.Url(load_default=None, schemes={"http", "https"})
    outbound = fields.Boolean(load_default=False)
    post_text = fields.String(load_default=None, validate=validate.Length(max=POST_TEXT_CHARS))
    post_url = fields.Url(load_default=None, schemes={"http", "https"})


@dataclass(frozen=True)
class Author:
    id: str
    handle: str | None = None
    name: str | None = None
    followers: int | None = None  # where the platform says how many follow this account


@dataclass(frozen=True)
class NormalizedItem:
    external_id: str
    kind: str
    author: Author
    created_at: datetime
    body: str = ""
    thread_id: str | None = None
    post_id: str | None = None
    parent_id: str | None = None
    subject: str | None = None
    edited_at: datetime | None = None
    rating: int | None = None
    url: str | None = None
    outbound: bool = False
    # the post (video, photo, tweet) a comment or reply answers, as the platform shows it
    post_text: str | None = None
    post_url: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NormalizedItem:
        """Validate a JSON-ready mapping and build the item; raise BadPayload when invalid."""
        try:
            loaded = ItemSchema().load(data)
        except ValidationError as exc:
            raise BadPayload("invalid item", exc.messages) from exc
        loaded["author"] = Author(**loaded["author"])
        return cls(**loaded)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form, the one jobs carry between processes."""
        return ItemSchema().dump(self) | {"author": AuthorSchema().dump(self.author)}


@dataclass
class Batch:
    items: list[NormalizedItem]
    cursor: Any
    more: bool = False


@dataclass(frozen=True)
class RawRequest:
    method: str
    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    """What an outbound reply or moderation action points at on the platform."""

    external_id: str
    kind: str
    thread_id: str | None = None
    post_id: str | None = None
    author_id: str | None = None
    author_handle: str | None = None
    subject: str | None = None
    created_at: datetime | None = None  # when the target item was written (WhatsApp's window)


class Connector:
    """One platform's adapter. Pure: no database, no Flask; configured by a dict."""

    type: ClassVar[str]
    label: ClassVar[str]
    capabilities: ClassVar[frozenset[str]] = frozenset()
    config_schema: ClassVar[type[Schema]]
    receives_webhooks: ClassVar[bool] = False
    polls: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any]):
        self.config = dict(config)

    @classmethod
    def secret_fields(cls) -> set[str]:
        """Name the config fields that are encrypted at rest and never returned."""
        schema = cls.config_schema()
        return {name for name, f in schema.fields.items() if f.metadata.get("secret")}

    @classmethod
    def require(cls, action: str) -> None:
        """Refuse an action this connector cannot do, before any call is made."""
        if action not in cls.capabilities:
            raise Unsupported(f"{cls.label} cannot {action}")

    def check(self) -> str:
        """Call the platform once with this config; say which account it reaches, or raise."""
        raise Unsupported(f"{self.label} has no test call")

    def pull(self, cursor: Any) -> Batch:
        raise Unsupported(f"{self.label} does not poll")

    def handshake(self, request: RawRequest) -> tuple[int, str] | None:
        """Answer a platform's subscription handshake, or None when it is not one."""
        return None

    def verify_webhook(self, request: RawRequest) -> None:
        raise Unsupported(f"{self.label} does not receive webhooks")

    def parse_webhook(self, body: bytes) -> list[NormalizedItem]:
        raise Unsupported(f"{self.label} does not receive webhooks")

    def reply(self, target: Target, text: str) -> str:
        raise Unsupported(f"{self.label} cannot reply")

    def moderate(self, target: Target, action: str) -> None:
        raise Unsupported(f"{self.label} cannot {action}")
