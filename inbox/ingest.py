"""Batch ingest: dedupe, edits, contacts, threading, reopen, counters, events: one transaction."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from connectors.base import NormalizedItem
from inbox import analysis, clusters, db, rules, sla
from inbox import events as events_mod
from inbox.db import utcnow
from inbox.models import Channel, Contact, Identity, Item, Ticket

KEEP_CURSOR = object()
CHUNK = 500
DIGEST_KINDS = {"repost"}


@dataclass
class IngestResult:
    created: int = 0
    edited: int = 0
    unchanged: int = 0
    tickets_created: int = 0
    cursor_saved: bool = False
    channel_health: str = "ok"  # as read in the batch's transaction (no second query)
    events: list[dict[str, Any]] = field(default_factory=list)
    outbox_ids: list[int] = field(default_factory=list)  # actions moderation rules queued


def thread_key_for(item: NormalizedItem) -> str:
    """Return the key of the conversation an item belongs to (DESIGN §5)."""
    if item.kind in DIGEST_KINDS or (item.kind == "quote" and not item.body.strip()):
        return f"digest:{item.post_id or item.thread_id or item.external_id}"
    if item.kind == "dm":
        return f"dm:{item.thread_id or item.author.id}"
    if item.kind == "comment":
        return f"comment:{item.thread_id or item.parent_id or item.external_id}"
    if item.kind in ("mention", "quote", "reply"):
        return f"conv:{item.thread_id or item.external_id}:{item.author.id}"
    if item.kind == "email":
        return f"email:{item.thread_id or item.external_id}"
    if item.kind == "review":  # the review and any answer to it seen on the platform
        return f"review:{item.thread_id or item.external_id}"
    return f"{item.kind}:{item.external_id}"


def ingest_batch(
    channel_id: int,
    items: list[NormalizedItem],
    cursor: Any = KEEP_CURSOR,
    cursor_from: Any = KEEP_CURSOR,
    automate: bool = True,
) -> IngestResult:
    """Store a batch and, in the same transaction, the channel's new cursor; then publish.

    With `cursor_from`, the cursor moves only if it is still the one the pull started from,
    so an overlapping slower pull never moves it backwards. With `automate` off (a history
    import), moderation rules do not run: nobody expects old items to be hidden today.
    """
    from inbox import jobs, realtime

    with db.transaction() as s:
        channel = s.execute(
            sa.select(Channel).where(Channel.id == channel_id).with_for_update()
        ).scalar_one()
        result = _ingest(s, channel, _dedupe(items), automate)
        result.channel_health = channel.health
        if cursor is not KEEP_CURSOR and (
            cursor_from is KEEP_CURSOR or _as_json(cursor_from) == channel.cursor
        ):
            channel.cursor = _as_json(cursor)
            channel.last_sync_at = utcnow()
            result.cursor_saved = True
    realtime.publish(result.events)
    for outbox_id in result.outbox_ids:
        jobs.enqueue("workers.jobs.send_outbox", outbox_id)
    return result


def _as_json(value: Any) -> Any:
    """The value as it reads back from the JSON column (tuples become lists, keys strings)."""
    return json.loads(json.dumps(value))


def _dedupe(items: list[NormalizedItem]) -> list[NormalizedItem]:
    latest = {item.external_id: item for item in items}
    return sorted(latest.values(), key=lambda item: item.created_at)


def _chunks(values: list, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _ingest(
    s: Session, channel: Channel, items: list[NormalizedItem], automate: bool = True
) -> IngestResult:
    result = IngestResult()
    existing = _existing_items(s, channel.id, [item.external_id for item in items])
    events: list[dict] = []
    new_items = []
    edits = []
    for item in items:
        known = existing.get(item.external_id)
        if known is None:
            new_items.append(item)
        elif (
            known.body != item.body
            or (item.edited_at and known.edited_at != item.edited_at)
            or (item.rating is not None and known.rating != item.rating)
        ):
            edits.append(
                {
                    "b_id": known.id,
                    "body": item.body,
                    "rating": item.rating if item.rating is not None else known.rating,
                    "edited_at": item.edited_at or utcnow(),
                }
            )
            events.append(_event("item_edited", channel, known.ticket_id, {"item_id": known.id}))
        else:
            result.unchanged += 1
    if edits:
        table = Item.__table__
        s.execute(
            table.update()
            .where(table.c.id == sa.bindparam("b_id"))
            .values(
                body=sa.bindparam("body"),
                rating=sa.bindparam("rating"),
                edited_at=sa.bindparam("edited_at"),
            ),
            edits,
        )
    result.edited = len(edits)
    if new_items:
        identities, fresh = _resolve_identities(s, channel.type, new_items)
        events += _store_new(s, channel, new_items, identities, result, fresh, automate)
    if events:
        result.events = events_mod.write(s, events)
    return result


def _existing_items(s: Session, channel_id: int, external_ids: list[str]) -> dict[str, Any]:
    found = {}
    for chunk in _chunks(external_ids):
        rows = s.execute(
            sa.select(
                Item.id, Item.external_id, Item.body, Item.rating, Item.edited_at, Item.ticket_id
            ).where(Item.channel_id == channel_id, Item.external_id.in_(chunk))
        )
        found.update({row.external_id: row for row in rows})
    return found


def _resolve_identities(
    s: Session, platform: str, items: list[NormalizedItem]
) -> tuple[dict[str, Any], set[int]]:
    """Map author ids to (identity id, contact id), creating contacts for new authors.

    Also return the ids of identities created now: their authors write for the first time.
    """
    authors = {item.author.id: item.author for item in items}
    found = _load_identities(s, platform, list(authors))
    missing = [authors[key] for key in authors if key not in found]
    if not missing:
        return found, set()
    names = [(a.name or a.handle or a.id)[:200] for a in missing]
    returned = s.execute(
        sa.insert(Contact).returning(Contact.id, Contact.name),
        [{"name": name, "created_at": utcnow()} for name in names],
    ).all()
    # new contacts with the same name are interchangeable, so pair them by name
    by_name = defaultdict(list)
    for contact_id, name in returned:
        by_name[name].append(contact_id)
    contact_ids = [by_name[name].pop() for name in names]
    rows = [
        {
            "contact_id": contact_id,
            "platform": platform,
            "external_id": a.id,
            "handle": a.handle,
            "name": a.name,
        }
        for a, contact_id in zip(missing, contact_ids, strict=True)
    ]
    insert = db.upsert_insert(s, Identity).on_conflict_do_nothing(
        index_elements=["platform", "external_id"]
    )
    s.execute(insert, rows)
    found.update(_load_identities(s, platform, [a.id for a in missing]))
    return found, {found[a.id].id for a in missing}


def _load_identities(s: Session, platform: str, external_ids: list[str]) -> dict[str, Any]:
    found = {}
    for chunk in _chunks(external_ids):
        rows = s.execute(
            sa.select(Identity.id, Identity.contact_id, Identity.external_id).where(
                Identity.platform == platform, Identity.external_id.in_(chunk)
            )
        )
        found.update({row.external_id: row for row in rows})
    return found


def _latest_tickets(s: Session, channel_id: int, keys: list[str]) -> dict[str, Ticket]:
    found = {}
    for chunk in _chunks(keys):
        latest = (
            sa.select(sa.func.max(Ticket.id))
            .where(Ticket.channel_id == channel_id, Ticket.thread_key.in_(chunk))
            .group_by(Ticket.thread_key)
        )
        for ticket in s.scalars(sa.select(Ticket).where(Ticket.id.in_(latest))):
            found[ticket.thread_key] = ticket
    return found


def _store_new(s, channel, items, identities, result, fresh, automate) -> list[dict]:
    """Place new items in tickets (existing, reopened or new), insert them, bump counters,
    then group near-duplicates, attach incidents and run the moderation rules."""
    now = utcnow()
    by_key: dict[str, list[NormalizedItem]] = defaultdict(list)
    for item in items:
        by_key[thread_key_for(item)].append(item)
    latest = _latest_tickets(s, channel.id, list(by_key))
    window = timedelta(seconds=channel.reopen_window)
    events, new_tickets, placed = [], [], {}
    for key, group in by_key.items():
        ticket = latest.get(key)
        inbound = [item for item in group if not item.outbound]
        if ticket is not None and _joins(ticket, bool(inbound), now, window):
            placed[key] = ticket.id
        elif inbound:
            first = inbound[0]
            new_tickets.append(_ticket_row(channel, key, first, identities, ticket, now))
        # outbound echoes with no ticket to join are our own posts: nothing to triage
    if new_tickets:
        returned = s.execute(
            sa.insert(Ticket)
            .returning(Ticket.id, Ticket.thread_key, Ticket.kind)
            .execution_options(render_nulls=True),
            new_tickets,
        ).all()
        for ticket_id, key, kind in sorted(returned):
            placed[key] = ticket_id
            events.append(_event("ticket_created", channel, ticket_id, {"kind": kind}))
        result.tickets_created = len(returned)
    rows = [
        _item_row(channel, item, placed[key], identities, now)
        for key, group in by_key.items()
        if key in placed
        for item in group
    ]
    if not rows:
        return events
    _analyse(rows)
    added = s.execute(
        sa.insert(Item)
        .returning(Item.id, Item.ticket_id, Item.kind, Item.external_id)
        .execution_options(render_nulls=True),
        rows,
    ).all()
    by_external = {row["external_id"]: row for row in rows}
    for item_id, ticket_id, kind, external_id in sorted(added):
        by_external[external_id]["id"] = item_id
        events.append(_event("item_added", channel, ticket_id, {"item_id": item_id, "kind": kind}))
    result.created = len(rows)
    events += _bump_tickets(s, channel, rows, latest)
    first_inbound: dict[int, Any] = {}
    for row in rows:
        if row["direction"] == "in":
            at = first_inbound.get(row["ticket_id"])
            first_inbound[row["ticket_id"]] = (
                min(at, row["created_at"]) if at else row["created_at"]
            )
    inbound = [row for row in rows if row["direction"] == "in"]
    paused = _attach_incidents(s, channel, inbound)  # first: a crisis sets tighter clocks
    sla.on_inbound(s, first_inbound)
    for grew in clusters.assign(s, channel.team_id, inbound, now):
        events.append(_event("cluster_grew", channel, None, grew))
    if automate:
        subjects = rules.subjects_for(s, channel, inbound, fresh)
        applied = rules.apply(s, channel, subjects, paused)
        events += applied.events
        result.outbox_ids += applied.outbox_ids
    return events


def _analyse(rows: list[dict]) -> None:
    """Language and sentiment of inbound items, in one batch call."""
    inbound = [row for row in rows if row["direction"] == "in"]
    for row, found in zip(
        inbound, analysis.analyze_many([row["body"] for row in inbound]), strict=True
    ):
        row["language"], row["sentiment"] = found.language, found.sentiment
        row["sentiment_score"] = found.score


def _attach_incidents(s: Session, channel: Channel, inbound: list[dict]) -> set[int]:
    """Put new items' tickets in the open incident they belong to (inbox/buzz.py).

    Return the tickets whose incident is in crisis mode: automatic actions pause there.
    """
    from inbox import buzz

    incidents = [i for i in buzz.open_incidents(s) if i.team_id == channel.team_id]
    if not incidents:
        return set()
    joined: dict[int, list[int]] = defaultdict(list)
    paused = set()
    for row in inbound:
        incident = buzz.incident_for(
            incidents, channel_id=channel.id, post_id=row["post_id"], body=row["body"]
        )
        if incident is not None:
            joined[incident.id].append(row["ticket_id"])
            if buzz.crisis_paused(incident):
                paused.add(row["ticket_id"])
    for incident_id, ticket_ids in joined.items():
        s.execute(
            sa.update(Ticket)
            .where(Ticket.id.in_(ticket_ids), Ticket.incident_id.is_(None))
            .values(incident_id=incident_id)
        )
    return paused


def _joins(ticket: Ticket, has_inbound: bool, now, window: timedelta) -> bool:
    """Tell whether items join this ticket: open ones always; closed ones if recently closed."""
    if ticket.status != "closed" or not has_inbound:
        return True
    return ticket.closed_at is not None and now - ticket.closed_at < window


def _ticket_row(channel, key, first, identities, previous, now) -> dict:
    identity = identities[first.author.id]
    return {
        "channel_id": channel.id,
        "team_id": channel.team_id,
        "thread_key": key,
        "kind": "repost" if key.startswith("digest:") else first.kind,
        "is_digest": key.startswith("digest:"),
        "contact_id": identity.contact_id,
        "post_id": first.post_id,
        "post_text": first.post_text,
        "post_url": first.post_url,
        "previous_ticket_id": previous.id if previous is not None else None,
        "subject": (first.subject or first.body.split("\n", 1)[0])[:300],
        "author_name": (first.author.name or first.author.handle or first.author.id)[:255],
        "status": "open",
        "priority": "normal",
        "item_count": 0,
        "version": 1,
        "last_activity_at": first.created_at,
        # platform time: a backlog or an imported history keeps its real age (and SLA clocks)
        "created_at": min(first.created_at, now),
    }


def _item_row(channel, item: NormalizedItem, ticket_id: int, identities, now) -> dict:
    return {
        "channel_id": channel.id,
        "external_id": item.external_id,
        "ticket_id": ticket_id,
        "kind": item.kind,
        "direction": "out" if item.outbound else "in",
        "author_identity_id": identities[item.author.id].id,
        "author_name": (item.author.name or item.author.handle or item.author.id)[:255],
        "body": item.body,
        "url": item.url,
        "post_id": item.post_id,
        "thread_id": item.thread_id,
        "parent_external_id": item.parent_id,
        "rating": item.rating,
        "created_at": item.created_at,
        "received_at": now,
        "edited_at": item.edited_at,
        "language": None,
        "sentiment": None,
        "sentiment_score": None,
        "followers": item.author.followers,
    }


def _bump_tickets(s, channel, rows, latest) -> list[dict]:
    """Update counters with relative statements, and reopen tickets that got inbound items."""
    per_ticket: dict[int, dict] = {}
    for row in rows:
        entry = per_ticket.setdefault(
            row["ticket_id"],
            {
                "t_id": row["ticket_id"],
                "n": 0,
                "inbound_at": None,
                "preview": None,
                "at": None,
                "has_in": False,
                "sentiment": None,
                "language": None,
            },
        )
        entry["n"] += 1
        entry["at"] = max(entry["at"] or row["created_at"], row["created_at"])
        if row["direction"] == "in":
            entry["inbound_at"] = row["created_at"]
            entry["preview"] = " ".join(row["body"].split())[:300]
            entry["has_in"] = True
            entry["sentiment"], entry["language"] = row["sentiment"], row["language"]
    table = Ticket.__table__
    c = table.c
    activity_at = sa.bindparam("at", type_=db.UTCDateTime)
    s.execute(
        table.update()
        .where(c.id == sa.bindparam("t_id"))
        .values(
            item_count=c.item_count + sa.bindparam("n"),
            preview=sa.func.coalesce(sa.bindparam("preview", type_=sa.String), c.preview),
            last_inbound_at=sa.func.coalesce(
                sa.bindparam("inbound_at", type_=db.UTCDateTime), c.last_inbound_at
            ),
            # platform time, so a backlog sorts as it happened; it never moves backwards
            last_activity_at=sa.case(
                (c.last_activity_at > activity_at, c.last_activity_at), else_=activity_at
            ),
            # the newest inbound item's analysis is the ticket's
            sentiment=sa.case(
                (sa.bindparam("has_in", type_=sa.Boolean), sa.bindparam("sentiment", sa.String)),
                else_=c.sentiment,
            ),
            language=sa.case(
                (sa.bindparam("has_in", type_=sa.Boolean), sa.bindparam("language", sa.String)),
                else_=c.language,
            ),
            version=c.version + 1,
        ),
        list(per_ticket.values()),
    )
    by_id = {ticket.id: ticket for ticket in latest.values()}
    reopened = [
        ticket_id
        for ticket_id, entry in per_ticket.items()
        if entry["inbound_at"] is not None
        and ticket_id in by_id
        and by_id[ticket_id].status != "open"
    ]
    if not reopened:
        return []
    s.execute(
        table.update()
        .where(c.id.in_(reopened))
        .values(status="open", closed_at=None, snoozed_until=None)
    )
    return [
        _event("ticket_reopened", channel, ticket_id, {"from": by_id[ticket_id].status})
        for ticket_id in reopened
    ]


def _event(type_: str, channel: Channel, ticket_id: int | None, data: dict) -> dict:
    return {
        "type": type_,
        "team_id": channel.team_id,
        "channel_id": channel.id,
        "ticket_id": ticket_id,
        "data": data,
        "created_at": utcnow(),
    }
