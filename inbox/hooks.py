"""The webhook route: handshakes, signature on the raw body, validation, then enqueue."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, jsonify, request
from sqlalchemy.exc import IntegrityError

from connectors import connector_class
from connectors.base import BadPayload, ConnectorError, RawRequest, WebhookRejected
from inbox import db, jobs
from inbox.channels import build_connector
from inbox.db import utcnow
from inbox.errors import ApiError, NotFound, Unauthorized, Unavailable
from inbox.models import Channel, WebhookReceipt

RECEIPT_DAYS = 2

bp = Blueprint("hooks", __name__)


@bp.route("/hooks/<int:channel_id>", methods=["GET", "POST"])
def receive(channel_id: int):
    """Verify and accept a platform's push; the items are ingested by a job."""
    channel = db.session().get(Channel, channel_id)
    if (
        channel is None
        or not channel.enabled
        or not connector_class(channel.type).receives_webhooks
    ):
        raise NotFound("no webhook channel here")
    raw = RawRequest(
        method=request.method,
        headers=dict(request.headers),
        body=request.get_data(cache=False),
        query=request.args.to_dict(),
    )
    connector = build_connector(channel)
    answer = connector.handshake(raw)
    if answer is not None:
        status, text = answer
        # X's CRC answer is a JSON object; Meta's challenge echo is plain text
        kind = "application/json" if text.lstrip().startswith("{") else "text/plain"
        return text, status, {"Content-Type": kind}
    if request.method != "POST":
        raise ApiError("send a POST", "method")
    try:
        connector.verify_webhook(raw)
    except WebhookRejected as exc:
        raise Unauthorized(str(exc), "signature") from exc
    try:
        items = connector.parse_webhook(raw.body)
    except BadPayload as exc:
        field = next(iter(exc.errors), None)
        raise ApiError(str(exc), field, details=exc.errors) from exc
    except ConnectorError as exc:  # a lookup the delivery needed failed: let the platform retry
        raise Unavailable(f"could not complete the delivery: {exc}", "body") from exc
    if not _first_receipt(channel.id, raw.body):
        # the same signed body again: a replay or a platform's retry; nothing is ingested twice
        return jsonify({"accepted": 0, "duplicate": True}), 200
    try:
        jobs.enqueue(
            "workers.jobs.ingest_webhook", channel.id, {"items": [item.to_dict() for item in items]}
        )
    except Exception:
        _forget_receipt(channel.id, raw.body)  # so the platform's retry is not taken as a replay
        raise
    return jsonify({"accepted": len(items)}), 202


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _first_receipt(channel_id: int, body: bytes) -> bool:
    """Record a verified body; False when the same body was already accepted."""
    s = db.session()
    s.add(WebhookReceipt(channel_id=channel_id, digest=_digest(body)))
    try:
        s.commit()
    except IntegrityError:
        s.rollback()
        return False
    return True


def _forget_receipt(channel_id: int, body: bytes) -> None:
    s = db.session()
    s.rollback()
    s.execute(
        sa.delete(WebhookReceipt).where(
            WebhookReceipt.channel_id == channel_id, WebhookReceipt.digest == _digest(body)
        )
    )
    s.commit()


def sweep_receipts() -> int:
    """Forget receipts older than any platform's retry horizon (a stale push fails its
    timestamp check long before)."""
    with db.transaction() as s:
        return s.execute(
            sa.delete(WebhookReceipt).where(
                WebhookReceipt.received_at < utcnow() - timedelta(days=RECEIPT_DAYS)
            )
        ).rowcount
