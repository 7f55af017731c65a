"""Resync: the events a browser missed while disconnected."""

from __future__ import annotations

import sqlalchemy as sa
from flask_smorest import Blueprint

from inbox import db
from inbox.auth import require_user, visible_team_ids
from inbox.models import Event
from inbox.schemas import EventPage, EventQuery
from inbox.tickets import ticket_rows

bp = Blueprint("events", __name__, description="Event log")


@bp.route("/events", methods=["GET"])
@bp.arguments(EventQuery, location="query")
@bp.response(200, EventPage)
def list_events(query):
    """Return visible events after an id, oldest first, with the current rows of their tickets."""
    user = require_user()
    s = db.session()
    found = s.scalars(
        sa.select(Event)
        .where(Event.id > query["after"], Event.team_id.in_(visible_team_ids(user)))
        .order_by(Event.id)
        .limit(query["limit"] + 1)
    ).all()
    page = found[: query["limit"]]
    rows = ticket_rows(s, {e.ticket_id for e in page if e.ticket_id})
    return {
        "events": page,
        "tickets": {str(k): v for k, v in rows.items()},
        "more": len(found) > len(page),
    }
