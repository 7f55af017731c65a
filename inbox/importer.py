"""Import a past history (JSON Lines) through the live paths: ingest, replies, status, SLA clocks.

The file format is described in docs/import-format.md. Reading checks every line first and
raises `InvalidHistory` with all the bad ones, so a bad file writes nothing. Applying keeps each
conversation's records in time order: items go through `ingest_batch` in batches, our past
replies are stored as already sent (never sent again) and measured by `sla.on_reply`, status
changes take their SLA columns from `sla.on_change` at their own time, and clocks that ran late
in the past are settled without flooding the live screens with breach events. Everything
dedupes, so a second run of the same file changes nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from connectors.base import MAX_BODY_CHARS, BadPayload, NormalizedItem
from inbox import db, events, ingest, realtime, sla
from inbox.db import utcnow
from inbox.models import STATUSES, Channel, Event, Item, Outbox, Ticket, User

TYPES = ("item", "reply", "status")
FIELDS = {
    "reply": {"type", "channel", "thread_id", "in_reply_to", "text", "agent", "at", "external_id"},
    "status": {"type", "channel", "thread_id", "in_reply_to", "status", "at", "agent", "until"},
}
CHUNK = 500
Key = tuple[int, str]  # (channel id, thread key): the conversation a record touches
Named = tuple[datetime, int, int, str]  # stored inbound item: created_at, id, ticket, thread key
Mark = tuple[int, str, str]  # (ticket id, clock, due time): a late clock recorded as breached


class InvalidHistory(Exception):
    """The file has bad lines: `errors` lists (line number, reason), in line order.

    Line 0 stands for the command's own arguments.
    """

    def __init__(self, errors: list[tuple[int, str]]):
        super().__init__(f"{len(errors)} bad line(s)")
        self.errors = sorted(errors)


@dataclass
class Record:
    line: int
    type: str
    channel_id: int
    at: datetime
    item: NormalizedItem | None = None
    ref: str = "thread_id"  # how a reply or status names its ticket: thread_id or in_reply_to
    ref_value: str = ""
    agent_id: int | None = None
    agent_name: str = ""
    text: str = ""
    external_id: str | None = None
    status: str = ""
    until: datetime | None = None
    keys: frozenset[Key] = frozenset()


@dataclass
class History:
    records: list[Record]
    echoes: int = 0  # outbound echoes dropped because a reply record stands for them

    def count(self, type_: str) -> int:
        return sum(1 for r in self.records if r.type == type_)


@dataclass
class ImportStats:
    items_created: int = 0
    items_edited: int = 0
    items_unchanged: int = 0
    echoes_merged: int = 0
    replies: int = 0
    replies_unchanged: int = 0
    status_changes: int = 0
    status_unchanged: int = 0
    tickets_created: int = 0
    tickets_reopened: int = 0
    clocks_settled: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for the terminal."""
        return (
            f"items: {self.items_created} created, {self.items_edited} edited,"
            f" {self.items_unchanged} unchanged ({self.echoes_merged} echoes merged);"
            f" replies: {self.replies} created, {self.replies_unchanged} unchanged;"
            f" status changes: {self.status_changes} applied, {self.status_unchanged} unchanged;"
            f" tickets: {self.tickets_created} created, {self.tickets_reopened} reopened;"
            f" past-due clocks settled: {self.clocks_settled}; {self.seconds:.1f} s"
        )


# -- reading and checking -------------------------------------------------------------------


def read_history(
    lines: Iterable[str], default_channel: str | None = None, now: datetime | None = None
) -> History:
    """Parse and check every line; return the records in time order or raise InvalidHistory."""
    now = now or utcnow()
    errors: list[tuple[int, str]] = []
    raw = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except ValueError as exc:
            errors.append((number, f"malformed JSON: {getattr(exc, 'msg', exc)}"))
            continue
        if not isinstance(data, dict) or data.get("type") not in TYPES:
            kind = data.get("type") if isinstance(data, dict) else type(data).__name__
            errors.append((number, f"unknown type {kind!r} (expected item, reply or status)"))
            continue
        raw.append((number, data))
    with _read_session() as s:
        lookup = _Lookup(s, raw, default_channel)
        if default_channel is not None:
            try:
                lookup.channel(default_channel)
            except ValueError as exc:
                errors.append((0, f"--channel: {exc}"))
        records = []
        for number, data in raw:
            try:
                parse = _parse_item if data["type"] == "item" else _parse_action
                records.append(parse(data, number, lookup, now))
            except ValueError as exc:
                errors.append((number, str(exc)))
        # stable: records at the same instant keep their order in the file
        records.sort(key=lambda r: r.at)
        records, echoes = _merge_echoes(records)
        errors += _link(s, records)
    if errors:
        raise InvalidHistory(errors)
    return History(records, echoes)


