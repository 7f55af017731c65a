"""Ticket queries and triage actions: list, read, update with a version check, take."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from inbox import db, events, sla
from inbox.auth import visible_team_ids
from inbox.db import utcnow
from inbox.errors import ApiError, Conflict, Forbidden, NotFound
from inbox.models import Cluster, Event, Item, Outbox, Ticket, TicketTag, User, team_members

ROW_FIELDS = (
    "id channel_id team_id kind status priority assignee_id contact_id author_name subject"
    " preview post_id is_digest item_count snoozed_until last_inbound_at last_activity_at"
    " created_at version first_response_due_at next_response_due_at resolution_due_at"
    " first_response_breached sentiment language cluster_id incident_id"
).split()


def ticket_rows(s: Session, ids: list[int] | set[int]) -> dict[int, dict[str, Any]]:
    """Return list rows (with tags) for ticket ids, in two queries whatever their number."""
    ids = list(ids)
    if not ids:
        return {}
    rows = {
        t.id: {name: getattr(t, name) for name in ROW_FIELDS} | {"tags": [], "cluster_size": size}
        for t, size in s.execute(
            sa.select(Ticket, Cluster.size)
            .outerjoin(Cluster, Cluster.id == Ticket.cluster_id)
            .where(Ticket.id.in_(ids))
            .execution_options(populate_existing=True)
        )
    }
    tags = s.execute(
        sa.select(TicketTag.ticket_id, TicketTag.tag)
        .where(TicketTag.ticket_id.in_(ids))
        .order_by(TicketTag.tag)
    )
    for ticket_id, tag in tags:
        rows[ticket_id]["tags"].append(tag)
    return rows


def encode_cursor(values: list[Any]) -> str:
    """An opaque page cursor: the sort keys of the last row, then its id."""
    text = "|".join(v.isoformat() if isinstance(v, datetime) else str(v) for v in values)
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        parts = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        if len(parts) != size:
            raise ValueError("wrong size")
        moments = [_as_aware(datetime.fromisoformat(p)) for p in parts[:-1]]
        return [*moments, int(parts[-1])]
    except ValueError as exc:
        raise ApiError("this cursor was not made by us (or for another sort)", "cursor") from exc


def _as_aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def _sort_keys(sort: str) -> list[tuple[Any, bool]]:
    """The keyset columns of a sort, each with whether it descends (id breaks ties last)."""
    if sort == "urgency":  # the response due soonest first, then whoever waits longest
        due = sa.func.coalesce(
            Ticket.first_response_due_at,
            Ticket.next_response_due_at,
            sa.literal(FAR_FUTURE, db.UTCDateTime),
        )
        waiting = sa.func.coalesce(Ticket.last_inbound_at, Ticket.created_at)
        return [(due, False), (waiting, False), (Ticket.id, False)]
    return [(Ticket.last_activity_at, True), (Ticket.id, True)]


def list_tickets(user: User, query: dict) -> tuple[list[dict], str | None]:
    """Return one keyset page of visible tickets (newest activity first, or by urgency)."""
    s = db.session()
    keys = _sort_keys(query.get("sort") or "activity")
    stmt = sa.select(Ticket.id, *[k.label(f"k{i}") for i, (k, _) in enumerate(keys[:-1])]).where(
        Ticket.team_id.in_(visible_team_ids(user))
    )
    stmt = _apply_filters(stmt, user, query)
    if query.get("cursor"):
        stmt = stmt.where(_after(keys, decode_cursor(query["cursor"], len(keys))))
    limit = query["limit"]
    order = [k.desc() if desc else k.asc() for k, desc in keys]
    page = s.execute(stmt.order_by(*order).limit(limit + 1)).all()
    rows = ticket_rows(s, [row.id for row in page[:limit]])
    next_cursor = None
    if len(page) > limit:
        last = page[limit - 1]
        next_cursor = encode_cursor([*last[1:], last.id])
    return [rows[row.id] for row in page[:limit]], next_cursor


def _after(keys: list[tuple[Any, bool]], values: list[Any]):
    """Rows strictly after `values` in the order of `keys` (a keyset condition)."""
    clauses = []
    for i, (key, desc) in enumerate(keys):
        beyond = key < values[i] if desc else key > values[i]
        same = [k == v for (k, _), v in zip(keys[:i], values[:i], strict=True)]
        clauses.append(sa.and_(*same, beyond))
    return sa.or_(*clauses)


def _apply_filters(stmt, user: User, query: dict):
    if query.get("status"):
        stmt = stmt.where(Ticket.status.in_(query["status"]))
    assignee = query.get("assignee")
    if assignee == "me":
        stmt = stmt.where(Ticket.assignee_id == user.id)
    elif assignee == "none":
        stmt = stmt.where(Ticket.assignee_id.is_(None))
    elif assignee:
        stmt = stmt.where(Ticket.assignee_id == int(assignee))
    for key, column in (
        ("team", Ticket.team_id),
        ("channel", Ticket.channel_id),
        ("contact", Ticket.contact_id),
        ("cluster", Ticket.cluster_id),
        ("incident", Ticket.incident_id),
        ("sentiment", Ticket.sentiment),
    ):
        if query.get(key) is not None:
            stmt = stmt.where(column == query[key])
    if query.get("kind"):
        stmt = stmt.where(Ticket.kind == query["kind"])
    if query.get("priority"):
        stmt = stmt.where(Ticket.priority == query["priority"])
    if query.get("tag"):
        tagged = sa.select(TicketTag.ticket_id).where(TicketTag.tag == query["tag"])
        stmt = stmt.where(Ticket.id.in_(tagged))
    if query.get("q"):
        text = query["q"]
        in_items = sa.select(Item.ticket_id).where(Item.body.icontains(text, autoescape=True))
        stmt = stmt.where(
            sa.or_(
                Ticket.preview.icontains(text, autoescape=True),
                Ticket.subject.icontains(text, autoescape=True),
                Ticket.author_name.icontains(text, autoescape=True),
                Ticket.id.in_(in_items),
            )
        )
    return stmt


def get_visible(user: User, ticket_id: int) -> Ticket:
    """Return the ticket if the user may see it; 404 otherwise (no hint that it exists)."""
    ticket = db.session().get(Ticket, ticket_id)
    if ticket is None or ticket.team_id not in visible_team_ids(user):
        raise NotFound("no such ticket")
    return ticket


def ticket_detail(user: User, ticket_id: int) -> dict:
    """Return the ticket's row, its items with delivery state, and its timeline of events."""
    s = db.session()
    ticket = get_visible(user, ticket_id)
    row = ticket_rows(s, [ticket.id])[ticket.id]
    deliveries = {
        o.reply_item_id: o
        for o in s.scalars(
            sa.select(Outbox).where(Outbox.ticket_id == ticket.id, Outbox.action == "reply")
        )
    }
    items = []
    for item in s.scalars(
        sa.select(Item).where(Item.ticket_id == ticket.id).order_by(Item.created_at, Item.id)
    ):
        outbox = deliveries.get(item.id)
        item.delivery = outbox.state if outbox else None
        item.delivery_error = outbox.error if outbox else None
        items.append(item)
    timeline = s.scalars(
        sa.select(Event)
        .where(Event.ticket_id == ticket.id, Event.type != "item_added")
        .order_by(Event.id.desc())
        .limit(200)
    ).all()
    return row | {
        "post_text": ticket.post_text,
        "post_url": ticket.post_url,
        "items": items,
        "events": list(reversed(timeline)),
    }


