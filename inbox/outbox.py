"""Replies, notes and moderation: stored first as outbox rows, then sent exactly once."""

from __future__ import annotations

import random
import re
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from connectors import connector_class
from connectors.base import AuthExpired, ConnectorError, RateLimited, Target, Transient, Unsupported
from inbox import db, events, jobs, sla
from inbox.auth import visible_team_ids
from inbox.db import utcnow
from inbox.errors import ApiError, Conflict, Forbidden, NotFound
from inbox.models import Channel, Identity, Incident, Item, Outbox, Ticket, User, team_members
from inbox.tickets import get_visible

MAX_ATTEMPTS = 5
STUCK_AFTER = timedelta(minutes=10)
UNDOABLE = ("reply", "hide", "delete")  # public actions that wait out the undo window
DEFAULT_UNDO_WINDOW = 10.0


def add_note(user: User, ticket_id: int, text: str) -> Item:
    """Add an internal note to a ticket; notes never leave the inbox."""
    s = db.session()
    ticket = get_visible(user, ticket_id)
    note = _own_item(ticket, user, "note", text)
    s.add(note)
    s.flush()
    changes = [("note_added", {"item_id": note.id})]
    for mentioned in _mentioned(s, ticket, text):
        if mentioned.id != user.id:
            changes.append(("mentioned", {"item_id": note.id, "user_id": mentioned.id}))
    events.commit(s, ticket, user, changes)
    return note


MENTION = re.compile(r"(?<![\w@])@([\w][\w.\-]*)", re.UNICODE)


def _mentioned(s, ticket: Ticket, text: str) -> list[User]:
    """Teammates named in a note as @camille, @camille.martin or @CamilleMartin."""
    handles = {h.lower().rstrip(".") for h in MENTION.findall(text)}
    if not handles:
        return []
    people = s.scalars(
        sa.select(User)
        .join(team_members, team_members.c.user_id == User.id)
        .where(team_members.c.team_id == ticket.team_id, User.active)
    ).all()
    found = []
    for person in people:
        names = {
            person.email.split("@")[0].lower(),
            person.name.replace(" ", "").lower(),
            person.name.split(" ")[0].lower(),
        }
        if names & handles:
            found.append(person)
    return found


def queue_reply(user: User, ticket_id: int, text: str, seen_item_id: int | None = None) -> Outbox:
    """Store a public reply and its outbox row, then hand it to the send job.

    With `seen_item_id` (the newest item the CM had on screen), a reply someone else wrote
    since then stops this one with a 409 carrying it, so nobody answers twice by accident.
    An agent's reply on a ticket of an incident in crisis mode waits for a manager instead.
    """
    s = db.session()
    ticket = get_visible(user, ticket_id)
    _require(ticket.channel_id, "reply")
    if seen_item_id is not None:
        _check_no_new_reply(s, user, ticket, seen_item_id)
    target = s.scalar(
        sa.select(Item)
        .where(Item.ticket_id == ticket.id, Item.direction == "in")
        .order_by(Item.created_at.desc(), Item.id.desc())
        .limit(1)
    )
    reply = _own_item(ticket, user, "reply", text)
    s.add(reply)
    s.flush()
    if _needs_approval(s, user, ticket):
        return _hold_for_approval(s, user, ticket, target, reply)
    response = sla.on_reply(s, ticket, reply.created_at, user.id)  # only a person's reply counts
    if response is not None:
        s.flush()
    window = _undo_window("reply")
    row = Outbox(
        ticket_id=ticket.id,
        channel_id=ticket.channel_id,
        action="reply",
        target_item_id=target.id if target else None,
        reply_item_id=reply.id,
        text=text,
        created_by=user.id,
        send_after=utcnow() + timedelta(seconds=window) if window else None,
        sla_response_id=response.id if response is not None else None,
    )
    s.add(row)
    s.flush()
    data = {"item_id": reply.id, "outbox_id": row.id, "undo_until": _iso(row.send_after)}
    events.commit(s, ticket, user, [("reply_queued", data)])
    jobs.enqueue("workers.jobs.send_outbox", row.id, delay=window or None)
    return row


