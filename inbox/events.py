"""Writing events with the change they record, then pushing them once committed."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from inbox.db import utcnow
from inbox.models import Event, Ticket, User


def rows_for(
    ticket: Ticket, actor: User | None, changes: list[tuple[str, dict]]
) -> list[dict[str, Any]]:
    """Build event rows for changes to one ticket."""
    return [
        {
            "type": type_,
            "team_id": ticket.team_id,
            "ticket_id": ticket.id,
            "channel_id": ticket.channel_id,
            "actor_id": actor.id if actor else None,
            "data": data,
            "created_at": utcnow(),
        }
        for type_, data in changes
    ]


def write(s: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert event rows in one statement; return them with their ids, in id order."""
    if not rows:
        return []
    # RETURNING every column rather than pairing ids with input order: asking for the order
    # makes SQLAlchemy insert one row at a time on SQLite.
    written = (
        s.execute(
            sa.insert(Event).returning(*Event.__table__.c).execution_options(render_nulls=True),
            rows,
        )
        .mappings()
        .all()
    )
    return sorted((dict(row) for row in written), key=lambda row: row["id"])


def commit(
    s: Session, ticket: Ticket, actor: User | None, changes: list[tuple[str, dict]]
) -> dict[str, Any]:
    """Record the changes as events, commit, publish, and return the ticket's fresh row."""
    from inbox import realtime
    from inbox.tickets import ticket_rows

    written = write(s, rows_for(ticket, actor, changes))
    s.commit()
    realtime.publish(written)
    return ticket_rows(s, [ticket.id])[ticket.id]
