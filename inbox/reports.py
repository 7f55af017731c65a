"""SLA reports and the inbound heatmap: single SQL aggregates over the stored measures.

What is measured (all over the local days [start, end] of a timezone):

- **inbound**: items with direction `in` created in the range; **outbound**: our replies
  (direction `out`, kind `reply`);
- **first_response** / **next_response**: the `sla_responses` rows answered in the range
  (by `responded_at`), in business or wall-clock seconds;
- **resolution**: the tickets closed in the range (status `closed`, by `closed_at`), digests
  left out, in business or wall-clock seconds;
- **response_rate**: of the non-digest tickets created in the range, the share that got a
  first response.

Each duration family gives count, median, mean, p90, `within_target` (of the rows that had a
target, the share not breached; null when none had one) and `breaches`.

Percentiles use the **nearest-rank** definition: the p-th percentile of n sorted values is the
value of rank ceil(p·n) (1-based), i.e. the smallest value whose rank r satisfies r ≥ p·n. The
median is therefore the lower middle value when n is even (of 10, 20, 30, 40 it is 20), and
every percentile is a value that was actually measured; it equals PostgreSQL's
`percentile_disc(p)`. In SQL: `row_number()` and `count(*)` over the group's partition
ordered by the value, then `min(v)` over the rows with 2r ≥ n (median) or 10r ≥ 9n (p90):
integer arithmetic, no `ceil`, and the same statement on SQLite (≥ 3.25) and PostgreSQL.

Grouping: `day` and `week` (ISO weeks, Monday first, cut to the range) are buckets of the local
calendar. Their boundaries are the UTC instants of local midnights, computed here in Python
(exact across DST changes) and joined in SQL as a `VALUES` list, so one statement serves both
databases; the join also matches the UTC day number, which makes it an equality (hash) join
rather than buckets × rows comparisons (see `bucket_rows`). Every bucket of the range is
listed, empty or not. `agent` is the replying person for responses and outbound replies, and
the ticket's assignee for inbound items, resolutions and the response rate; `channel`, `kind`
(the ticket's kind), `team` (the channel's team for items, the ticket's for the rest) and
`tag` (a ticket with two tags counts under both; untagged tickets only in the totals) are
columns. `totals` covers the whole range regardless of groups, so for `tag` it is not the sum
of the rows.

The whole report is one statement, UNION ALL of: item counts and created-ticket counts per
group, durations (responses and resolutions ranked together) per group, and the totals. Where
each row falls in exactly one group (all but `tag`), the totals come from the groups' results
(sums of counts; for percentiles, the rows are also ranked within the whole measure and the
groups keep their candidates) rather than from a second pass. Python only shapes the few
result rows (and names the agents, channels or teams found, in one small query). On
PostgreSQL the report's transaction runs with `jit = off` (see `sla_report`).

Teams: items belong to their channel's team; responses and tickets carry `team_id`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from inbox.db import UTCDateTime
from inbox.errors import ApiError
from inbox.models import Channel, Item, SlaResponse, Team, Ticket, TicketTag, User

GROUPS = ("day", "week", "agent", "channel", "kind", "sentiment", "tag", "team", "none")
TIME_GROUPS = ("day", "week")
ID_GROUPS = {"agent": User, "channel": Channel, "team": Team}
CLOCKS = ("business", "wall")
MAX_DAYS = 366
# A platform stamps an item before we receive it; this slack lets the item query start from
# `received_at` (indexed with the channel) without losing an item to clock skew.
RECEIVED_SLACK = timedelta(days=1)
MEASURES = ("first_response", "next_response", "resolution")
# the statement names its result rows by number: sorting small integers is cheaper than text
CODES = {"items": 0, "first_response": 1, "next_response": 2, "resolution": 3, "created": 4}
NAMES = {code: name for name, code in CODES.items()}
NO_AGENT = "(unassigned)"
CSV_COLUMNS = (
    "group",
    "inbound",
    "outbound",
    *(
        f"{measure}_{stat}"
        for measure in MEASURES
        for stat in ("count", "median_s", "mean_s", "p90_s", "within_target", "breaches")
    ),
    "response_rate",
)
_CSV_RISKY = ("=", "+", "-", "@", "\t", "\r")


# -- arguments ---------------------------------------------------------------------------------


def zone_named(tz: str) -> ZoneInfo:
    """Return the IANA timezone `tz`, or raise a 400 on the field `tz`."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ApiError(f"unknown timezone {tz!r}", "tz") from None