def _needs_approval(s, user: User, ticket: Ticket) -> bool:
    """Agents' replies on tickets of an open incident in crisis mode wait for a manager."""
    if user.role != "agent" or ticket.incident_id is None:
        return False
    incident = s.get(Incident, ticket.incident_id)
    return incident is not None and incident.status == "open" and incident.crisis


def _hold_for_approval(s, user: User, ticket: Ticket, target, reply: Item) -> Outbox:
    """Store the reply in state `approval`: no send job, no undo window, no SLA answer yet
    (the customer is answered when a manager lets it go)."""
    row = Outbox(
        ticket_id=ticket.id,
        channel_id=ticket.channel_id,
        action="reply",
        target_item_id=target.id if target else None,
        reply_item_id=reply.id,
        text=reply.body,
        created_by=user.id,
        state="approval",
    )
    s.add(row)
    s.flush()
    data = {"outbox_id": row.id, "item_id": reply.id}
    events.commit(s, ticket, user, [("reply_needs_approval", data)])
    return row


def approve(user: User, outbox_id: int) -> Outbox:
    """Let a held reply go (managers): it is queued and sent at once, and answers the wait."""
    s = db.session()
    row, ticket = _held(user, outbox_id)
    now = utcnow()
    if not _leave_approval(s, row, state="queued", approved_by=user.id, send_after=None):
        raise Conflict("this reply no longer waits for approval", "outbox_id")
    response = sla.on_reply(s, ticket, now, row.created_by)
    if response is not None:
        s.flush()
        s.execute(sa.update(Outbox).where(Outbox.id == row.id).values(sla_response_id=response.id))
    data = {"outbox_id": row.id, "item_id": row.reply_item_id}
    events.commit(s, ticket, user, [("reply_approved", data)])
    jobs.enqueue("workers.jobs.send_outbox", row.id)
    s.refresh(row)
    return row


def reject(user: User, outbox_id: int, reason: str) -> Outbox:
    """Refuse a held reply (managers): cancelled with the reason, its draft back to its author."""
    s = db.session()
    row, ticket = _held(user, outbox_id)
    if not _leave_approval(s, row, state="cancelled", error=reason):
        raise Conflict("this reply no longer waits for approval", "outbox_id")
    s.execute(sa.update(Item).where(Item.id == row.reply_item_id).values(deleted=True))
    data = {
        "outbox_id": row.id,
        "item_id": row.reply_item_id,
        "reason": reason,
        "author_id": row.created_by,
        "text": row.text,
    }
    events.commit(s, ticket, user, [("reply_rejected", data)])
    s.refresh(row)
    return row


def _held(user: User, outbox_id: int) -> tuple[Outbox, Ticket]:
    row = db.session().get(Outbox, outbox_id)
    if row is None:
        raise NotFound("no such outbox entry")
    ticket = get_visible(user, row.ticket_id)
    if user.role == "agent":
        raise Forbidden("only a manager can approve or reject a reply")
    return row, ticket