def _read_session() -> Session:
    return current_app.extensions["db_sessionmaker"]()


class _Lookup:
    """Channels by id or name and people by e-mail, loaded once for the whole file."""

    def __init__(self, s: Session, raw: list[tuple[int, dict]], default_channel: str | None):
        self.by_id = {c.id: c for c in s.scalars(sa.select(Channel))}
        self.by_name: dict[str, list[Channel]] = defaultdict(list)
        for channel in self.by_id.values():
            self.by_name[channel.name].append(channel)
        emails = sorted(
            {d["agent"].strip().lower() for _, d in raw if isinstance(d.get("agent"), str)}
        )
        self.users: dict[str, User] = {}
        for start in range(0, len(emails), CHUNK):
            found = s.scalars(
                sa.select(User).where(sa.func.lower(User.email).in_(emails[start : start + CHUNK]))
            )
            self.users.update({u.email.lower(): u for u in found})
        self.default = default_channel

    def channel(self, value: Any) -> Channel:
        if value is None:
            value = self.default
        if value is None:
            raise ValueError('no channel: give "channel" or --channel')
        found = None
        if isinstance(value, int) and not isinstance(value, bool):
            found = self.by_id.get(value)
        elif isinstance(value, str):
            named = self.by_name.get(value, [])
            if len(named) > 1:
                raise ValueError(f"channel name {value!r} is ambiguous: give its id")
            found = named[0] if named else None
            if found is None and value.isdigit():
                found = self.by_id.get(int(value))
        if found is None:
            raise ValueError(f"unknown channel {value!r}")
        return found

    def agent(self, value: Any, required: bool) -> User | None:
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ValueError('give "agent": the e-mail of the CM who did it')
        user = self.users.get(value.strip().lower())
        if user is None:
            raise ValueError(f"unknown agent e-mail {value!r}")
        return user


def _parse_item(data: dict, line: int, lookup: _Lookup, now: datetime) -> Record:
    channel = lookup.channel(data.get("channel"))
    fields = {k: v for k, v in data.items() if k not in ("type", "channel")}
    try:
        item = NormalizedItem.from_dict(fields)
    except BadPayload as exc:
        raise ValueError(f"invalid item: {_flatten(exc.errors)}") from None
    if item.created_at > now:
        raise ValueError("created_at is in the future")
    key = (channel.id, ingest.thread_key_for(item))
    return Record(line, "item", channel.id, item.created_at, item=item, keys=frozenset({key}))


def _flatten(errors: Any, prefix: str = "") -> str:
    if isinstance(errors, dict):
        return "; ".join(_flatten(v, f"{prefix}{k}.") for k, v in errors.items())
    if isinstance(errors, list):
        return f"{prefix.rstrip('.')}: {' '.join(str(e) for e in errors)}"
    return f"{prefix.rstrip('.')}: {errors}"