def check_range(start: date, end: date) -> None:
    """Refuse a range that ends before it starts or spans more than MAX_DAYS days."""
    if end < start:
        raise ApiError("the range ends before it starts", "to")
    if (end - start).days + 1 > MAX_DAYS:
        raise ApiError(f"the range spans at most {MAX_DAYS} days", "to")


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which `day` begins in `zone`."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def time_buckets(start: date, end: date, group_by: str, zone: ZoneInfo) -> list[tuple]:
    """(label, start_utc, end_utc) of each local day or ISO week of [start, end], in order."""
    buckets = []
    if group_by == "day":
        for n in range((end - start).days + 1):
            day = start + timedelta(days=n)
            buckets.append((day.isoformat(), local_midnight(day, zone), None))
    else:
        monday = start - timedelta(days=start.weekday())
        while monday <= end:
            year, week, _ = monday.isocalendar()
            first = max(monday, start)
            buckets.append((f"{year}-W{week:02d}", local_midnight(first, zone), None))
            monday += timedelta(days=7)
    # each bucket ends where the next begins; the last one at the end of the range
    ends = [b[1] for b in buckets[1:]] + [local_midnight(end + timedelta(days=1), zone)]
    return [(label, lo, hi) for (label, lo, _), hi in zip(buckets, ends, strict=True)]


def offset_segments(lo: datetime, hi: datetime, zone: ZoneInfo) -> list[tuple]:
    """Split [lo, hi) into (start, end, utc_offset_seconds) spans of constant offset in `zone`.

    Walks the range an hour at a time and finds each change to the second by bisection, so
    transitions at any minute are exact.
    """

    def offset(at: datetime) -> int:
        return int(at.astimezone(zone).utcoffset().total_seconds())

    second = timedelta(seconds=1)
    segments = []
    seg_start, current = lo, offset(lo)
    at = lo  # always: offset(at) == current
    while True:
        step = min(at + timedelta(hours=1), hi)
        probe = step if step < hi else hi - second
        if probe > at and offset(probe) != current:
            same, changed = at, probe  # offset(same) == current != offset(changed)
            while changed - same > second:
                middle = same + (changed - same) // 2
                middle -= timedelta(microseconds=middle.microsecond)
                if offset(middle) == current:
                    same = middle
                else:
                    changed = middle
            segments.append((seg_start, changed, current))
            seg_start, current, at = changed, offset(changed), changed
            continue
        if step >= hi:
            break
        at = step
    segments.append((seg_start, hi, current))
    return segments


# -- the statement -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    lo: datetime
    hi: datetime
    buckets: Any  # the VALUES CTE of bucket_rows (day, n, lo, hi), for day and week
    team_ids: set[int] | None
    clock: str
    group_by: str


def _values_cte(name: str, columns: list, rows: list[tuple]):
    """A WITH list of constant rows. PostgreSQL materializes a CTE named more than once, and a
    scan of a materialized CTE keeps the joins on it out of parallel workers: NOT MATERIALIZED
    makes it an inline VALUES list there (SQLite gets no hint, it needs none)."""
    cte = sa.values(*columns, name=name).data(rows).cte(name)
    return cte.prefix_with("NOT MATERIALIZED", dialect="postgresql")


def _key_type(group_by: str):
    return sa.String() if group_by in ("kind", "sentiment", "tag") else sa.Integer()


def _code(name: str):
    return sa.literal(CODES[name], sa.Integer()).label("measure")


def _level(scope: _Scope, key, lvl: int):
    """The (lvl, g) columns: the group key for the rows, a NULL of its type for the totals."""
    if key is None:
        key = sa.cast(sa.null(), _key_type(scope.group_by))
    return sa.literal(lvl, sa.Integer()).label("lvl"), key.label("g")


def _in_range(ts, scope: _Scope):
    return sa.and_(ts >= scope.lo, ts < scope.hi)


class epoch_seconds(FunctionElement):
    """Whole seconds since 1970-01-01 UTC of a timestamp column, as an integer (floored).

    SQLite: strftime('%s') of the stored UTC text cut to whole seconds. PostgreSQL:
    floor(date_part('epoch')), a double, exact for microsecond timestamps (1.8e15 µs is well
    within 2^53) and much cheaper than EXTRACT's numeric.
    """

    type = sa.BigInteger()
    name = "epoch_seconds"
    inherit_cache = True


