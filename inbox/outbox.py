"""Replies, notes and moderation: stored first as outbox rows, then sent exactly once."""

from __future__ import annotations

import random
from datetime import timedelta

import sqlalchemy as sa

from connectors import connector_class
from connectors.base import AuthExpired, ConnectorError, RateLimited, Target, Transient, Unsupported
from inbox import db, events, jobs, sla
from inbox.db import utcnow
from inbox.errors import ApiError, NotFound
from inbox.models import Channel, Identity, Item, Outbox, Ticket, User
from inbox.tickets import get_visible

MAX_ATTEMPTS = 5
STUCK_AFTER = timedelta(minutes=10)


def add_note(user: User, ticket_id: int, text: str) -> Item:
    """Add an internal note to a ticket; notes never leave the inbox."""
    s = db.session()
    ticket = get_visible(user, ticket_id)
    note = _own_item(ticket, user, "note", text)
    s.add(note)
    s.flush()
    events.commit(s, ticket, user, [("note_added", {"item_id": note.id})])
    return note


def queue_reply(user: User, ticket_id: int, text: str) -> Outbox:
    """Store a public reply and its outbox row, then hand it to the send job."""
    s = db.session()
    ticket = get_visible(user, ticket_id)
    _require(ticket.channel_id, "reply")
    target = s.scalar(
        sa.select(Item)
        .where(Item.ticket_id == ticket.id, Item.direction == "in")
        .order_by(Item.created_at.desc(), Item.id.desc())
        .limit(1)
    )
    reply = _own_item(ticket, user, "reply", text)
    s.add(reply)
    s.flush()
    sla.on_reply(s, ticket, reply.created_at, user.id)  # only a person's reply stops a clock
    row = Outbox(
        ticket_id=ticket.id,
        channel_id=ticket.channel_id,
        action="reply",
        target_item_id=target.id if target else None,
        reply_item_id=reply.id,
        text=text,
        created_by=user.id,
    )
    s.add(row)
    s.flush()
    events.commit(s, ticket, user, [("reply_queued", {"item_id": reply.id, "outbox_id": row.id})])
    jobs.enqueue("workers.jobs.send_outbox", row.id)
    return row


def queue_moderation(user: User, item_id: int, action: str) -> Outbox:
    """Queue hide, unhide, delete or like on an inbound item."""
    s = db.session()
    item = s.get(Item, item_id)
    if item is None or item.direction != "in":
        raise NotFound("no such inbound item")
    ticket = get_visible(user, item.ticket_id)
    _require(ticket.channel_id, action)
    row = Outbox(
        ticket_id=ticket.id,
        channel_id=ticket.channel_id,
        action=action,
        target_item_id=item.id,
        created_by=user.id,
    )
    s.add(row)
    s.flush()
    changes = [("moderation_queued", {"item_id": item.id, "action": action, "outbox_id": row.id})]
    events.commit(s, ticket, user, changes)
    jobs.enqueue("workers.jobs.send_outbox", row.id)
    return row


def _require(channel_id: int, action: str) -> None:
    channel = db.session().get(Channel, channel_id)
    try:
        connector_class(channel.type).require(action)
    except Unsupported as exc:
        raise ApiError(str(exc), "action") from exc


def _own_item(ticket: Ticket, user: User, kind: str, text: str) -> Item:
    return Item(
        channel_id=ticket.channel_id,
        ticket_id=ticket.id,
        kind=kind,
        direction="note" if kind == "note" else "out",
        author_user_id=user.id,
        author_name=user.name,
        body=text,
    )