def _parse_action(data: dict, line: int, lookup: _Lookup, now: datetime) -> Record:
    """A reply or a status record."""
    type_ = data["type"]
    unknown = sorted(set(data) - FIELDS[type_])
    if unknown:
        raise ValueError(f"unknown field(s) for a {type_}: {', '.join(unknown)}")
    channel = lookup.channel(data.get("channel"))
    ref = "in_reply_to" if data.get("in_reply_to") is not None else "thread_id"
    ref_value = data.get(ref)
    if not isinstance(ref_value, str) or not 0 < len(ref_value) <= 255:
        raise ValueError('give "thread_id" or "in_reply_to" (a string) to name the ticket')
    at = _time(data.get("at"), "at")
    if at > now:
        raise ValueError("at is in the future")
    agent = lookup.agent(data.get("agent"), required=type_ == "reply")
    record = Record(line, type_, channel.id, at, ref=ref, ref_value=ref_value)
    if agent is not None:
        record.agent_id, record.agent_name = agent.id, agent.name
    if type_ == "reply":
        record.text = data.get("text")
        if not isinstance(record.text, str) or not record.text.strip():
            raise ValueError('give "text": what we wrote')
        if len(record.text) > MAX_BODY_CHARS:
            raise ValueError(f"text is longer than {MAX_BODY_CHARS} characters")
        record.external_id = data.get("external_id")
        if record.external_id is not None and not (
            isinstance(record.external_id, str) and 0 < len(record.external_id) <= 255
        ):
            raise ValueError("external_id must be a string of 1 to 255 characters")
    else:
        record.status = data.get("status")
        if record.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        if data.get("until") is not None:
            if record.status != "snoozed":
                raise ValueError('"until" goes with the status snoozed only')
            record.until = _time(data["until"], "until")
    return record


def _time(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"give {name!r}: an ISO 8601 time with its offset")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name}: {value!r} is not an ISO 8601 time") from None
    if moment.utcoffset() is None:
        raise ValueError(f"{name}: {value!r} has no offset (add Z or +01:00)")
    return moment.astimezone(UTC)


def _merge_echoes(records: list[Record]) -> tuple[list[Record], int]:
    """Drop outbound echoes of replies the file also holds: the reply record carries the CM."""
    ours = {(r.channel_id, r.external_id) for r in records if r.type == "reply" and r.external_id}
    kept = [
        r
        for r in records
        if not (r.type == "item" and r.item.outbound and (r.channel_id, r.item.external_id) in ours)
    ]
    return kept, len(records) - len(kept)


def _link(s: Session, records: list[Record]) -> list[tuple[int, str]]:
    """Check each reply and status names an earlier inbound item; note the threads it touches."""
    stored = _inbound_named(s, records)
    by_external: dict[tuple[int, str], Key] = {}
    by_thread: dict[tuple[int, str], set[Key]] = defaultdict(set)
    errors = []
    for record in records:
        channel = record.channel_id
        if record.type == "item":
            item = record.item
            if not item.outbound:
                [key] = record.keys
                by_external[(channel, item.external_id)] = key
                if item.thread_id:
                    by_thread[(channel, item.thread_id)].add(key)
            continue
        value = record.ref_value
        if record.ref == "in_reply_to":
            keys = {by_external[(channel, value)]} if (channel, value) in by_external else set()
        else:
            keys = set(by_thread.get((channel, value), ()))
        keys |= {
            (channel, key)
            for at, _id, _ticket, key in stored.get((channel, record.ref, value), ())
            if at <= record.at
        }
        if not keys:
            errors.append(
                (record.line, f"no earlier inbound item with {record.ref} {value!r} on its channel")
            )
        record.keys = frozenset(keys)
    return errors


def _inbound_named(s: Session, records: list[Record]) -> dict[tuple[int, str, str], list[Named]]:
    """Stored inbound items that replies or status changes name, by (channel, ref, value)."""
    wanted: dict[tuple[int, str], set[str]] = defaultdict(set)
    for r in records:
        if r.type != "item":
            wanted[(r.channel_id, r.ref)].add(r.ref_value)
    found: dict[tuple[int, str, str], list[Named]] = defaultdict(list)
    for (channel_id, ref), values in wanted.items():
        column = Item.external_id if ref == "in_reply_to" else Item.thread_id
        values = sorted(values)
        for start in range(0, len(values), CHUNK):
            rows = s.execute(
                sa.select(column, Item.created_at, Item.id, Item.ticket_id, Ticket.thread_key)
                .join(Ticket, Ticket.id == Item.ticket_id)
                .where(
                    Item.channel_id == channel_id,
                    Item.direction == "in",
                    column.in_(values[start : start + CHUNK]),
                )
            )
            for value, *named in rows:
                found[(channel_id, ref, value)].append(tuple(named))
    return found


