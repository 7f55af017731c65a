"""Response-time SLA clocks: policies, due times, pauses, measures, warnings and breaches.

A ticket has up to three clocks:

- **first response**: from the first inbound message until a person replies;
- **next response**: from the first inbound message after our reply, until the next reply;
- **resolution**: from the ticket's creation until it is closed.

Due times are computed from scratch from the ticket's base facts (when the wait began, the
pauses, the policy) every time one of them changes, with the policy's business-hours calendar,
so changing a priority or a policy recomputes them. Time spent `pending` or `snoozed` is paused
business time. Only a person's reply answers a wait: notes and automatic actions never do.
A ticket in an incident in crisis mode (inbox/buzz.py) follows the incident's crisis policy,
or tight built-in targets on wall-clock time.

Measures are stored when they happen (one `sla_responses` row per answered wait; resolution
durations on the ticket), so reports are single SQL aggregates. A sweep, run every few seconds by
the schedule, finds the tickets whose next check has come (one indexed query) and raises
warnings before a breach and breaches at the due time, as events pushed live and kept in the
ticket's timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from inbox import db, events
from inbox.calendar import ALWAYS, BusinessHours
from inbox.db import utcnow
from inbox.models import Calendar, Incident, SlaPolicy, SlaResponse, Ticket

# Built-in targets in minutes (first response = next response), business hours, when no policy
# of the team's matches: DMs within an hour, public comments and mentions within two, reviews
# and e-mails within a day.
DEFAULT_TARGETS = {
    "dm": 60,
    "comment": 120,
    "mention": 120,
    "quote": 120,
    "reply": 120,
    "review": 24 * 60,
    "email": 24 * 60,
}
DEFAULT_WARN_MINUTES = 15
# Crisis mode (inbox/buzz.py) without a policy of its own: every reply within 15 minutes,
# around the clock, since a bad buzz does not wait for Monday morning.
CRISIS_MINUTES = 15
CRISIS_WARN_MINUTES = 5
PAUSED = ("pending", "snoozed")
CLOCKS = ("first_response", "next_response", "resolution")
SWEEP_LIMIT = 500


@dataclass(frozen=True)
class Policy:
    id: int | None
    name: str
    first: float | None  # seconds
    next: float | None
    resolution: float | None
    calendar: Any  # BusinessHours or ALWAYS
    warn: float


def _minutes(value: int | None) -> float | None:
    return None if value is None else value * 60.0


class Rules:
    """The enabled policies in order, their calendars, the built-in defaults, and the crisis
    policies of the open incidents in crisis mode (id -> their own policy row or None)."""

    def __init__(
        self,
        policies: list[SlaPolicy],
        calendars: dict[int, Calendar],
        crisis: dict[int, SlaPolicy | None] | None = None,
    ):
        self.calendars = {cid: _hours(row) for cid, row in calendars.items()}
        default_row = next((c for c in calendars.values() if c.is_default), None)
        self.default_calendar = _hours(default_row) if default_row else BusinessHours.default()
        self.rows = policies
        self.crisis = crisis or {}

    @classmethod
    def load(cls, s: Session) -> Rules:
        policies = list(
            s.scalars(
                sa.select(SlaPolicy)
                .where(SlaPolicy.enabled)
                .order_by(SlaPolicy.position, SlaPolicy.id)
            )
        )
        calendars = {c.id: c for c in s.scalars(sa.select(Calendar))}
        return cls(policies, calendars, _crisis_policies(s))

    def policy_for(self, ticket: Ticket) -> Policy | None:
        """The crisis policy of its incident, else the first matching policy, else the built-in
        default; None for digests."""
        if ticket.is_digest or ticket.kind == "repost":
            return None
        if ticket.incident_id is not None and ticket.incident_id in self.crisis:
            return self._crisis_policy(self.crisis[ticket.incident_id])
        for row in self.rows:
            if (
                (row.channel_id is None or row.channel_id == ticket.channel_id)
                and (row.kind is None or row.kind == ticket.kind)
                and (row.priority is None or row.priority == ticket.priority)
            ):
                return self._policy(row)
        minutes = DEFAULT_TARGETS.get(ticket.kind)
        if minutes is None:
            return None
        return Policy(
            None,
            f"default ({ticket.kind})",
            minutes * 60.0,
            minutes * 60.0,
            None,
            self.default_calendar,
            DEFAULT_WARN_MINUTES * 60.0,
        )

    def _policy(self, row: SlaPolicy) -> Policy:
        calendar = (
            ALWAYS
            if not row.business_hours
            else self.calendars.get(row.calendar_id, self.default_calendar)
        )
        return Policy(
            row.id,
            row.name,
            _minutes(row.first_response_minutes),
            _minutes(row.next_response_minutes),
            _minutes(row.resolution_minutes),
            calendar,
            row.warn_minutes * 60.0,
        )

    def _crisis_policy(self, row: SlaPolicy | None) -> Policy:
        if row is not None:
            return self._policy(row)
        target = CRISIS_MINUTES * 60.0
        return Policy(None, "crisis", target, target, None, ALWAYS, CRISIS_WARN_MINUTES * 60.0)


def _crisis_policies(s: Session) -> dict[int, SlaPolicy | None]:
    """Open incidents in crisis mode and the policy each names (even a disabled one: the
    incident chose it explicitly), or None for the built-in crisis targets."""
    rows = s.execute(
        sa.select(Incident.id, SlaPolicy)
        .outerjoin(SlaPolicy, SlaPolicy.id == Incident.crisis_policy_id)
        .where(Incident.status == "open", Incident.crisis)
    )
    return {incident_id: policy for incident_id, policy in rows}


def _hours(row: Calendar) -> BusinessHours:
    return BusinessHours.from_config(row.timezone, row.hours, row.holidays_country, row.closed_days)


# -- due times ------------------------------------------------------------------------------


def _state(ticket: Ticket) -> dict[str, Any]:
    state = dict(ticket.sla_state or {})
    state.setdefault("warned", {})
    state.setdefault("breached", {})
    state.setdefault("paused_total", 0.0)
    return state


def recompute(ticket: Ticket, policy: Policy | None) -> None:
    """Set the ticket's due times and next check from its base facts and its policy."""
    ticket.sla_policy_id = policy.id if policy else None
    state = _state(ticket)
    first = next_ = resolution = None
    if policy is not None:
        cal = policy.calendar
        waiting = ticket.sla_waiting_since
        if waiting is not None:
            target = policy.first if ticket.first_response_at is None else policy.next
            if target is not None:
                due = cal.add(waiting, target + (ticket.sla_paused_seconds or 0.0))
                if ticket.first_response_at is None:
                    first = due
                else:
                    next_ = due
        if policy.resolution is not None:  # kept once closed: reports read it as the target
            resolution = cal.add(ticket.created_at, policy.resolution + state["paused_total"])
    ticket.first_response_due_at = first
    ticket.next_response_due_at = next_
    ticket.resolution_due_at = resolution
    ticket.sla_state = state
    ticket.sla_next_check_at = _next_check(ticket, policy, state)