def send(outbox_id: int) -> str:
    """Send one outbox row to its platform; a row is claimed once, so never sent twice."""
    from inbox.channels import build_connector, mark_health

    with db.transaction() as s:
        claimed = s.execute(
            sa.update(Outbox)
            .where(Outbox.id == outbox_id, Outbox.state == "queued")
            .values(state="sending", attempts=Outbox.attempts + 1, claimed_at=utcnow())
        ).rowcount
        if not claimed:
            return "skipped"
        row = s.get(Outbox, outbox_id)
        channel = s.get(Channel, row.channel_id)
        target = _target(s, row)
    try:
        connector = build_connector(channel)
        if row.action == "reply":
            external_id = connector.reply(target, row.text or "")
        else:
            connector.moderate(target, row.action)
            external_id = None
    except RateLimited as exc:
        _requeue(outbox_id, exc.retry_after)
        return "rate_limited"
    except Transient as exc:
        if row.attempts < MAX_ATTEMPTS:
            _requeue(outbox_id, min(300, 5 * 2**row.attempts) * random.uniform(0.5, 1.5))
            return "retrying"
        _finish(outbox_id, "failed", error=f"gave up after {row.attempts} tries: {exc}")
        return "failed"
    except AuthExpired as exc:
        mark_health(channel.id, "needs_reconnection", str(exc))
        _finish(outbox_id, "failed", error=f"the channel needs reconnecting: {exc}")
        return "failed"
    except ConnectorError as exc:
        _finish(outbox_id, "failed", error=str(exc) or type(exc).__name__)
        return "failed"
    _finish(outbox_id, "sent", external_id=external_id)
    return "sent"


def _target(s, row: Outbox) -> Target | None:
    if row.target_item_id is None:
        return None
    item = s.get(Item, row.target_item_id)
    author = s.get(Identity, item.author_identity_id) if item.author_identity_id else None
    return Target(
        external_id=item.external_id or "",
        kind=item.kind,
        thread_id=item.thread_id,
        post_id=item.post_id,
        author_id=author.external_id if author else None,
        author_handle=author.handle if author else None,
        subject=_subject_of(s, item),
        created_at=item.created_at,
    )


def _subject_of(s, item: Item) -> str | None:
    ticket = s.get(Ticket, item.ticket_id)
    return ticket.subject if ticket is not None else None


def _requeue(outbox_id: int, delay: float) -> None:
    with db.transaction() as s:
        s.execute(sa.update(Outbox).where(Outbox.id == outbox_id).values(state="queued"))
    jobs.enqueue("workers.jobs.send_outbox", outbox_id, delay=delay)


def _finish(outbox_id: int, state: str, external_id: str | None = None, error: str | None = None):
    with db.transaction() as s:
        row = s.get(Outbox, outbox_id)
        row.state, row.error, row.external_id = state, error, external_id
        ticket = s.get(Ticket, row.ticket_id)
        data = {"outbox_id": row.id, "action": row.action, "error": error}
        if state == "sent" and row.action == "reply":
            s.execute(
                sa.update(Item).where(Item.id == row.reply_item_id).values(external_id=external_id)
            )
            data["item_id"] = row.reply_item_id
        elif state == "sent":
            flag = {
                "hide": {"hidden": True},
                "unhide": {"hidden": False},
                "delete": {"deleted": True},
            }
            if row.action in flag:
                s.execute(
                    sa.update(Item).where(Item.id == row.target_item_id).values(**flag[row.action])
                )
            data["item_id"] = row.target_item_id
        row.sent_at = utcnow() if state == "sent" else None
        kind = "reply" if row.action == "reply" else "moderation"
        written = events.write(s, events.rows_for(ticket, None, [(f"{kind}_{state}", data)]))
        s.execute(
            sa.update(Ticket).where(Ticket.id == ticket.id).values(version=Ticket.version + 1)
        )
    from inbox import realtime

    realtime.publish(written)


def sweep_stuck() -> int:
    """Fail rows stuck in `sending` (a crash mid-call): we cannot know if they left, so say so."""
    cutoff = utcnow() - STUCK_AFTER
    with db.transaction() as s:
        stuck = s.scalars(
            sa.select(Outbox.id).where(Outbox.state == "sending", Outbox.claimed_at < cutoff)
        ).all()
    for outbox_id in stuck:
        _finish(outbox_id, "failed", error="delivery unknown after a crash: check on the platform")
    return len(stuck)