def _leave_approval(s, row: Outbox, **values) -> bool:
    """Move a row out of `approval` once, whoever of two managers clicks first."""
    moved = s.execute(
        sa.update(Outbox)
        .where(Outbox.id == row.id, Outbox.state == "approval")
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        s.rollback()
    return bool(moved)


def pending_approvals(user: User) -> list[dict]:
    """Replies waiting for a manager on the teams the user sees, oldest first."""
    s = db.session()
    rows = s.execute(
        sa.select(Outbox, User.name)
        .join(Ticket, Ticket.id == Outbox.ticket_id)
        .outerjoin(User, User.id == Outbox.created_by)
        .where(Outbox.state == "approval", Ticket.team_id.in_(visible_team_ids(user)))
        .order_by(Outbox.created_at, Outbox.id)
        .limit(500)
    )
    return [
        {
            "outbox_id": row.id,
            "ticket_id": row.ticket_id,
            "text": row.text,
            "created_by": row.created_by,
            "created_by_name": name,
            "created_at": row.created_at,
        }
        for row, name in rows
    ]


def _undo_window(action: str) -> float:
    """Seconds a public action waits before it leaves, so `z` can take it back."""
    if action not in UNDOABLE:
        return 0.0
    return float(current_app.config.get("UNDO_WINDOW", DEFAULT_UNDO_WINDOW))


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def _check_no_new_reply(s, user: User, ticket: Ticket, seen_item_id: int) -> None:
    newer = s.scalars(
        sa.select(Item)
        .where(
            Item.ticket_id == ticket.id,
            Item.id > seen_item_id,
            Item.direction == "out",
            Item.deleted.is_(False),
            sa.or_(Item.author_user_id.is_(None), Item.author_user_id != user.id),
        )
        .order_by(Item.id)
    ).all()
    if newer:
        names = ", ".join(sorted({item.author_name or "?" for item in newer}))
        raise Conflict(
            f"{names} replied while you were writing: read it before sending yours",
            "seen_item_id",
            items=[{"id": i.id, "author_name": i.author_name, "body": i.body} for i in newer],
        )


def cancel(user: User, outbox_id: int) -> Outbox:
    """Take back a queued action inside its undo window, or a reply still waiting for
    approval; 409 once it has left."""
    s = db.session()
    row = s.get(Outbox, outbox_id)
    if row is None:
        raise NotFound("no such outbox entry")
    ticket = get_visible(user, row.ticket_id)
    if row.created_by != user.id and user.role == "agent":
        raise Forbidden("only its author or a manager can take this back")
    cancelled = s.execute(
        sa.update(Outbox)
        .where(Outbox.id == row.id, Outbox.state.in_(("queued", "approval")))
        .values(state="cancelled", error=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not cancelled:
        s.rollback()
        raise Conflict("too late: it has already left for the platform", "outbox_id")
    if row.action == "reply" and row.reply_item_id is not None:
        s.execute(sa.update(Item).where(Item.id == row.reply_item_id).values(deleted=True))
        if row.sla_response_id is not None:
            sla.undo_reply(s, ticket, row.sla_response_id)
    kind = "reply" if row.action == "reply" else "moderation"
    data = {"outbox_id": row.id, "action": row.action, "item_id": row.reply_item_id}
    events.commit(s, ticket, user, [(f"{kind}_cancelled", data)])
    s.refresh(row)
    return row


def queue_moderation(user: User, item_id: int, action: str) -> Outbox:
    """Queue hide, unhide, delete or like on an inbound item."""
    s = db.session()
    item = s.get(Item, item_id)
    if item is None or item.direction != "in":
        raise NotFound("no such inbound item")
    ticket = get_visible(user, item.ticket_id)
    _require(ticket.channel_id, action)
    window = _undo_window(action)
    row = Outbox(
        ticket_id=ticket.id,
        channel_id=ticket.channel_id,
        action=action,
        target_item_id=item.id,
        created_by=user.id,
        send_after=utcnow() + timedelta(seconds=window) if window else None,
    )
    s.add(row)
    s.flush()
    data = {
        "item_id": item.id,
        "action": action,
        "outbox_id": row.id,
        "undo_until": _iso(row.send_after),
    }
    events.commit(s, ticket, user, [("moderation_queued", data)])
    jobs.enqueue("workers.jobs.send_outbox", row.id, delay=window or None)
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
        now = utcnow()
        claimed = s.execute(
            sa.update(Outbox)
            .where(
                Outbox.id == outbox_id,
                Outbox.state == "queued",
                sa.or_(Outbox.send_after.is_(None), Outbox.send_after <= now),
            )
            .values(state="sending", attempts=Outbox.attempts + 1, claimed_at=now)
        ).rowcount
        if not claimed:
            early = s.scalar(
                sa.select(Outbox.send_after).where(Outbox.id == outbox_id, Outbox.state == "queued")
            )
            if early is None:
                return "skipped"
    if not claimed:  # a job ahead of its undo window (a timer fired early): wait for it
        jobs.enqueue(
            "workers.jobs.send_outbox", outbox_id, delay=max(0.5, (early - now).total_seconds())
        )
        return "waiting"
    with db.transaction() as s:
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