def stored_items(history: History) -> int:
    """How many of the file's items are already stored (a dry run tells it)."""
    wanted: dict[int, set[str]] = defaultdict(set)
    for r in history.records:
        if r.type == "item":
            wanted[r.channel_id].add(r.item.external_id)
    with _read_session() as s:
        return sum(len(_stored_external_ids(s, c, sorted(ids))) for c, ids in wanted.items())


# -- applying -------------------------------------------------------------------------------


def import_history(
    history: History, batch: int = 500, progress: Callable[[int], None] | None = None
) -> ImportStats:
    """Apply checked records; return what was created and what was already there.

    Each conversation gets its records in time order. Across conversations nothing depends on
    order, so the records go in rounds (see `rounds`): items through `ingest_batch`, up to
    `batch` of one channel per call, then replies and status changes, up to `batch` per
    transaction, and so on.
    """
    progress = progress or (lambda n: None)
    run = _Run()
    run.stats.echoes_merged = history.echoes
    for number, records in enumerate(rounds(history.records)):
        if number % 2:
            for start in range(0, len(records), batch):
                run.apply(records[start : start + batch])
                progress(min(batch, len(records) - start))
            continue
        by_channel: dict[int, list[Record]] = defaultdict(list)
        for record in records:
            by_channel[record.channel_id].append(record)
        for channel_id, group in by_channel.items():
            for start in range(0, len(group), batch):
                run.ingest(channel_id, group[start : start + batch])
                progress(min(batch, len(group) - start))
    with db.transaction() as s:
        settled = settle_clocks(s, run.tickets, utcnow(), final=True, provisional=run.marks)
    run.stats.clocks_settled = len(settled)
    return run.stats


def rounds(records: list[Record]) -> list[list[Record]]:
    """Split time-ordered records into rounds: items in even ones, replies and status in odd ones.

    A record goes in the first round of its kind not before the round of the previous record
    of any conversation it touches, so applying round after round keeps every conversation in
    time order while items of many conversations share one ingest call.
    """
    last: dict[Key, int] = {}
    found: list[list[Record]] = []
    for record in records:
        base = max((last.get(key, 0) for key in record.keys), default=0)
        kind = 0 if record.type == "item" else 1
        number = base if base % 2 == kind else base + 1
        for key in record.keys:
            last[key] = number
        found += [[] for _ in range(number + 1 - len(found))]
        found[number].append(record)
    return found


class _Run:
    def __init__(self) -> None:
        self.stats = ImportStats()
        self.tickets: set[int] = set()  # every ticket the file's records belong to
        self.marks: set[Mark] = set()  # late clocks recorded while importing

    def ingest(self, channel_id: int, records: list[Record]) -> None:
        items = [r.item for r in records]
        self.stats.tickets_reopened += reopen_as_then(channel_id, items)
        _fresh_reads()
        result = ingest.ingest_batch(channel_id, items, automate=False)
        s = self.stats
        s.items_created += result.created
        s.items_edited += result.edited
        s.items_unchanged += result.unchanged
        s.tickets_created += result.tickets_created
        s.tickets_reopened += sum(1 for e in result.events if e["type"] == "ticket_reopened")
        ids = {e["ticket_id"] for e in result.events if e.get("ticket_id")}
        # ingest set due times long past: mark them before the live sweep raises them as news
        with db.transaction() as session:
            self.marks |= settle_clocks(session, ids, utcnow(), final=False)
            external_ids = [item.external_id for item in items]
            self.tickets |= _tickets_of_items(session, channel_id, external_ids)

    def apply(self, records: list[Record]) -> None:
        with db.transaction() as s:
            group = _Group(s, records)
            for record in records:
                if record.type == "reply":
                    group.reply(record, self.stats)
                else:
                    group.change_status(record, self.stats)
            rows = group.event_rows()
            self.marks |= settle_clocks(s, group.changed, utcnow(), final=False)
            written = events.write(s, rows)
        self.tickets |= set(group.tickets)
        _fresh_reads()
        realtime.publish(written)