@compiles(epoch_seconds)
def _epoch_seconds(element, compiler, **kw):
    return f"CAST(floor(date_part('epoch', {compiler.process(element.clauses, **kw)})) AS BIGINT)"


@compiles(epoch_seconds, "sqlite")
def _epoch_seconds_sqlite(element, compiler, **kw):
    # SQLite rounds fractional seconds to milliseconds (23:59:59.9996 would become the next
    # day): the stored text 'YYYY-MM-DD HH:MM:SS.ffffff' is cut to whole seconds first
    ts = compiler.process(element.clauses, **kw)
    return f"CAST(strftime('%s', substr({ts}, 1, 19)) AS INTEGER)"


def utc_day(ts):
    """The UTC day number (days since 1970-01-01) of a timestamp column, as an integer."""
    return epoch_seconds(ts) // 86400


def bucket_rows(buckets: list[tuple]) -> list[tuple]:
    """(utc_day, n, lo, hi) for each UTC day the n-th bucket overlaps (2 for a day, 8 a week).

    A range join (ts >= lo AND ts < hi) alone can only run as buckets x rows comparisons where
    the timestamp has no index (items.created_at, tickets.closed_at). Joining on the UTC day
    number first turns it into a hash join (or an index lookup on SQLite) that meets at most
    two candidate buckets per row; the boundary comparisons then decide, exactly.
    """
    rows = []
    for n, (_label, lo, hi) in enumerate(buckets):
        first = int(lo.timestamp() // 86400)
        last = int((hi - timedelta(microseconds=1)).timestamp() // 86400)
        rows += [(day, n, lo, hi) for day in range(first, last + 1)]
    return rows


def _bucketed(stmt, ts, scope: _Scope):
    b = scope.buckets
    return stmt.join(b, sa.and_(b.c.day == utc_day(ts), ts >= b.c.lo, ts < b.c.hi)), b.c.n


def _items(scope: _Scope, group_by: str | None, lvl: int):
    """Inbound and outbound counts (n, x) per group, in one scan of the range's items."""
    inbound = Item.direction == "in"
    outbound = sa.and_(Item.direction == "out", Item.kind == "reply")
    frm = sa.select().select_from(Item)
    key = None
    if group_by in TIME_GROUPS:
        frm, key = _bucketed(frm, Item.created_at, scope)
    elif group_by in ("agent", "kind", "sentiment"):
        frm = frm.join(Ticket, Ticket.id == Item.ticket_id)
        key = {
            "agent": sa.case(
                (Item.direction == "out", Item.author_user_id), else_=Ticket.assignee_id
            ),
            "kind": Ticket.kind,
            "sentiment": Ticket.sentiment,  # the conversation's, so replies count with it
        }[group_by]
    elif group_by == "tag":
        frm = frm.join(TicketTag, TicketTag.ticket_id == Item.ticket_id)
        key = TicketTag.tag
    elif group_by == "team":
        frm = frm.join(Channel, Channel.id == Item.channel_id)
        key = Channel.team_id
    elif group_by == "channel":
        key = Item.channel_id
    channels = sa.select(Channel.id)
    if scope.team_ids is not None:
        channels = channels.where(Channel.team_id.in_(scope.team_ids))
    stmt = frm.add_columns(
        *_level(scope, key, lvl),
        _code("items"),
        sa.func.count(sa.case((inbound, 1))).label("n"),
        sa.func.count(sa.case((outbound, 1))).label("x"),
        *_no_stats(),
    ).where(
        sa.or_(inbound, outbound),
        _in_range(Item.created_at, scope),
        Item.received_at >= scope.lo - RECEIVED_SLACK,
        Item.channel_id.in_(channels),
    )
    return stmt.group_by(key) if key is not None else stmt


def _no_stats():
    return (
        sa.cast(sa.null(), sa.Float()).label("mean"),
        sa.cast(sa.null(), sa.Float()).label("median"),
        sa.cast(sa.null(), sa.Float()).label("p90"),
        sa.cast(sa.null(), sa.Integer()).label("targeted"),
        sa.cast(sa.null(), sa.Integer()).label("met"),
        sa.cast(sa.null(), sa.Integer()).label("breaches"),
    )


def _ticket_key(frm, group_by: str | None, ts, scope: _Scope):
    """Join what `group_by` needs onto a statement over tickets; return it and the key."""
    if group_by in TIME_GROUPS:
        return _bucketed(frm, ts, scope)
    if group_by == "tag":
        return frm.join(TicketTag, TicketTag.ticket_id == Ticket.id), TicketTag.tag
    column = {
        "agent": Ticket.assignee_id,
        "channel": Ticket.channel_id,
        "kind": Ticket.kind,
        "sentiment": Ticket.sentiment,
        "team": Ticket.team_id,
    }.get(group_by)
    return frm, column


def _response_rows(scope: _Scope, group_by: str | None, lvl: int):
    """One row per answered wait of the range: (lvl, g, measure, v, targeted, met, breached)."""
    r = SlaResponse
    value = r.business_seconds if scope.clock == "business" else r.wall_seconds
    frm = sa.select().select_from(r)
    if group_by in TIME_GROUPS:
        frm, key = _bucketed(frm, r.responded_at, scope)
    elif group_by == "tag":
        frm = frm.join(TicketTag, TicketTag.ticket_id == r.ticket_id)
        key = TicketTag.tag
    elif group_by == "sentiment":
        frm = frm.join(Ticket, Ticket.id == r.ticket_id)
        key = Ticket.sentiment
    else:
        key = {
            "agent": r.agent_id,
            "channel": r.channel_id,
            "kind": r.kind,
            "team": r.team_id,
        }.get(group_by)
    stmt = frm.add_columns(
        *_level(scope, key, lvl),
        sa.case((r.which == "first", CODES["first_response"]), else_=CODES["next_response"]).label(
            "measure"
        ),
        value.label("v"),
        sa.case((r.target_seconds.is_not(None), 1)).label("targeted"),
        sa.case((sa.and_(r.target_seconds.is_not(None), sa.not_(r.breached)), 1)).label("met"),
        sa.case((r.breached, 1)).label("breached"),
    ).where(_in_range(r.responded_at, scope))
    if scope.team_ids is not None:
        stmt = stmt.where(r.team_id.in_(scope.team_ids))
    return stmt


def _resolution_rows(scope: _Scope, group_by: str | None, lvl: int):
    """One row per ticket closed in the range, shaped like `_response_rows`."""
    t = Ticket
    value = t.resolution_business_seconds if scope.clock == "business" else t.resolution_seconds
    frm, key = _ticket_key(sa.select().select_from(t), group_by, t.closed_at, scope)
    has_target = t.resolution_due_at.is_not(None)
    stmt = frm.add_columns(
        *_level(scope, key, lvl),
        _code("resolution"),
        value.label("v"),
        sa.case((has_target, 1)).label("targeted"),
        sa.case((sa.and_(has_target, sa.not_(t.resolution_breached)), 1)).label("met"),
        sa.case((t.resolution_breached, 1)).label("breached"),
    ).where(
        _in_range(t.closed_at, scope),
        t.status == "closed",
        sa.not_(t.is_digest),
        value.is_not(None),
    )
    if scope.team_ids is not None:
        stmt = stmt.where(t.team_id.in_(scope.team_ids))
    return stmt


def _durations(scope: _Scope, group_by: str) -> list:
    """Count, mean, nearest-rank median and p90, targets and breaches per group and in total.

    Each (group, measure) partition is ranked with row_number() and count(*) over it; the
    median is the smallest value whose rank r has 2r >= n, the p90 the smallest with
    10r >= 9n. Where every row belongs to one group, the same rows are also ranked within the
    whole measure, and the totals are read from the groups (the smallest of their candidates,
    sums of their counts); tags, which repeat a row under each of its ticket's tags, rank the
    rows of the totals separately.
    """
    if group_by in ("none", "tag"):
        levels = [(None, 1)] if group_by == "none" else [("tag", 0), (None, 1)]
        return [_ranked_by_level(scope, levels)]
    rows = sa.union_all(
        _response_rows(scope, group_by, 0), _resolution_rows(scope, group_by, 0)
    ).subquery("durations")
    part, whole = (rows.c.g, rows.c.measure), (rows.c.measure,)
    ranked = sa.select(
        rows,
        sa.func.row_number().over(partition_by=part, order_by=rows.c.v).label("rn"),
        sa.func.count().over(partition_by=part).label("cnt"),
        sa.func.row_number().over(partition_by=whole, order_by=rows.c.v).label("rt"),
        sa.func.count().over(partition_by=whole).label("ct"),
    ).subquery("ranked")
    c = ranked.c
    groups = (
        sa.select(
            c.g,
            c.measure,
            sa.func.count().label("n"),
            sa.func.sum(c.v).label("total"),
            *_nearest_ranks(c.v, c.rn, c.cnt),
            sa.func.min(sa.case((c.rt * 2 >= c.ct, c.v))).label("total_median"),
            sa.func.min(sa.case((c.rt * 10 >= c.ct * 9, c.v))).label("total_p90"),
            sa.func.count(c.targeted).label("targeted"),
            sa.func.count(c.met).label("met"),
            sa.func.count(c.breached).label("breaches"),
        )
        .group_by(c.g, c.measure)
        .cte("duration_groups")
    )
    d = groups.c
    return [
        sa.select(
            *_level(scope, d.g, 0),
            d.measure,
            d.n,
            sa.cast(sa.null(), sa.Integer()).label("x"),
            (d.total / d.n).label("mean"),
            d.median,
            d.p90,
            d.targeted,
            d.met,
            d.breaches,
        ),
        sa.select(
            *_level(scope, None, 1),
            d.measure,
            sa.func.sum(d.n).label("n"),
            sa.cast(sa.null(), sa.Integer()).label("x"),
            (sa.func.sum(d.total) / sa.func.sum(d.n)).label("mean"),
            sa.func.min(d.total_median).label("median"),
            sa.func.min(d.total_p90).label("p90"),
            sa.func.sum(d.targeted).label("targeted"),
            sa.func.sum(d.met).label("met"),
            sa.func.sum(d.breaches).label("breaches"),
        ).group_by(d.measure),
    ]


def _nearest_ranks(v, rn, cnt) -> tuple:
    """min(v) over the ranks r with 2r >= n (median) and 10r >= 9n (p90), in integers."""
    return (
        sa.func.min(sa.case((rn * 2 >= cnt, v))).label("median"),
        sa.func.min(sa.case((rn * 10 >= cnt * 9, v))).label("p90"),
    )


def _ranked_by_level(scope: _Scope, levels: list) -> sa.Select:
    """The figures of `_durations` with each level's rows ranked on their own."""
    rows = sa.union_all(
        *(f(scope, g, lvl) for g, lvl in levels for f in (_response_rows, _resolution_rows))
    ).subquery("durations")
    part = (rows.c.lvl, rows.c.g, rows.c.measure)
    ranked = sa.select(
        rows,
        sa.func.row_number().over(partition_by=part, order_by=rows.c.v).label("rn"),
        sa.func.count().over(partition_by=part).label("cnt"),
    ).subquery("ranked")
    c = ranked.c
    return sa.select(
        c.lvl,
        c.g,
        c.measure,
        sa.func.count().label("n"),
        sa.cast(sa.null(), sa.Integer()).label("x"),
        sa.func.avg(c.v).label("mean"),
        *_nearest_ranks(c.v, c.rn, c.cnt),
        sa.func.count(c.targeted).label("targeted"),
        sa.func.count(c.met).label("met"),
        sa.func.count(c.breached).label("breaches"),
    ).group_by(c.lvl, c.g, c.measure)


def _created(scope: _Scope, group_by: str | None, lvl: int):
    """Non-digest tickets created in the range (n) and how many got a first response (x)."""
    t = Ticket
    frm, key = _ticket_key(sa.select().select_from(t), group_by, t.created_at, scope)
    stmt = frm.add_columns(
        *_level(scope, key, lvl),
        _code("created"),
        sa.func.count().label("n"),
        sa.func.count(t.first_response_at).label("x"),
        *_no_stats(),
    ).where(_in_range(t.created_at, scope), sa.not_(t.is_digest))
    if scope.team_ids is not None:
        stmt = stmt.where(t.team_id.in_(scope.team_ids))
    return stmt.group_by(key) if key is not None else stmt


def report_statement(
    *,
    start: date,
    end: date,
    group_by: str,
    tz: str,
    clock: str,
    team_ids: set[int] | None,
) -> tuple[sa.CompoundSelect, list[tuple]]:
    """The one statement of a report (level 0 rows per group, level 1 the totals) and its
    time buckets (label, lo, hi); checks the arguments."""
    if group_by not in GROUPS:
        raise ApiError(f"group_by must be one of {', '.join(GROUPS)}", "group_by")
    if clock not in CLOCKS:
        raise ApiError(f"clock must be one of {', '.join(CLOCKS)}", "clock")
    zone = zone_named(tz)
    check_range(start, end)
    lo, hi = local_midnight(start, zone), local_midnight(end + timedelta(days=1), zone)
    buckets = time_buckets(start, end, group_by, zone) if group_by in TIME_GROUPS else []
    cte = None
    if buckets:
        columns = [sa.column("day", sa.BigInteger()), sa.column("n", sa.Integer())]
        columns += [sa.column("lo", UTCDateTime()), sa.column("hi", UTCDateTime())]
        cte = _values_cte("buckets", columns, bucket_rows(buckets))
    scope = _Scope(lo, hi, cte, None if team_ids is None else set(team_ids), clock, group_by)
    return sa.union_all(*_counts(scope, group_by), *_durations(scope, group_by)), buckets


def _counts(scope: _Scope, group_by: str) -> list:
    """Item and ticket counts per group and in total.

    Every item and ticket falls in exactly one group, except with tags, so the totals are the
    sums of the groups' counts instead of a second scan of the range.
    """
    if group_by == "none":
        return [_items(scope, None, 1), _created(scope, None, 1)]
    if group_by == "tag":
        return [f(scope, g, lvl) for g, lvl in (("tag", 0), (None, 1)) for f in (_items, _created)]
    groups = sa.union_all(_items(scope, group_by, 0), _created(scope, group_by, 0)).cte("counts")
    totals = sa.select(
        *_level(scope, None, 1),
        groups.c.measure,
        sa.func.sum(groups.c.n).label("n"),
        sa.func.sum(groups.c.x).label("x"),
        *_no_stats(),
    ).group_by(groups.c.measure)
    return [sa.select(groups), totals]


# -- the report --------------------------------------------------------------------------------


def _ratio(part: int | None, whole: int | None) -> float | None:
    return round(part / whole, 4) if whole else None


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def _stats(row: Any | None) -> dict:
    if row is None:
        row = {"n": 0, "mean": None, "median": None, "p90": None, "targeted": 0, "met": 0}
        row |= {"breaches": 0}
    else:
        row = row._mapping
    return {
        "count": int(row["n"]),
        "median": _seconds(row["median"]),
        "mean": _seconds(row["mean"]),
        "p90": _seconds(row["p90"]),
        "within_target": _ratio(int(row["met"]), int(row["targeted"])),
        "breaches": int(row["breaches"]),
    }


def _figures(found: dict) -> dict:
    """One group's figures from its result rows, keyed by measure."""
    items, created = found.get("items"), found.get("created")
    return {
        "inbound": int(items.n) if items else 0,
        "outbound": int(items.x) if items else 0,
        **{m: _stats(found.get(m)) for m in MEASURES},
        "response_rate": _ratio(int(created.x), int(created.n)) if created else None,
    }


def _labels(s: Session, group_by: str, keys: list) -> dict:
    model = ID_GROUPS.get(group_by)
    if model is None:
        return {k: str(k) for k in keys}
    ids = [k for k in keys if k is not None]
    names = dict(s.execute(sa.select(model.id, model.name).where(model.id.in_(ids))).all())
    return {k: names.get(k, f"#{k}") if k is not None else NO_AGENT for k in keys}


def sla_report(
    s: Session,
    *,
    start: date,
    end: date,
    group_by: str,
    tz: str = "Europe/Paris",
    clock: str = "business",
    team_ids: set[int] | None = None,
) -> dict:
    """The SLA report of the local days [start, end] in `tz`, grouped by `group_by`.

    `team_ids` limits it to these teams (None: every team). See the module docstring for
    what each figure means.
    """
    stmt, buckets = report_statement(
        start=start, end=end, group_by=group_by, tz=tz, clock=clock, team_ids=team_ids
    )
    if s.get_bind().dialect.name == "postgresql":
        # The planner's cost estimate for the window sort is high enough to switch on JIT
        # inlining and optimization, which then take longer than the query itself (7 s of
        # 12 s at 1M tickets, bench/sla_report.py). Only for this transaction.
        s.execute(sa.text("SET LOCAL jit = off"))
    found: dict[tuple, dict] = {}
    for row in s.execute(stmt):
        found.setdefault((row.lvl, row.g), {})[NAMES[row.measure]] = row
    totals = _figures(found.get((1, None), {}))
    if group_by == "none":
        rows = [{"group": "all", "group_id": None} | totals]
    elif group_by in TIME_GROUPS:
        rows = [
            {"group": label, "group_id": None} | _figures(found.get((0, n), {}))
            for n, (label, _lo, _hi) in enumerate(buckets)
        ]
    else:
        keys = [g for lvl, g in found if lvl == 0]
        labels = _labels(s, group_by, keys)
        keys.sort(key=lambda k: (k is None, labels[k].casefold(), str(k)))
        rows = [
            {"group": labels[k], "group_id": k if group_by in ID_GROUPS else None}
            | _figures(found[(0, k)])
            for k in keys
        ]
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "group_by": group_by,
        "timezone": tz,
        "clock": clock,
        "rows": rows,
        "totals": totals,
    }


def heatmap(
    s: Session,
    *,
    start: date,
    end: date,
    tz: str = "Europe/Paris",
    team_ids: set[int] | None = None,
) -> dict:
    """Inbound items of the local days [start, end] by local weekday (0 = Monday) and hour.

    One aggregate: the range is cut into spans of constant UTC offset (computed in Python, so
    DST is exact), joined as a VALUES list; each item's local time is its epoch seconds plus
    its span's offset, from which integer arithmetic gives the weekday and the hour.
    """
    zone = zone_named(tz)
    check_range(start, end)
    lo, hi = local_midnight(start, zone), local_midnight(end + timedelta(days=1), zone)
    columns = [sa.column("lo", UTCDateTime()), sa.column("hi", UTCDateTime())]
    spans = _values_cte(
        "spans", [*columns, sa.column("off", sa.Integer())], offset_segments(lo, hi, zone)
    )
    local = epoch_seconds(Item.created_at) + spans.c.off
    # whole seconds, integer arithmetic; 1970-01-01 was a Thursday (weekday 3)
    hour = (local % 86400) // 3600
    weekday = (local // 86400 + 3) % 7
    channels = sa.select(Channel.id)
    if team_ids is not None:
        channels = channels.where(Channel.team_id.in_(set(team_ids)))
    stmt = (
        sa.select(weekday.label("weekday"), hour.label("hour"), sa.func.count().label("n"))
        .select_from(Item)
        .join(spans, sa.and_(Item.created_at >= spans.c.lo, Item.created_at < spans.c.hi))
        .where(
            Item.direction == "in",
            Item.created_at >= lo,
            Item.created_at < hi,
            Item.received_at >= lo - RECEIVED_SLACK,
            Item.channel_id.in_(channels),
        )
        .group_by(weekday, hour)
    )
    counts = {(int(r.weekday), int(r.hour)): int(r.n) for r in s.execute(stmt)}
    cells = [[d, h, counts.get((d, h), 0)] for d in range(7) for h in range(24)]
    return {"timezone": tz, "cells": cells}


# -- CSV ---------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    """A CSV cell; text a spreadsheet would run as a formula is prefixed with '."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_CSV_RISKY) else text


def flat_row(row: dict) -> dict:
    """A report row as the flat columns of CSV_COLUMNS."""
    flat = {"group": row.get("group"), "inbound": row["inbound"], "outbound": row["outbound"]}
    for measure in MEASURES:
        stats = row[measure]
        flat |= {
            f"{measure}_count": stats["count"],
            f"{measure}_median_s": stats["median"],
            f"{measure}_mean_s": stats["mean"],
            f"{measure}_p90_s": stats["p90"],
            f"{measure}_within_target": stats["within_target"],
            f"{measure}_breaches": stats["breaches"],
        }
    return flat | {"response_rate": row["response_rate"]}


def to_csv(report: dict) -> str:
    """The report's rows as CSV: one header row, then one row per group."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in report["rows"]:
        flat = flat_row(row)
        writer.writerow([_cell(flat[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def csv_filename(report: dict) -> str:
    return f"sla-{report['from']}-{report['to']}-{report['group_by']}.csv"
