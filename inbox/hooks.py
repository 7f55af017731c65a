"""The webhook route: handshakes, signature on the raw body, validation, then enqueue."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from connectors import connector_class
from connectors.base import BadPayload, RawRequest, WebhookRejected
from inbox import db, jobs
from inbox.channels import build_connector
from inbox.errors import ApiError, NotFound, Unauthorized
from inbox.models import Channel

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
        return text, status, {"Content-Type": "text/plain"}
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
    jobs.enqueue(
        "workers.jobs.ingest_webhook", channel.id, {"items": [item.to_dict() for item in items]}
    )
    return jsonify({"accepted": len(items)}), 202
