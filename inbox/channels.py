"""Channels: creation and validation by the connector's schema, encrypted config, health."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from marshmallow import ValidationError, missing

from connectors import connector_class, connector_types
from connectors.base import Connector, ConnectorError
from inbox import db, events
from inbox.crypto import decrypt_json, encrypt_json
from inbox.db import utcnow
from inbox.errors import ApiError, NotFound
from inbox.models import Channel, Team


def _connector_type(type_: str) -> type[Connector]:
    try:
        return connector_class(type_)
    except KeyError:
        raise ApiError(f"unknown type; known: {', '.join(connector_types())}", "type") from None


def _load_config(cls: type[Connector], config: dict) -> dict:
    try:
        return cls.config_schema().load(config)
    except ValidationError as exc:
        field, reasons = next(iter(exc.messages.items()))
        raise ApiError(f"{field}: {reasons}", f"config.{field}", details=exc.messages) from exc


def create_channel(data: dict[str, Any]) -> Channel:
    """Validate a new channel against its connector and store it with its config encrypted."""
    s = db.session()
    cls = _connector_type(data["type"])
    if s.get(Team, data["team_id"]) is None:
        raise ApiError("no such team", "team_id")
    config = _load_config(cls, data.get("config") or {})
    channel = Channel(
        type=data["type"],
        name=data["name"],
        team_id=data["team_id"],
        config_encrypted=encrypt_json(config),
        poll_interval=data.get("poll_interval", 60),
        reopen_window=data.get("reopen_window", 7 * 86400),
        next_poll_at=utcnow() if cls.polls else None,
    )
    s.add(channel)
    s.commit()
    return channel


def update_channel(channel: Channel, changes: dict[str, Any]) -> Channel:
    """Apply changes; secret config fields left out keep their stored value.

    New credentials (any config change) or re-enabling a channel clear a "needs
    reconnection" or error state and make it due for a poll at once.
    """
    cls = _connector_type(channel.type)
    db.session().refresh(channel)  # health may have changed since it was loaded (a poll job)
    reconnect = False
    if "config" in changes:
        merged = decrypt_json(channel.config_encrypted) | changes.pop("config")
        channel.config_encrypted = encrypt_json(_load_config(cls, merged))
        reconnect = True
    if changes.get("enabled") and not channel.enabled:
        reconnect = True
    for key, value in changes.items():
        setattr(channel, key, value)
    db.session().commit()
    if reconnect and channel.health in ("needs_reconnection", "error"):
        mark_health(channel.id, "ok", None)
        db.session().refresh(channel)
    if reconnect and cls.polls:
        channel.next_poll_at = utcnow()
        db.session().commit()
    return channel


def check_channel(channel: Channel) -> dict[str, Any]:
    """Call the platform once with the channel's config and say what works or what is wrong.

    A success clears an error or "needs reconnection" state; a failure is reported, not
    recorded, so a person trying credentials does not flap the channel's health.
    """
    cls = connector_class(channel.type)
    try:
        message = build_connector(channel).check()
    except ConnectorError as exc:
        return {"ok": False, "error": _error_code(exc), "message": str(exc) or type(exc).__name__}
    if channel.health in ("needs_reconnection", "error"):
        db.session().commit()  # a request's session holds the write lock; mark_health writes
        mark_health(channel.id, "ok", None)
    return {"ok": True, "error": None, "message": message, "label": cls.label}


def _error_code(exc: ConnectorError) -> str:
    """snake_case of the error class: rate_limited, auth_expired, permission_denied…"""
    name = type(exc).__name__
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def get_channel(channel_id: int) -> Channel:
    channel = db.session().get(Channel, channel_id)
    if channel is None:
        raise NotFound("no such channel")
    return channel


def build_connector(channel: Channel) -> Connector:
    """Instantiate the channel's connector with its decrypted configuration."""
    return connector_class(channel.type)(decrypt_json(channel.config_encrypted))


def channel_out(channel: Channel) -> dict[str, Any]:
    """Describe a channel for the API: secret config fields are never returned."""
    cls = connector_class(channel.type)
    config = decrypt_json(channel.config_encrypted)
    secrets = cls.secret_fields()
    return {
        **{k: getattr(channel, k) for k in ("id", "type", "name", "team_id", "enabled")},
        **{k: getattr(channel, k) for k in ("poll_interval", "reopen_window", "health")},
        "last_sync_at": channel.last_sync_at,
        "last_error": channel.last_error,
        "config": {k: ("(set)" if k in secrets else v) for k, v in config.items() if v is not None},
        "webhook_url": _webhook_url(channel.id) if cls.receives_webhooks else None,
    }


def _webhook_url(channel_id: int) -> str:
    base = request.host_url.rstrip("/") if has_request_context() else ""
    return f"{base}/hooks/{channel_id}"


def list_channels(team_ids: set[int] | None = None) -> list[Channel]:
    stmt = sa.select(Channel).order_by(Channel.id)
    if team_ids is not None:
        stmt = stmt.where(Channel.team_id.in_(team_ids))
    return list(db.session().scalars(stmt))


def mark_health(channel_id: int, health: str, error: str | None) -> None:
    """Record a channel's health and tell the CMs on screen when it changes."""
    with db.transaction() as s:
        channel = s.get(Channel, channel_id)
        changed = channel.health != health
        channel.health, channel.last_error = health, error
        written = []
        if changed:
            written = events.write(
                s,
                [
                    {
                        "type": "channel_health",
                        "team_id": channel.team_id,
                        "channel_id": channel.id,
                        "ticket_id": None,
                        "actor_id": None,
                        "data": {"health": health, "error": error, "name": channel.name},
                        "created_at": utcnow(),
                    }
                ],
            )
    from inbox import realtime

    realtime.publish(written)


def describe_types() -> list[dict[str, Any]]:
    """Every connector type with its capabilities and config fields, for set-up screens."""
    out = []
    for type_ in connector_types():
        cls = connector_class(type_)
        schema = cls.config_schema()
        fields_out = []
        for name, f in schema.fields.items():
            default = f.load_default
            fields_out.append(
                {
                    "name": name,
                    "required": f.required,
                    "secret": bool(f.metadata.get("secret")),
                    "default": None if callable(default) or default is missing else default,
                    "description": f.metadata.get("description"),
                }
            )
        out.append(
            {
                "type": type_,
                "label": cls.label,
                "capabilities": sorted(cls.capabilities),
                "polls": cls.polls,
                "receives_webhooks": cls.receives_webhooks,
                "config": fields_out,
            }
        )
    return out