def _dues(ticket: Ticket) -> dict[str, datetime | None]:
    return {
        "first_response": ticket.first_response_due_at,
        "next_response": ticket.next_response_due_at,
        "resolution": ticket.resolution_due_at,
    }


def _next_check(ticket: Ticket, policy: Policy | None, state: dict) -> datetime | None:
    """The earliest warning or breach still to raise; None while paused or without clocks."""
    if policy is None or ticket.sla_paused_at is not None or ticket.status == "closed":
        return None
    moments = []
    for clock, due in _dues(ticket).items():
        if due is None or state["breached"].get(clock) == due.isoformat():
            continue
        warn_at = due - timedelta(seconds=policy.warn)
        warned = state["warned"].get(clock) == due.isoformat()
        moments.append(due if warned else warn_at)
    return min(moments, default=None)


# -- what changes the clocks ----------------------------------------------------------------


def on_inbound(s: Session, first_inbound: dict[int, datetime]) -> None:
    """New inbound messages on these tickets (id -> earliest new message time).

    A ticket not already waiting starts waiting from that message: its first response clock
    if we never answered, else its next response clock. A paused ticket that the message
    reopened resumes its clocks.
    """
    if not first_inbound:
        return
    rules = Rules.load(s)
    tickets = s.scalars(
        sa.select(Ticket)
        .where(Ticket.id.in_(list(first_inbound)))
        .execution_options(populate_existing=True)
    )
    for ticket in tickets:
        policy = rules.policy_for(ticket)
        if policy is None:
            continue
        at = first_inbound[ticket.id]
        if ticket.sla_paused_at is not None and ticket.status not in PAUSED:
            _resume(ticket, policy, at)
        if ticket.sla_waiting_since is None:
            ticket.sla_waiting_since = at
            ticket.sla_paused_seconds = 0.0
        recompute(ticket, policy)
    s.flush()


