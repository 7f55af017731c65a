"""Moderation of one inbound item: hide, unhide, delete, like."""

from __future__ import annotations

from flask_smorest import Blueprint

from inbox import outbox
from inbox.auth import require_user
from inbox.schemas import ModerationIn, OutboxOut

bp = Blueprint("items", __name__, description="Moderation")


@bp.route("/items/<int:item_id>/moderation", methods=["POST"])
@bp.arguments(ModerationIn)
@bp.response(202, OutboxOut)
def moderate(data, item_id):
    """Queue a moderation action on the platform through the outbox."""
    return outbox.queue_moderation(require_user(), item_id, data["action"])
