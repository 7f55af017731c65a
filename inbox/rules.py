"""Moderation rules: conditions on an inbound item, actions when they all hold.

A rule is data (`ModerationRule.conditions` and `.actions`, validated by `RuleIn`). It is
compiled once into a list of small tests; the same compiled rules run inside ingest, before
the batch's events are pushed, and in the dry run over past items, so what a dry run shows is
what the rule does once enabled. Rules run in `position` order; a rule with `stop` ends the
chain for an item it fired on. Every action is written as a `rule_applied` event naming its
rule; hides, deletes and spam closes also get a `RuleHit`, the review queue's entry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import regex
import sqlalchemy as sa
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Session

from connectors import connector_class
from inbox import analysis, db, events, sla
from inbox.db import utcnow
from inbox.models import (
    ITEM_KINDS,
    PRIORITIES,
    SENTIMENTS,
    Channel,
    Contact,
    Identity,
    Item,
    ModerationRule,
    Outbox,
    RuleHit,
    Team,
    Ticket,
    TicketTag,
    User,
)

REGEX_TIMEOUT = 0.05  # seconds per item: a pathological pattern cannot stall ingest
LISTED = ("values",)
CONDITION_FIELDS: dict[str, tuple[str, ...]] = {
    "keywords": LISTED,
    "regex": ("pattern",),
    "has_link": (),
    "has_email": (),
    "has_phone": (),
    "emoji_only": (),
    "language": LISTED,
    "sentiment": LISTED,
    "author": LISTED,
    "author_vip": (),
    "author_blocked": (),
    "first_time_author": (),
    "followers": ("min",),
    "channel": LISTED,
    "kind": LISTED,
    "post": LISTED,
    "rating": ("min", "max"),
}
ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "hide": (),
    "delete": (),
    "close_spam": (),
    "tag": ("value",),
    "priority": ("value",),
    "assign": ("user_id", "team_id"),
    "notify": ("user_ids",),
}
REVIEWED = ("hide", "delete", "close_spam")  # what the review queue lists
SPAM_TAG = "spam"
DRY_RUN_SAMPLES = 20


# --- validation ---------------------------------------------------------------------------


class ConditionIn(Schema):
    class Meta:
        unknown = RAISE

    type = fields.String(required=True, validate=validate.OneOf(sorted(CONDITION_FIELDS)))
    negate = fields.Boolean(load_default=False)
    values = fields.List(fields.Raw(), validate=validate.Length(1, 500))
    pattern = fields.String(validate=validate.Length(1, 500))
    min = fields.Integer(validate=validate.Range(min=0))
    max = fields.Integer(validate=validate.Range(min=0))

    @validates_schema
    def _fields_of_type(self, data, **_kwargs):
        kind = data["type"]
        allowed = CONDITION_FIELDS[kind]
        extra = [name for name in ("values", "pattern", "min", "max") if name in data]
        for name in extra:
            if name not in allowed:
                raise ValidationError(f"a {kind} condition takes no {name!r}", name)
        if allowed == LISTED and "values" not in data:
            raise ValidationError(f"a {kind} condition needs values", "values")
        if kind == "regex":
            if "pattern" not in data:
                raise ValidationError("a regex condition needs a pattern", "pattern")
            try:
                regex.compile(data["pattern"], regex.IGNORECASE | regex.V1)
            except regex.error as exc:
                raise ValidationError(f"this pattern does not compile: {exc}", "pattern") from exc
        if kind in ("followers",) and "min" not in data:
            raise ValidationError("a followers condition needs min", "min")
        if kind == "rating" and "min" not in data and "max" not in data:
            raise ValidationError("a rating condition needs min or max", "min")
        if "values" in data:
            _check_values(kind, data["values"])


def _check_values(kind: str, values: list) -> None:
    if kind in ("channel",):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ValidationError("channel values are channel ids (numbers)", "values")
        return
    if not all(isinstance(v, str) and v.strip() and len(v) <= 200 for v in values):
        raise ValidationError("values are non-empty texts of at most 200 characters", "values")
    known = {"kind": ITEM_KINDS, "sentiment": SENTIMENTS}.get(kind)
    if known is not None:
        wrong = [v for v in values if v not in known]
        if wrong:
            raise ValidationError(f"unknown {kind}: {', '.join(wrong)}", "values")
    if kind == "language" and not all(len(v) == 2 and v.isalpha() for v in values):
        raise ValidationError("languages are two-letter codes such as fr or en", "values")


class ActionIn(Schema):
    class Meta:
        unknown = RAISE

    type = fields.String(required=True, validate=validate.OneOf(sorted(ACTION_FIELDS)))
    value = fields.String(validate=validate.Length(1, 64))
    user_id = fields.Integer()
    team_id = fields.Integer()
    user_ids = fields.List(fields.Integer(), validate=validate.Length(max=50))

    @validates_schema
    def _fields_of_type(self, data, **_kwargs):
        kind = data["type"]
        allowed = ACTION_FIELDS[kind]
        for name in ("value", "user_id", "team_id", "user_ids"):
            if name in data and name not in allowed:
                raise ValidationError(f"a {kind} action takes no {name!r}", name)
        if kind in ("tag", "priority") and "value" not in data:
            raise ValidationError(f"a {kind} action needs a value", "value")
        if kind == "priority" and data["value"] not in PRIORITIES:
            raise ValidationError(f"priority is one of {', '.join(PRIORITIES)}", "value")
        if kind == "tag" and not regex.fullmatch(r"[\w][\w .:/-]{0,63}", data["value"]):
            raise ValidationError("a tag is a word of at most 64 characters", "value")
        if kind == "assign" and ("user_id" in data) == ("team_id" in data):
            raise ValidationError("assign to either a user_id or a team_id", "user_id")


class RuleIn(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(1, 120))
    position = fields.Integer(load_default=100, validate=validate.Range(0, 100_000))
    stop = fields.Boolean(load_default=False)
    conditions = fields.List(
        fields.Nested(ConditionIn), required=True, validate=validate.Length(1, 30)
    )
    actions = fields.List(fields.Nested(ActionIn), required=True, validate=validate.Length(1, 10))

    @validates_schema
    def _compatible_actions(self, data, **_kwargs):
        kinds = [a["type"] for a in data.get("actions", [])]
        if "hide" in kinds and "delete" in kinds:
            raise ValidationError("hide or delete, not both", "actions")
        duplicated = [k for k, n in Counter(kinds).items() if n > 1 and k not in ("tag",)]
        if duplicated:
            raise ValidationError(f"{duplicated[0]} appears twice", "actions")


def check_references(s: Session, data: dict) -> None:
    """Refuse actions naming users or teams that do not exist (400 with the field)."""
    from inbox.errors import ApiError

    for action in data.get("actions", []):
        if action.get("user_id") is not None and s.get(User, action["user_id"]) is None:
            raise ApiError(f"no such user: {action['user_id']}", "actions")
        if action.get("team_id") is not None and s.get(Team, action["team_id"]) is None:
            raise ApiError(f"no such team: {action['team_id']}", "actions")
        for user_id in action.get("user_ids") or []:
            if s.get(User, user_id) is None:
                raise ApiError(f"no such user: {user_id}", "actions")


# --- what a rule sees, and compiled rules --------------------------------------------------


@dataclass
class Subject:
    """One inbound item as rules see it."""

    item_id: int | None
    ticket_id: int | None
    team_id: int
    channel_id: int
    kind: str
    body: str
    post_id: str | None = None
    rating: int | None = None
    language: str | None = None
    sentiment: str | None = None
    author_id: str | None = None
    author_handle: str | None = None
    author_name: str | None = None
    followers: int | None = None
    vip: bool = False
    blocked: bool = False
    first_time: bool = False
    created_at: datetime | None = None


Test = Callable[[Subject], bool]


def _condition(spec: dict) -> Test:
    kind = spec["type"]
    if kind == "keywords":
        matcher = analysis.KeywordMatcher(spec["values"])
        return lambda x: matcher.matches(x.body)
    if kind == "regex":
        pattern = regex.compile(spec["pattern"], regex.IGNORECASE | regex.V1)

        def search(x: Subject) -> bool:
            try:
                return pattern.search(x.body, timeout=REGEX_TIMEOUT) is not None
            except TimeoutError:
                return False

        return search
    detectors = {
        "has_link": analysis.has_link,
        "has_email": analysis.has_email,
        "has_phone": analysis.has_phone,
        "emoji_only": analysis.emoji_only,
    }
    if kind in detectors:
        detect = detectors[kind]
        return lambda x: detect(x.body)
    if kind == "author":
        wanted = {str(v).strip().lower().lstrip("@") for v in spec["values"]}
        return lambda x: bool(
            {(x.author_id or "").lower(), (x.author_handle or "").lower().lstrip("@")} & wanted
        )
    flags = {
        "author_vip": lambda x: x.vip,
        "author_blocked": lambda x: x.blocked,
        "first_time_author": lambda x: x.first_time,
    }
    if kind in flags:
        return flags[kind]
    if kind == "followers":
        least = spec["min"]
        return lambda x: x.followers is not None and x.followers >= least
    if kind == "rating":
        low, high = spec.get("min"), spec.get("max")
        return lambda x: (
            x.rating is not None
            and (low is None or x.rating >= low)
            and (high is None or x.rating <= high)
        )
    attribute = {
        "language": "language",
        "sentiment": "sentiment",
        "channel": "channel_id",
        "kind": "kind",
        "post": "post_id",
    }[kind]
    allowed = set(spec["values"])
    return lambda x: getattr(x, attribute) in allowed


@dataclass
class Compiled:
    id: int | None
    name: str
    stop: bool
    tests: list[Test]
    actions: list[dict]

    def matches(self, subject: Subject) -> bool:
        return all(test(subject) for test in self.tests)


def compile_rule(rule_id: int | None, name: str, stop: bool, conditions, actions) -> Compiled:
    tests = []
    for spec in conditions:
        test = _condition(spec)
        if spec.get("negate"):
            test = _negated(test)
        tests.append(test)
    return Compiled(rule_id, name, stop, tests, list(actions))


def _negated(test: Test) -> Test:
    return lambda x: not test(x)


def load_enabled(s: Session) -> list[Compiled]:
    rows = s.scalars(
        sa.select(ModerationRule)
        .where(ModerationRule.enabled)
        .order_by(ModerationRule.position, ModerationRule.id)
    )
    return [compile_rule(r.id, r.name, r.stop, r.conditions, r.actions) for r in rows]


def decide(chain: list[Compiled], subject: Subject) -> list[tuple[Compiled, dict]]:
    """The (rule, action) pairs the chain takes on one item, in order."""
    taken = []
    for rule in chain:
        if rule.matches(subject):
            taken += [(rule, action) for action in rule.actions]
            if rule.stop:
                break
    return taken


# --- applying rules inside ingest ------------------------------------------------------------


@dataclass
class Applied:
    events: list[dict] = field(default_factory=list)
    outbox_ids: list[int] = field(default_factory=list)


def subjects_for(s: Session, channel: Channel, rows: list[dict], new_identities: set[int]):
    """Build subjects for freshly inserted inbound item rows (with ids), in a few queries."""
    identity_ids = {row["author_identity_id"] for row in rows if row["author_identity_id"]}
    people = {}
    if identity_ids:
        for identity_id, external_id, handle, vip, blocked in s.execute(
            sa.select(
                Identity.id, Identity.external_id, Identity.handle, Contact.vip, Contact.blocked
            )
            .join(Contact, Contact.id == Identity.contact_id)
            .where(Identity.id.in_(identity_ids))
        ):
            people[identity_id] = (external_id, handle, vip, blocked)
    seen_first: set[int] = set()
    subjects = []
    for row in sorted(rows, key=lambda r: (r["created_at"], r["id"])):
        identity_id = row["author_identity_id"]
        external_id, handle, vip, blocked = people.get(identity_id, (None, None, False, False))
        first = identity_id in new_identities and identity_id not in seen_first
        seen_first.add(identity_id)
        subjects.append(
            Subject(
                item_id=row["id"],
                ticket_id=row["ticket_id"],
                team_id=channel.team_id,
                channel_id=channel.id,
                kind=row["kind"],
                body=row["body"],
                post_id=row["post_id"],
                rating=row["rating"],
                language=row.get("language"),
                sentiment=row.get("sentiment"),
                author_id=external_id,
                author_handle=handle,
                author_name=row["author_name"],
                followers=row.get("followers"),
                vip=bool(vip),
                blocked=bool(blocked),
                first_time=first,
                created_at=row["created_at"],
            )
        )
    return subjects


def apply(
    s: Session, channel: Channel, subjects: list[Subject], paused: set[int] | None = None
) -> Applied:
    """Run the enabled rules on new inbound items and take their actions, in this transaction.

    Items whose ticket is in an incident under crisis mode (`paused` ticket ids) are left to
    people: automatic actions are paused there.
    """
    applied = Applied()
    chain = load_enabled(s)
    if not chain or not subjects:
        return applied
    paused = paused or set()
    plan: list[tuple[Subject, Compiled, dict]] = []
    for subject in subjects:
        if subject.ticket_id in paused:
            continue
        plan += [(subject, rule, action) for rule, action in decide(chain, subject)]
    if plan:
        _take(s, channel, plan, applied)
    return applied


def _take(s: Session, channel: Channel, plan, applied: Applied) -> None:
    now = utcnow()
    capabilities = connector_class(channel.type).capabilities
    tickets = {
        t.id: t
        for t in s.scalars(
            sa.select(Ticket).where(Ticket.id.in_({subject.ticket_id for subject, _, _ in plan}))
        )
    }
    rules_sla = None
    event_rows, hits, tags, outbox_rows = [], [], set(), []
    for subject, rule, action in plan:
        kind = action["type"]
        ticket = tickets[subject.ticket_id]
        data = {
            "rule_id": rule.id,
            "rule_name": rule.name,
            "action": kind,
            "item_id": subject.item_id,
        }
        if kind in ("hide", "delete"):
            if kind not in capabilities:
                data["skipped"] = f"{channel.type} cannot {kind} items"
            else:
                outbox_rows.append((subject, rule, kind))
        elif kind == "close_spam":
            tags.add((ticket.id, SPAM_TAG))
            rules_sla = rules_sla or sla.Rules.load(s)
            _set(s, ticket, {"status": "closed", "closed_at": now}, now, rules_sla)
            hits.append(_hit(rule, subject, "close_spam", now))
        elif kind == "tag":
            tags.add((ticket.id, action["value"]))
            data["value"] = action["value"]
        elif kind == "priority":
            rules_sla = rules_sla or sla.Rules.load(s)
            _set(s, ticket, {"priority": action["value"]}, now, rules_sla)
            data["value"] = action["value"]
        elif kind == "assign":
            if action.get("user_id") is not None:
                ticket.assignee_id = action["user_id"]
            else:
                ticket.team_id, ticket.assignee_id = action["team_id"], None
            data |= {k: action[k] for k in ("user_id", "team_id") if k in action}
        elif kind == "notify":
            data["user_ids"] = list(action.get("user_ids") or [])
            event_rows += events.rows_for(ticket, None, [("rule_notify", dict(data))])
        ticket.version += 1
        event_rows += events.rows_for(ticket, None, [("rule_applied", data)])
    if outbox_rows:
        inserted = s.execute(
            sa.insert(Outbox).returning(Outbox.id, Outbox.target_item_id),
            [
                {
                    "ticket_id": subject.ticket_id,
                    "channel_id": channel.id,
                    "action": kind,
                    "target_item_id": subject.item_id,
                    "rule_id": rule.id,
                    "state": "queued",
                    "attempts": 0,
                    "created_at": now,
                }
                for subject, rule, kind in outbox_rows
            ],
        ).all()
        outbox_by_item = {item_id: outbox_id for outbox_id, item_id in inserted}
        applied.outbox_ids += sorted(outbox_by_item.values())
        for subject, rule, kind in outbox_rows:
            hits.append(_hit(rule, subject, kind, now, outbox_by_item.get(subject.item_id)))
    if tags:
        insert = db.upsert_insert(s, TicketTag).on_conflict_do_nothing()
        s.execute(insert, [{"ticket_id": t, "tag": tag} for t, tag in sorted(tags)])
    if hits:
        s.execute(sa.insert(RuleHit), hits)
    s.flush()
    applied.events += event_rows


def _set(s: Session, ticket: Ticket, values: dict, now: datetime, rules_sla) -> None:
    values = dict(values)
    values |= sla.on_change(s, ticket, values, now, rules_sla)
    if values.get("status") == "closed":
        values["snoozed_until"] = None
    for key, value in values.items():
        setattr(ticket, key, value)


def _hit(rule: Compiled, subject: Subject, action: str, now, outbox_id=None) -> dict:
    return {
        "rule_id": rule.id,
        "item_id": subject.item_id,
        "ticket_id": subject.ticket_id,
        "team_id": subject.team_id,
        "action": action,
        "outbox_id": outbox_id,
        "created_at": now,
    }


# --- dry run ---------------------------------------------------------------------------------


def dry_run(
    s: Session,
    candidate: Compiled,
    position: int,
    team_ids: Iterable[int],
    days: int = 30,
    now: datetime | None = None,
) -> dict[str, Any]:
    """What the candidate rule would have done to the last `days` of inbound items.

    The candidate is placed in the chain of enabled rules at its position, so an earlier rule
    that stops the chain hides items from it exactly as it would in ingest. Authors count as
    first-time on their earliest stored item, as ingest sees them the first time they write.
    """
    now = now or utcnow()
    since = now - timedelta(days=days)
    enabled = [
        (r.position, r.id or 0, compile_rule(r.id, r.name, r.stop, r.conditions, r.actions))
        for r in s.scalars(sa.select(ModerationRule).where(ModerationRule.enabled))
        if r.id != candidate.id
    ]
    chain = [
        rule
        for _, _, rule in sorted(
            [*enabled, (position, candidate.id or 10**12, candidate)], key=lambda e: e[:2]
        )
    ]
    counts: Counter[str] = Counter()
    authors: Counter[str] = Counter()
    samples: list[dict] = []
    scanned = matched = 0
    for subject in _past_subjects(s, list(team_ids), since, now):
        scanned += 1
        actions = [a["type"] for rule, a in decide(chain, subject) if rule is candidate]
        if not actions:
            continue
        matched += 1
        counts.update(actions)
        authors[subject.author_name or subject.author_handle or "?"] += 1
        if len(samples) < DRY_RUN_SAMPLES:
            samples.append(
                {
                    "item_id": subject.item_id,
                    "ticket_id": subject.ticket_id,
                    "channel_id": subject.channel_id,
                    "author_name": subject.author_name or "",
                    "body": subject.body[:500],
                    "created_at": subject.created_at,
                    "actions": actions,
                }
            )
    return {
        "days": days,
        "scanned": scanned,
        "matched": matched,
        "actions": dict(counts),
        "samples": samples,
        "authors": [{"name": n, "count": c} for n, c in authors.most_common(20)],
        "authors_total": len(authors),
    }


def _past_subjects(s: Session, team_ids: list[int], since: datetime, until: datetime):
    """Inbound items of the period as subjects, read in keyset pages of 2,000."""
    in_period = sa.and_(Item.direction == "in", Item.created_at >= since, Item.created_at <= until)
    # each author's first inbound item ever, once for the whole run (not once per page)
    first_of = dict(
        s.execute(
            sa.select(Item.author_identity_id, sa.func.min(Item.id))
            .where(
                Item.direction == "in",
                Item.author_identity_id.in_(
                    sa.select(Item.author_identity_id).where(in_period).distinct()
                ),
            )
            .group_by(Item.author_identity_id)
        ).all()
    )
    last_id = 0
    while True:
        stmt = (
            sa.select(
                Item,
                Ticket.team_id,
                Identity.external_id,
                Identity.handle,
                Contact.vip,
                Contact.blocked,
            )
            .join(Ticket, Ticket.id == Item.ticket_id)
            .outerjoin(Identity, Identity.id == Item.author_identity_id)
            .outerjoin(Contact, Contact.id == Identity.contact_id)
            .where(
                in_period,
                Item.id > last_id,
                Ticket.team_id.in_(team_ids),
            )
            .order_by(Item.id)
            .limit(2000)
        )
        page = s.execute(stmt).all()
        if not page:
            return
        for item, team_id, external_id, handle, vip, blocked in page:
            yield Subject(
                item_id=item.id,
                ticket_id=item.ticket_id,
                team_id=team_id,
                channel_id=item.channel_id,
                kind=item.kind,
                body=item.body,
                post_id=item.post_id,
                rating=item.rating,
                language=item.language,
                sentiment=item.sentiment,
                author_id=external_id,
                author_handle=handle,
                author_name=item.author_name,
                followers=item.followers,
                vip=bool(vip),
                blocked=bool(blocked),
                first_time=first_of.get(item.author_identity_id) == item.id,
                created_at=item.created_at,
            )
        last_id = page[-1][0].id


# --- review queue --------------------------------------------------------------------------


def restore(s: Session, hit: RuleHit, user: User) -> list[dict]:
    """Undo what a rule did to one item: unhide it on the platform, or reopen the ticket."""
    from inbox.errors import Conflict

    if hit.restored_at is not None:
        raise Conflict("already restored", "id")
    ticket = s.get(Ticket, hit.ticket_id)
    changes: list[tuple[str, dict]] = []
    if hit.action == "delete":
        raise Conflict("deleted on the platform: it cannot be restored", "action")
    if hit.action == "hide":
        item = s.get(Item, hit.item_id)
        if hit.outbox_id is not None:
            pending = s.execute(
                sa.update(Outbox)
                .where(Outbox.id == hit.outbox_id, Outbox.state == "queued")
                .values(state="cancelled", error="restored before it was sent")
            ).rowcount
        else:
            pending = 0
        if not pending and item.hidden:
            row = Outbox(
                ticket_id=ticket.id,
                channel_id=ticket.channel_id,
                action="unhide",
                target_item_id=item.id,
                created_by=user.id,
            )
            s.add(row)
            s.flush()
            changes.append(
                ("moderation_queued", {"item_id": item.id, "action": "unhide", "outbox_id": row.id})
            )
            hit.outbox_id = row.id
    if hit.action == "close_spam" and ticket.status == "closed":
        rules_sla = sla.Rules.load(s)
        _set(s, ticket, {"status": "open", "closed_at": None}, utcnow(), rules_sla)
        s.execute(
            sa.delete(TicketTag).where(TicketTag.ticket_id == ticket.id, TicketTag.tag == SPAM_TAG)
        )
    hit.restored_at = utcnow()
    hit.restored_by = user.id
    ticket.version += 1
    changes.append(
        (
            "rule_restored",
            {
                "hit_id": hit.id,
                "action": hit.action,
                "item_id": hit.item_id,
                "rule_id": hit.rule_id,
            },
        )
    )
    return events.rows_for(ticket, user, changes)


def review_page(
    s: Session, team_ids: Iterable[int], cursor: int | None, limit: int, include_restored: bool
) -> tuple[list[dict], int | None]:
    """One keyset page of the review queue, newest first."""
    stmt = (
        sa.select(RuleHit, ModerationRule.name, Item)
        .join(ModerationRule, ModerationRule.id == RuleHit.rule_id)
        .join(Item, Item.id == RuleHit.item_id)
        .where(RuleHit.team_id.in_(list(team_ids)), RuleHit.action.in_(REVIEWED))
    )
    if not include_restored:
        stmt = stmt.where(RuleHit.restored_at.is_(None))
    if cursor is not None:
        stmt = stmt.where(RuleHit.id < cursor)
    page = s.execute(stmt.order_by(RuleHit.id.desc()).limit(limit + 1)).all()
    hits = [hit_out(hit, name, item) for hit, name, item in page[:limit]]
    next_cursor = page[limit - 1][0].id if len(page) > limit else None
    return hits, next_cursor


def hit_out(hit: RuleHit, rule_name: str, item: Item) -> dict:
    return {
        "id": hit.id,
        "rule_id": hit.rule_id,
        "rule_name": rule_name,
        "action": hit.action,
        "ticket_id": hit.ticket_id,
        "created_at": hit.created_at,
        "restored_at": hit.restored_at,
        "restored_by": hit.restored_by,
        "item": {
            "id": item.id,
            "body": item.body,
            "author_name": item.author_name,
            "channel_id": item.channel_id,
            "created_at": item.created_at,
            "hidden": item.hidden,
            "deleted": item.deleted,
        },
    }