def on_reply(
    s: Session, ticket: Ticket, at: datetime, agent_id: int | None, rules: Rules | None = None
) -> SlaResponse | None:
    """A person replied: measure the wait it answers and stop that clock."""
    waiting = ticket.sla_waiting_since
    if waiting is None:
        return None
    rules = rules or Rules.load(s)
    policy = rules.policy_for(ticket)
    if policy is None:
        return None
    if ticket.sla_paused_at is not None:  # a reply on a pending ticket: its pause ends here
        _resume(ticket, policy, at)
    first = ticket.first_response_at is None
    target = policy.first if first else policy.next
    business = max(0.0, policy.calendar.between(waiting, at) - (ticket.sla_paused_seconds or 0))
    breached = target is not None and business > target
    response = SlaResponse(
        ticket_id=ticket.id,
        team_id=ticket.team_id,
        channel_id=ticket.channel_id,
        kind=ticket.kind,
        priority=ticket.priority,
        which="first" if first else "next",
        agent_id=agent_id,
        waiting_since=waiting,
        responded_at=at,
        wall_seconds=max(0.0, (at - waiting).total_seconds()),
        business_seconds=business,
        target_seconds=target,
        breached=breached,
    )
    s.add(response)
    if first:
        ticket.first_response_at = at
        ticket.first_response_breached = ticket.first_response_breached or breached
    ticket.sla_waiting_since = None
    ticket.sla_paused_seconds = 0.0
    recompute(ticket, policy)
    return response


def undo_reply(s: Session, ticket: Ticket, response_id: int) -> None:
    """A reply taken back in its undo window: the wait it answered is running again."""
    response = s.get(SlaResponse, response_id)
    if response is None:
        return
    ticket.sla_waiting_since = response.waiting_since
    if response.which == "first":
        ticket.first_response_at = None
        ticket.first_response_breached = "first_response" in _state(ticket)["breached"]
    s.delete(response)
    recompute(ticket, Rules.load(s).policy_for(ticket))


def on_change(
    s: Session, ticket: Ticket, values: dict[str, Any], at: datetime, rules: Rules | None = None
) -> dict[str, Any]:
    """The SLA columns to write with a status, priority or policy change of `values`.

    Works on a copy of the ticket's facts, so the caller can apply everything in its one
    versioned UPDATE.
    """
    rules = rules or Rules.load(s)
    shadow = Ticket(**{c.key: getattr(ticket, c.key) for c in Ticket.__table__.columns})
    for key, value in values.items():
        setattr(shadow, key, value)
    policy = rules.policy_for(shadow)
    old, new = ticket.status, shadow.status
    if policy is not None:
        if new in PAUSED and old not in PAUSED and shadow.sla_paused_at is None:
            shadow.sla_paused_at = at
        elif new not in PAUSED and shadow.sla_paused_at is not None:
            _resume(shadow, policy, at)
        if new == "closed" and old != "closed":
            _close(shadow, policy, at)
    recompute(shadow, policy)
    columns = (
        "sla_policy_id sla_waiting_since first_response_due_at next_response_due_at"
        " resolution_due_at sla_next_check_at sla_paused_at sla_paused_seconds sla_state"
        " resolution_seconds resolution_business_seconds resolution_breached"
    ).split()
    return {c: getattr(shadow, c) for c in columns if getattr(shadow, c) != getattr(ticket, c)}


def _resume(ticket: Ticket, policy: Policy, at: datetime) -> None:
    """End a pause: its business time is added to the current wait and to the ticket's total."""
    paused = policy.calendar.between(ticket.sla_paused_at, at)
    state = _state(ticket)
    state["paused_total"] = state["paused_total"] + paused
    ticket.sla_state = state
    if ticket.sla_waiting_since is not None:
        ticket.sla_paused_seconds = (ticket.sla_paused_seconds or 0.0) + paused
    ticket.sla_paused_at = None