def _fresh_reads() -> None:
    """End the command's read snapshot, so live pushes carry the rows as just written."""
    db.session().rollback()


def reopen_as_then(channel_id: int, items: list[NormalizedItem]) -> int:
    """Reopen closed tickets that these items reopened when they were written.

    `ingest_batch` measures the reopen window from now, so a history older than the window
    would start new tickets where the conversation really went on; measured from the item's
    own time, the ticket is reopened here first (as ingest does it) and the items join it.
    """
    with db.transaction() as s:
        channel = s.get(Channel, channel_id)
        window, now = timedelta(seconds=channel.reopen_window), utcnow()
        inbound = [i for i in items if not i.outbound]
        stored = _stored_external_ids(s, channel_id, [i.external_id for i in inbound])
        first: dict[str, NormalizedItem] = {}
        for item in sorted(inbound, key=lambda i: i.created_at):
            if item.external_id not in stored:
                first.setdefault(ingest.thread_key_for(item), item)
        rows = []
        for ticket in _latest_tickets(s, channel_id, list(first)):
            item = first[ticket.thread_key]
            closed_at = ticket.closed_at
            if ticket.status != "closed" or closed_at is None or now - closed_at < window:
                continue  # ingest decides these the same way it did then
            if item.created_at - closed_at < window:
                ticket.status, ticket.closed_at, ticket.snoozed_until = "open", None, None
                ticket.version += 1
                row = _event_row("ticket_reopened", ticket, None, item.created_at)
                rows.append(row | {"data": {"from": "closed", "imported": True}})
        written = events.write(s, rows)
    realtime.publish(written)
    return len(written)


def _tickets_of_items(s: Session, channel_id: int, external_ids: list[str]) -> set[int]:
    return _of_items(s, Item.ticket_id, channel_id, external_ids)


def _stored_external_ids(s: Session, channel_id: int, external_ids: list[str]) -> set[str]:
    return _of_items(s, Item.external_id, channel_id, external_ids)


def _of_items(s: Session, column, channel_id: int, external_ids: list[str]) -> set:
    """A column of the stored items of a channel with these external ids."""
    found = set()
    for start in range(0, len(external_ids), CHUNK):
        chunk = external_ids[start : start + CHUNK]
        query = sa.select(column).where(Item.channel_id == channel_id, Item.external_id.in_(chunk))
        found |= set(s.scalars(query))
    return found


def _latest_tickets(s: Session, channel_id: int, keys: list[str]) -> list[Ticket]:
    found = []
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        latest = (
            sa.select(sa.func.max(Ticket.id))
            .where(Ticket.channel_id == channel_id, Ticket.thread_key.in_(chunk))
            .group_by(Ticket.thread_key)
        )
        found += s.scalars(sa.select(Ticket).where(Ticket.id.in_(latest))).all()
    return found


