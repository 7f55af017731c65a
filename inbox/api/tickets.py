"""Tickets: the queue, one ticket's timeline, triage changes, replies and notes."""

from __future__ import annotations

from flask_smorest import Blueprint

from inbox import outbox, tickets
from inbox.auth import require_user
from inbox.schemas import (
    ItemOut,
    OutboxOut,
    ReplyIn,
    TextIn,
    TicketDetail,
    TicketPage,
    TicketPatch,
    TicketQuery,
    TicketRow,
)

bp = Blueprint("tickets", __name__, description="The ticket stream")


@bp.route("/tickets", methods=["GET"])
@bp.arguments(TicketQuery, location="query")
@bp.response(200, TicketPage)
def list_tickets(query):
    """List visible tickets, most recent activity first, one keyset page at a time."""
    rows, next_cursor = tickets.list_tickets(require_user(), query)
    return {"tickets": rows, "next_cursor": next_cursor}


@bp.route("/tickets/<int:ticket_id>", methods=["GET"])
@bp.response(200, TicketDetail)
def get_ticket(ticket_id):
    """Return one ticket with its items (and their delivery state) and its timeline."""
    return tickets.ticket_detail(require_user(), ticket_id)


@bp.route("/tickets/<int:ticket_id>", methods=["PATCH"])
@bp.arguments(TicketPatch)
@bp.response(200, TicketRow)
@bp.alt_response(409, description="Stale version: the body carries the current ticket")
def patch_ticket(changes, ticket_id):
    """Change status, priority, tags, assignee or snooze, if `version` is still current."""
    return tickets.update_ticket(require_user(), ticket_id, changes)


@bp.route("/tickets/<int:ticket_id>/take", methods=["POST"])
@bp.response(200, TicketRow)
@bp.alt_response(409, description="Someone else took it first")
def take(ticket_id):
    """Assign an unassigned ticket to yourself; of two racing CMs, one wins."""
    return tickets.take_ticket(require_user(), ticket_id)


@bp.route("/tickets/<int:ticket_id>/replies", methods=["POST"])
@bp.arguments(ReplyIn)
@bp.response(202, OutboxOut)
@bp.alt_response(409, description="Someone replied since the item you last saw")
def reply(data, ticket_id):
    """Queue a public reply; it waits out the undo window, then is sent once."""
    return outbox.queue_reply(require_user(), ticket_id, data["text"], data["seen_item_id"])


@bp.route("/outbox/<int:outbox_id>/cancel", methods=["POST"])
@bp.response(200, OutboxOut)
@bp.alt_response(409, description="Already sent")
def cancel(outbox_id):
    """Take back a reply, hide or delete inside its undo window."""
    return outbox.cancel(require_user(), outbox_id)


@bp.route("/tickets/<int:ticket_id>/notes", methods=["POST"])
@bp.arguments(TextIn)
@bp.response(201, ItemOut)
def note(data, ticket_id):
    """Add an internal note, seen by the team only."""
    return outbox.add_note(require_user(), ticket_id, data["text"])