def _close(ticket: Ticket, policy: Policy, at: datetime) -> None:
    """Store the resolution measures; an unanswered wait stops with the ticket."""
    state = _state(ticket)
    ticket.resolution_seconds = max(0.0, (at - ticket.created_at).total_seconds())
    business = policy.calendar.between(ticket.created_at, at) - state["paused_total"]
    ticket.resolution_business_seconds = max(0.0, business)
    ticket.resolution_breached = (
        policy.resolution is not None and ticket.resolution_business_seconds > policy.resolution
    )
    ticket.sla_waiting_since = None
    ticket.sla_paused_seconds = 0.0


def recompute_open(batch: int = 1000) -> int:
    """After a policy or calendar change: recompute every ticket still running a clock."""
    done, after = 0, 0
    while True:
        with db.transaction() as s:
            rules = Rules.load(s)
            tickets = list(
                s.scalars(
                    sa.select(Ticket)
                    .where(Ticket.id > after, Ticket.status != "closed", ~Ticket.is_digest)
                    .order_by(Ticket.id)
                    .limit(batch)
                )
            )
            for ticket in tickets:
                recompute(ticket, rules.policy_for(ticket))
        if not tickets:
            return done
        done += len(tickets)
        after = tickets[-1].id


def recompute_tickets(s: Session, ticket_ids: list[int]) -> int:
    """Recompute the due times of these tickets (still open) after their incident's crisis
    mode changed or they joined an incident in crisis."""
    if not ticket_ids:
        return 0
    s.flush()  # the incident's new state is what Rules.load must read
    rules = Rules.load(s)
    done = 0
    for start in range(0, len(ticket_ids), 500):
        tickets = s.scalars(
            sa.select(Ticket).where(
                Ticket.id.in_(ticket_ids[start : start + 500]),
                Ticket.status != "closed",
                ~Ticket.is_digest,
            )
        )
        for ticket in tickets:
            recompute(ticket, rules.policy_for(ticket))
            done += 1
    return done


def recompute_incident(s: Session, incident_id: int) -> int:
    """Crisis mode went on or off: the incident's open tickets follow the policy it implies."""
    ids = s.scalars(sa.select(Ticket.id).where(Ticket.incident_id == incident_id)).all()
    return recompute_tickets(s, list(ids))


# -- warnings and breaches ------------------------------------------------------------------


def sweep(now: datetime | None = None) -> int:
    """Raise the warnings and breaches that have come due; return how many events."""
    now = now or utcnow()
    written: list[dict] = []
    with db.transaction() as s:
        tickets = list(
            s.scalars(
                sa.select(Ticket)
                .where(Ticket.sla_next_check_at <= now)
                .order_by(Ticket.sla_next_check_at)
                .limit(SWEEP_LIMIT)
            )
        )
        if not tickets:
            return 0
        rules = Rules.load(s)
        raised = []
        for ticket in tickets:
            policy = rules.policy_for(ticket)
            raised += _raise_due(ticket, policy, now)
            recompute(ticket, policy)
        s.flush()
        if raised:
            written = events.write(s, raised)
    from inbox import realtime

    realtime.publish(written)
    return len(written)


def _raise_due(ticket: Ticket, policy: Policy | None, now: datetime) -> list[dict]:
    if policy is None:
        return []
    state = _state(ticket)
    raised = []
    for clock, due in _dues(ticket).items():
        if due is None:
            continue
        key = due.isoformat()
        if due <= now and state["breached"].get(clock) != key:
            state["breached"][clock] = key
            if clock == "first_response":
                ticket.first_response_breached = True
            elif clock == "resolution":
                ticket.resolution_breached = True
            raised.append(_event("sla_breached", ticket, policy, clock, due))
        elif (
            due - timedelta(seconds=policy.warn) <= now < due and state["warned"].get(clock) != key
        ):
            state["warned"][clock] = key
            raised.append(_event("sla_warning", ticket, policy, clock, due))
    ticket.sla_state = state
    if raised:
        ticket.version = ticket.version + 1
    return raised


def _event(type_: str, ticket: Ticket, policy: Policy, clock: str, due: datetime) -> dict:
    return {
        "type": type_,
        "team_id": ticket.team_id,
        "channel_id": ticket.channel_id,
        "ticket_id": ticket.id,
        "actor_id": None,
        "data": {"clock": clock, "due_at": due.isoformat(), "policy": policy.name},
        "created_at": utcnow(),
    }