class _Group:
    """Replies and status changes applied in one transaction, what they need read up front.

    The named items, their tickets (locked), the replies and status changes already stored:
    a few statements for the whole group instead of a few per record.
    """

    def __init__(self, s: Session, records: list[Record]):
        self.s = s
        self.rules = sla.Rules.load(s)  # once per group, not once per record
        self.target: dict[int, tuple[int, int]] = {}  # line -> (named item, its ticket)
        named = _inbound_named(s, records)
        for r in records:
            earlier = [n for n in named.get((r.channel_id, r.ref, r.ref_value), ()) if n[0] <= r.at]
            if not earlier:  # read_history checked it: only a concurrent delete gets here
                raise LookupError(f"line {r.line}: its ticket has disappeared")
            _at, item_id, ticket_id, _key = max(earlier)
            self.target[r.line] = (item_id, ticket_id)
        ids = sorted({ticket_id for _item, ticket_id in self.target.values()})
        self.tickets: dict[int, Ticket] = {}
        self.replies: set[tuple] = set()  # (ticket, at, agent, text) of stored replies
        self.statuses: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
        for start in range(0, len(ids), CHUNK):
            self._load(ids[start : start + CHUNK])
        self.external_ids = _stored_reply_ids(s, records)
        self.outboxes: list[dict] = []
        self.pending: list[tuple[str, Ticket, Record, dict]] = []
        self.changed: set[int] = set()

    def _load(self, ids: list[int]) -> None:
        s = self.s
        query = sa.select(Ticket).where(Ticket.id.in_(ids)).with_for_update()
        self.tickets.update({t.id: t for t in s.scalars(query)})
        replies = s.execute(
            sa.select(Item.ticket_id, Item.created_at, Item.author_user_id, Item.body).where(
                Item.ticket_id.in_(ids), Item.direction == "out", Item.kind == "reply"
            )
        )
        self.replies |= {tuple(row) for row in replies}
        changes = s.execute(
            sa.select(Event.ticket_id, Event.created_at, Event.data).where(
                Event.ticket_id.in_(ids), Event.type == "status_changed"
            )
        )
        for ticket_id, at, data in changes:
            self.statuses[ticket_id].append((at, (data or {}).get("status")))

    def reply(self, record: Record, stats: ImportStats) -> None:
        """Store a past reply as sent (an outbox row `sent` is never sent) and measure it."""
        target_id, ticket_id = self.target[record.line]
        ticket = self.tickets[ticket_id]
        same = (ticket.id, record.at, record.agent_id, record.text)
        known = (record.channel_id, record.external_id)
        if same in self.replies or (record.external_id and known in self.external_ids):
            stats.replies_unchanged += 1
            return
        reply = Item(
            channel_id=ticket.channel_id,
            ticket_id=ticket.id,
            external_id=record.external_id,
            kind="reply",
            direction="out",
            author_user_id=record.agent_id,
            author_name=record.agent_name,
            body=record.text,
            created_at=record.at,
        )
        self.s.add(reply)
        self.s.flush()
        sla.on_reply(self.s, ticket, record.at, record.agent_id, self.rules)
        self.outboxes.append(
            {
                "ticket_id": ticket.id,
                "channel_id": ticket.channel_id,
                "action": "reply",
                "target_item_id": target_id,
                "reply_item_id": reply.id,
                "text": record.text,
                "state": "sent",
                "external_id": record.external_id,
                "created_by": record.agent_id,
                "created_at": record.at,
                "sent_at": record.at,
            }
        )
        self.replies.add(same)
        if record.external_id:
            self.external_ids.add(known)
        self._changed(ticket, record, "reply_sent", {"item_id": reply.id})
        stats.replies += 1

    def change_status(self, record: Record, stats: ImportStats) -> None:
        """Change the status as `update_ticket` does, with the SLA columns as of `record.at`."""
        ticket = self.tickets[self.target[record.line][1]]
        if self._status_stored(ticket, record):
            stats.status_unchanged += 1
            return
        old = ticket.status
        values: dict[str, Any] = {"status": record.status}
        if record.status == "closed":
            values["closed_at"] = record.at
        if record.status != "snoozed":
            values["snoozed_until"] = None
        elif record.until is not None:
            values["snoozed_until"] = record.until
        values |= sla.on_change(self.s, ticket, values, record.at, self.rules)
        for name, value in values.items():
            setattr(ticket, name, value)
        if record.status != old:
            self._changed(ticket, record, "status_changed", {"status": record.status, "from": old})
        if record.until is not None:
            self._changed(ticket, record, "snoozed", {"until": record.until.isoformat()})
        self.statuses[ticket.id].append((record.at, record.status))
        stats.status_changes += 1

    def _status_stored(self, ticket: Ticket, record: Record) -> bool:
        """Tell whether the ticket already has this status, or has moved on since `record.at`."""
        if ticket.status == record.status and record.until in (None, ticket.snoozed_until):
            return True
        changes = list(self.statuses.get(ticket.id, ()))
        if ticket.closed_at is not None:
            changes.append((ticket.closed_at, "closed"))
        return any(
            at > record.at or (at == record.at and status == record.status)
            for at, status in changes
        )

    def _changed(self, ticket: Ticket, record: Record, type_: str, data: dict) -> None:
        if ticket.id not in self.changed:
            ticket.version += 1  # once per group: it is one write, as a live change is
        self.changed.add(ticket.id)
        self.pending.append((type_, ticket, record, data))

    def event_rows(self) -> list[dict]:
        """Insert the outbox rows in one statement; return the events of the group."""
        outbox_of = {}
        if self.outboxes:
            returned = self.s.execute(
                sa.insert(Outbox)
                .returning(Outbox.id, Outbox.reply_item_id)
                .execution_options(render_nulls=True),
                self.outboxes,
            ).all()
            outbox_of = {item_id: outbox_id for outbox_id, item_id in returned}
        rows = []
        for type_, ticket, record, data in self.pending:
            if type_ == "reply_sent":
                item_id = data["item_id"]
                data = {"outbox_id": outbox_of[item_id], "action": "reply", "error": None} | data
            row = _event_row(type_, ticket, record.agent_id, record.at)
            rows.append(row | {"data": data | {"imported": True}})
        return rows