def update_ticket(user: User, ticket_id: int, changes: dict) -> dict:
    """Apply a PATCH if the version still matches; 409 with the current ticket otherwise."""
    s = db.session()
    ticket = get_visible(user, ticket_id)
    version = changes.pop("version")
    tags = changes.pop("tags", None)
    if "assignee_id" in changes:
        _check_assignment(s, user, ticket, changes["assignee_id"])
    values = dict(changes)
    if values.get("status") == "closed":
        values["closed_at"] = utcnow()
    if "status" in values and values["status"] != "snoozed":
        values["snoozed_until"] = None
    elif values.get("snoozed_until"):
        values["status"] = "snoozed"
    if {"status", "priority"} & values.keys():
        values |= sla.on_change(s, ticket, values, utcnow())
    new_events = _change_events(ticket, values, tags)
    updated = s.execute(
        sa.update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.version == version)
        .values(**values, version=Ticket.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not updated:
        s.rollback()
        raise Conflict(
            "someone changed this ticket first", "version", ticket=current_row(ticket.id)
        )
    if tags is not None:
        s.execute(sa.delete(TicketTag).where(TicketTag.ticket_id == ticket.id))
        if tags:
            s.execute(sa.insert(TicketTag), [{"ticket_id": ticket.id, "tag": t} for t in set(tags)])
    return events.commit(s, ticket, user, new_events)


def take_ticket(user: User, ticket_id: int) -> dict:
    """Assign an unassigned ticket to the user; exactly one of several racing CMs wins."""
    s = db.session()
    ticket = get_visible(user, ticket_id)
    taken = s.execute(
        sa.update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.assignee_id.is_(None))
        .values(assignee_id=user.id, version=Ticket.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not taken:
        s.rollback()
        row = current_row(ticket.id)
        if row["assignee_id"] == user.id:
            return row
        raise Conflict("another CM took this ticket first", "assignee_id", ticket=row)
    return events.commit(s, ticket, user, [("assigned", {"assignee_id": user.id, "taken": True})])


def current_row(ticket_id: int) -> dict:
    """Return the ticket's row as stored now, for a 409 answer, serialized for JSON."""
    from inbox.schemas import TicketRow

    s = db.session()
    s.expire_all()
    return TicketRow().dump(ticket_rows(s, [ticket_id])[ticket_id])


def _check_assignment(s: Session, user: User, ticket: Ticket, assignee_id: int | None) -> None:
    if user.role == "agent" and assignee_id not in (None, user.id):
        raise Forbidden("agents can assign tickets to themselves only", "assignee_id")
    if user.role == "agent" and assignee_id is None and ticket.assignee_id not in (None, user.id):
        raise Forbidden("agents can only unassign their own tickets", "assignee_id")
    if assignee_id is None:
        return
    member = s.scalar(
        sa.select(User.id)
        .outerjoin(team_members, team_members.c.user_id == User.id)
        .where(
            User.id == assignee_id,
            User.active,
            sa.or_(User.role == "admin", team_members.c.team_id == ticket.team_id),
        )
        .limit(1)
    )
    if member is None:
        raise ApiError("this user cannot work on this ticket's team", "assignee_id")


def _change_events(ticket: Ticket, values: dict, tags: list[str] | None) -> list[tuple[str, dict]]:
    found = []
    names = {"status": "status_changed", "priority": "priority_changed", "assignee_id": "assigned"}
    for field, event_type in names.items():
        if field in values and values[field] != getattr(ticket, field):
            found.append((event_type, {field: values[field], "from": getattr(ticket, field)}))
    if values.get("snoozed_until"):
        found.append(("snoozed", {"until": values["snoozed_until"].isoformat()}))
    if tags is not None:
        found.append(("tags_changed", {"tags": sorted(set(tags))}))
    return found


def wake_snoozed(now: datetime | None = None) -> int:
    """Reopen snoozed tickets whose time has come (their SLA clocks resume)."""
    now = now or utcnow()
    with db.transaction() as s:
        due = list(
            s.scalars(
                sa.select(Ticket)
                .where(Ticket.status == "snoozed", Ticket.snoozed_until <= now)
                .limit(500)
            )
        )
        rows = []
        rules = sla.Rules.load(s)  # once for the batch
        for ticket in due:
            values = {"status": "open", "snoozed_until": None}
            values |= sla.on_change(s, ticket, values, now, rules)
            for key, value in values.items():
                setattr(ticket, key, value)
            ticket.version += 1
            rows += events.rows_for(ticket, None, [("unsnoozed", {})])
        written = events.write(s, rows) if rows else []
    from inbox import realtime

    realtime.publish(written)
    return len(due)
