"""One inbound item: moderation (hide, unhide, delete, like) and sentiment corrections."""

from __future__ import annotations

import sqlalchemy as sa
from flask_smorest import Blueprint

from inbox import db, events, outbox
from inbox.auth import require_user
from inbox.errors import NotFound
from inbox.models import Item
from inbox.schemas import ItemOut, ItemPatch, ModerationIn, OutboxOut
from inbox.tickets import get_visible

bp = Blueprint("items", __name__, description="Moderation")


@bp.route("/items/<int:item_id>/moderation", methods=["POST"])
@bp.arguments(ModerationIn)
@bp.response(202, OutboxOut)
def moderate(data, item_id):
    """Queue a moderation action on the platform through the outbox."""
    return outbox.queue_moderation(require_user(), item_id, data["action"])


@bp.route("/items/<int:item_id>", methods=["PATCH"])
@bp.arguments(ItemPatch)
@bp.response(200, ItemOut)
def patch_item(data, item_id):
    """Correct an inbound item's sentiment; the ticket follows if it is its newest item."""
    return correct_sentiment(require_user(), item_id, data["sentiment"])


def correct_sentiment(user, item_id: int, sentiment: str) -> Item:
    s = db.session()
    item = s.get(Item, item_id)
    if item is None or item.direction != "in":
        raise NotFound("no such inbound item")
    ticket = get_visible(user, item.ticket_id)
    previous = item.sentiment
    item.sentiment, item.sentiment_by = sentiment, user.id
    newest = s.scalar(
        sa.select(Item.id)
        .where(Item.ticket_id == ticket.id, Item.direction == "in")
        .order_by(Item.created_at.desc(), Item.id.desc())
        .limit(1)
    )
    if newest == item.id:
        ticket.sentiment = sentiment
    ticket.version += 1
    data = {"item_id": item.id, "sentiment": sentiment, "from": previous}
    events.commit(s, ticket, user, [("sentiment_corrected", data)])
    return item