def _stored_reply_ids(s: Session, records: list[Record]) -> set[tuple[int, str]]:
    """The (channel, external id) of the group's replies already stored."""
    wanted: dict[int, list[str]] = defaultdict(list)
    for r in records:
        if r.type == "reply" and r.external_id:
            wanted[r.channel_id].append(r.external_id)
    return {
        (channel_id, external_id)
        for channel_id, ids in wanted.items()
        for external_id in _stored_external_ids(s, channel_id, ids)
    }


def _event_row(type_: str, ticket: Ticket, actor_id: int | None, at: datetime) -> dict:
    # dated when it happened, so the ticket's timeline reads as the history did
    return {
        "type": type_,
        "team_id": ticket.team_id,
        "channel_id": ticket.channel_id,
        "ticket_id": ticket.id,
        "actor_id": actor_id,
        "data": {},
        "created_at": at,
    }


# -- SLA clocks after the fact --------------------------------------------------------------


def settle_clocks(
    s: Session,
    ticket_ids: Iterable[int],
    now: datetime,
    final: bool,
    provisional: set[Mark] | frozenset[Mark] = frozenset(),
) -> set[Mark]:
    """Record running clocks whose due time has passed as breached, without events.

    The live sweep raises a breach event for every due time it finds in the past; for a history
    those are old news, so they go quietly into the ticket's SLA state (the sweep skips them)
    and `sla_next_check_at` watches only the due times still ahead. While importing, the marks
    are provisional: a later record may still answer the wait in time, and then the final pass
    (`final`, once the whole history is in) drops them; it sets the breach flags of the clocks
    still running late. Return the marks that were not recorded yet (or lacked their flag).
    """
    ids = sorted(set(ticket_ids))
    rules = sla.Rules.load(s) if ids else None
    marks: set[Mark] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for ticket in s.scalars(sa.select(Ticket).where(Ticket.id.in_(chunk))):
            policy = rules.policy_for(ticket)
            past = _past_dues(ticket, now) if policy is not None else {}
            state = dict(ticket.sla_state or {})
            before = dict(state.get("breached") or {})
            breached = {
                clock: due
                for clock, due in before.items()
                if (ticket.id, clock, due) not in provisional or past.get(clock) == due
            } | past
            if breached != before:
                ticket.sla_state = state | {"breached": breached}
            new = {clock for clock, due in past.items() if before.get(clock) != due}
            for clock in ("first_response", "resolution") if final else ():
                flag = f"{clock}_breached"
                if clock in past and not getattr(ticket, flag):
                    setattr(ticket, flag, True)
                    new.add(clock)
            if new:
                sla.recompute(ticket, policy)
            marks |= {(ticket.id, clock, past[clock]) for clock in new}
    return marks


def _past_dues(ticket: Ticket, now: datetime) -> dict[str, str]:
    """The running clocks of the ticket already late at `now`: clock -> due time (ISO)."""
    if ticket.sla_paused_at is not None or ticket.status == "closed":
        return {}  # no clock runs: a paused due time moves when the pause ends
    dues = (
        ("first_response", ticket.first_response_due_at),
        ("next_response", ticket.next_response_due_at),
        ("resolution", ticket.resolution_due_at),
    )
    return {clock: due.isoformat() for clock, due in dues if due is not None and due <= now}
