"""SLA reports and the heatmap: hand-computed figures over a small history, on both databases.

The history (Europe/Paris, UTC+1 in November; local times below, UTC = local - 1 h), range
Monday 2026-11-02 to Tuesday 2026-11-03, team Support (channels Messenger "M" and Mail "B"),
agents Ana and Bob; team Other has one ticket that Support's manager must never see.

ticket  channel kind     created          assignee  answered  closed (business s, due, breached)
T1      M       dm       11-02 09:00      Ana       yes       11-02 12:00 (10800, due, no)
T2      M       comment  11-02 10:00      Bob       yes       -
T3      B       email    11-03 09:00      Ana       yes       11-03 18:00 (28800, due, yes)
T4      B       email    11-03 11:00      -         no        -
T5      M       quote    11-03 10:00      -         no        -   (digest)
T7      M       dm       11-03 08:00      Bob       yes       -
T8      B       email    10-30 10:00      Bob       yes       11-03 10:00 (3600, no due, no)
T9      B       dm       11-02 00:30      -         no        -
T6      Other   dm       11-02 09:00      Olga      yes       -
tags: T1 billing; T2 billing, bug; T3 bug.

sla_responses (business s / wall s, target s):
R1 T1 first Ana 11-02 09:10  600 /  600, 3600
R2 T2 first Bob 11-02 11:00 3600 / 3600, 7200
R3 T2 next  Bob 11-02 11:50 1200 / 1200, 7200
R4 T3 first Ana 11-03 11:00 5400 / 7200, 3600 -> breached
R5 T3 next  Ana 11-03 12:05  300 /  300, no target
R7 T7 first Bob 11-03 08:30 1800 / 1800, no target
R8 T8 first Bob 10-30 11:00 (before the range)
R6 T6 first Olga 11-02 09:05 300 / 300, 3600 (team Other)

items, in (direction in) and out (our replies):
T1 in 11-02 09:00, out 09:10 Ana | T2 in 10:00, out 11:00 Bob, in 11:30, out 11:50 Bob, note
T3 in 11-03 09:00, out 11:00 Ana, in 12:00, out 12:05 Ana | T4 in 11-03 11:00, in 23:30,
in 11-04 00:30 (after the range, though 23:30 UTC on 11-03) | T5 in 11-03 10:00
T7 in 11-03 08:00, out 08:30 Bob | T8 in 10-30 10:00, out 11:00 Bob (before the range)
T9 in 11-02 00:30 (23:30 UTC on 11-01, inside the range) | T6 in 11-02 09:00, out 09:05 Olga
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask.cli import ScriptInfo

from inbox import db, reports
from inbox.cli_report import duration, report
from inbox.models import Channel, Item, SlaResponse, Team, Ticket, TicketTag, User
from tests.support import fresh_snapshot

PARIS = ZoneInfo("Europe/Paris")
NOV2, NOV3 = date(2026, 11, 2), date(2026, 11, 3)
EMPTY = {
    "count": 0,
    "median": None,
    "mean": None,
    "p90": None,
    "within_target": None,
    "breaches": 0,
}


def paris(text: str) -> datetime:
    """A Paris wall-clock time "2026-11-02 09:00" as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).astimezone(UTC)


def stats(count, median, mean, p90, within, breaches) -> dict:
    return {
        "count": count,
        "median": median,
        "mean": mean,
        "p90": p90,
        "within_target": within,
        "breaches": breaches,
    }


class History:
    """Inserts tickets, items and measures directly, as the SLA clock would have stored them."""

    def __init__(self, s):
        self.s = s

    def ticket(self, channel: Channel, kind: str, created: str, assignee=None, **extra) -> Ticket:
        ticket = Ticket(
            channel_id=channel.id,
            team_id=channel.team_id,
            thread_key=f"{kind}-{created}",
            kind=kind,
            assignee_id=assignee.id if assignee else None,
            created_at=paris(created),
            last_activity_at=paris(created),
            **extra,
        )
        self.s.add(ticket)
        self.s.flush()
        return ticket

    def item(self, ticket: Ticket, at: str | datetime, direction: str = "in", by=None) -> None:
        kind = {"in": ticket.kind, "out": "reply", "note": "note"}[direction]
        when = at if isinstance(at, datetime) else paris(at)
        self.s.add(
            Item(
                channel_id=ticket.channel_id,
                ticket_id=ticket.id,
                kind=kind,
                direction=direction,
                author_user_id=by.id if by else None,
                created_at=when,
                received_at=when + timedelta(seconds=3),
            )
        )

    def response(self, ticket, which, agent, at, business, wall, target=None, breached=False):
        self.s.add(
            SlaResponse(
                ticket_id=ticket.id,
                team_id=ticket.team_id,
                channel_id=ticket.channel_id,
                kind=ticket.kind,
                priority="normal",
                which=which,
                agent_id=agent.id,
                waiting_since=paris(at) - timedelta(seconds=wall),
                responded_at=paris(at),
                wall_seconds=wall,
                business_seconds=business,
                target_seconds=target,
                breached=breached,
            )
        )

    def tag(self, ticket: Ticket, *tags: str) -> None:
        self.s.add_all(TicketTag(ticket_id=ticket.id, tag=t) for t in tags)


def closed(at: str, business: float, wall: float, due: bool, breached: bool) -> dict:
    return {
        "status": "closed",
        "closed_at": paris(at),
        "resolution_business_seconds": business,
        "resolution_seconds": wall,
        "resolution_due_at": paris(at) if due else None,
        "resolution_breached": breached,
    }


@pytest.fixture
def history(world):
    """The history of the module docstring; returns the ids the tests need."""
    world.user("ana@example.com")
    world.user("bob@example.com")
    world.user("olga@example.com", teams=("Other",))
    world.user("mia@example.com", role="manager")
    world.user("ada@example.com", role="admin", teams=())
    fresh_snapshot()
    with db.transaction() as s:
        users = {u.email.split("@")[0]: u for u in s.scalars(sa.select(User))}
        ana, bob, olga = users["ana"], users["bob"], users["olga"]
        teams = dict(s.execute(sa.select(Team.name, Team.id)).all())
        m = Channel(type="webhook", name="Messenger", team_id=teams["Support"])
        b = Channel(type="webhook", name="Mail", team_id=teams["Support"])
        o = Channel(type="webhook", name="Other inbox", team_id=teams["Other"])
        s.add_all([m, b, o])
        s.flush()
        h = History(s)
        answered = {"first_response_at": paris("2026-11-02 09:10")}
        t1 = h.ticket(
            m,
            "dm",
            "2026-11-02 09:00",
            ana,
            **answered,
            **closed("2026-11-02 12:00", 10800, 10800, due=True, breached=False),
        )
        t2 = h.ticket(m, "comment", "2026-11-02 10:00", bob, **answered)
        t3 = h.ticket(
            b,
            "email",
            "2026-11-03 09:00",
            ana,
            **answered,
            **closed("2026-11-03 18:00", 28800, 32400, due=True, breached=True),
        )
        t4 = h.ticket(b, "email", "2026-11-03 11:00")
        t5 = h.ticket(m, "quote", "2026-11-03 10:00", is_digest=True)
        t7 = h.ticket(m, "dm", "2026-11-03 08:00", bob, **answered)
        t8 = h.ticket(
            b,
            "email",
            "2026-10-30 10:00",
            bob,
            **answered,
            **closed("2026-11-03 10:00", 3600, 345600, due=False, breached=False),
        )
        t9 = h.ticket(b, "dm", "2026-11-02 00:30")
        t6 = h.ticket(o, "dm", "2026-11-02 09:00", olga, **answered)
        h.tag(t1, "billing")
        h.tag(t2, "billing", "bug")
        h.tag(t3, "bug")

        h.response(t1, "first", ana, "2026-11-02 09:10", 600, 600, 3600)
        h.response(t2, "first", bob, "2026-11-02 11:00", 3600, 3600, 7200)
        h.response(t2, "next", bob, "2026-11-02 11:50", 1200, 1200, 7200)
        h.response(t3, "first", ana, "2026-11-03 11:00", 5400, 7200, 3600, breached=True)
        h.response(t3, "next", ana, "2026-11-03 12:05", 300, 300)
        h.response(t7, "first", bob, "2026-11-03 08:30", 1800, 1800)
        h.response(t8, "first", bob, "2026-10-30 11:00", 3600, 3600, 3600)
        h.response(t6, "first", olga, "2026-11-02 09:05", 300, 300, 3600)

        h.item(t1, "2026-11-02 09:00")
        h.item(t1, "2026-11-02 09:10", "out", ana)
        h.item(t2, "2026-11-02 10:00")
        h.item(t2, "2026-11-02 11:00", "out", bob)
        h.item(t2, "2026-11-02 11:30")
        h.item(t2, "2026-11-02 11:50", "out", bob)
        h.item(t2, "2026-11-02 11:55", "note", bob)
        h.item(t3, "2026-11-03 09:00")
        h.item(t3, "2026-11-03 11:00", "out", ana)
        h.item(t3, "2026-11-03 12:00")
        h.item(t3, "2026-11-03 12:05", "out", ana)
        h.item(t4, "2026-11-03 11:00")
        h.item(t4, "2026-11-03 23:30")
        h.item(t4, "2026-11-04 00:30")
        h.item(t5, "2026-11-03 10:00")
        h.item(t7, "2026-11-03 08:00")
        h.item(t7, "2026-11-03 08:30", "out", bob)
        h.item(t8, "2026-10-30 10:00")
        h.item(t8, "2026-10-30 11:00", "out", bob)
        h.item(t9, "2026-11-02 00:30")
        h.item(t6, "2026-11-02 09:00")
        h.item(t6, "2026-11-02 09:05", "out", olga)
        return {
            "world": world,
            "app": world.app,
            "support": teams["Support"],
            "other": teams["Other"],
            "ana": ana.id,
            "bob": bob.id,
            "messenger": m.id,
            "mail": b.id,
        }


def run(group_by: str, history: dict, **kw) -> dict:
    kw = {"start": NOV2, "end": NOV3, "tz": "Europe/Paris", "team_ids": {history["support"]}} | kw
    with db.transaction() as s:
        return reports.sla_report(s, group_by=group_by, **kw)


# -- totals ------------------------------------------------------------------------------------


def test_totals_of_the_support_team(history):
    result = run("none", history)
    totals = result["totals"]
    # in: T1 1 + T2 2 + T3 2 + T4 2 (11:00, 23:30; not 11-04 00:30) + T5 1 + T7 1 + T9 1 = 10
    # (T8's is before the range, T6's is team Other's); out: T1 1 + T2 2 + T3 2 + T7 1 = 6
    assert (totals["inbound"], totals["outbound"]) == (10, 6)
    # first, business: R1 600, R7 1800, R2 3600, R4 5400 -> n 4; nearest rank median: rank
    # ceil(0.5*4) = 2 -> 1800 (interpolation would say 2700); mean 11400/4 = 2850;
    # p90 rank ceil(0.9*4) = 4 -> 5400; targets R1 R2 R4, R4 breached -> 2/3
    assert totals["first_response"] == stats(4, 1800, 2850, 5400, 0.6667, 1)
    # next: R5 300 (no target), R3 1200 -> median rank 1 = 300, mean 750, p90 rank 2 = 1200;
    # one with a target (R3), met -> 1.0
    assert totals["next_response"] == stats(2, 300, 750, 1200, 1.0, 0)
    # closed in range: T8 3600 (no due), T1 10800, T3 28800 (breached) -> median rank 2 =
    # 10800, mean 43200/3 = 14400, p90 rank ceil(2.7) = 3 -> 28800; targets T1 T3 -> 1/2
    assert totals["resolution"] == stats(3, 10800, 14400, 28800, 0.5, 1)
    # non-digest tickets created in range: T1 T2 T3 T4 T7 T9 (T5 digest, T8 before) -> 6,
    # answered T1 T2 T3 T7 -> 4/6
    assert totals["response_rate"] == 0.6667
    assert result["rows"] == [{"group": "all", "group_id": None} | totals]
    assert {k: result[k] for k in ("from", "to", "group_by", "timezone", "clock")} == {
        "from": "2026-11-02",
        "to": "2026-11-03",
        "group_by": "none",
        "timezone": "Europe/Paris",
        "clock": "business",
    }


def test_wall_clock_and_every_team(history):
    totals = run("none", history, clock="wall", team_ids=None)["totals"]
    # first, wall: R6 300, R1 600, R7 1800, R2 3600, R4 7200 -> n 5; median rank
    # ceil(2.5) = 3 -> 1800; mean 13500/5 = 2700; p90 rank ceil(4.5) = 5 -> 7200;
    # targets R6 R1 R2 R4, one breach -> 3/4
    assert totals["first_response"] == stats(5, 1800, 2700, 7200, 0.75, 1)
    # resolution, wall: T1 10800, T3 32400, T8 345600 -> median 32400, mean 388800/3 = 129600
    assert totals["resolution"] == stats(3, 32400, 129600, 345600, 0.5, 1)
    # T6 adds one inbound, one outbound, one answered ticket: 5/7
    assert (totals["inbound"], totals["outbound"], totals["response_rate"]) == (11, 7, 0.7143)


# -- groups ------------------------------------------------------------------------------------


def test_by_day_in_local_time(history):
    result = run("day", history)
    day2, day3 = result["rows"]
    assert (day2["group"], day3["group"], day2["group_id"]) == ("2026-11-02", "2026-11-03", None)
    # 11-02: in T1 09:00, T2 10:00 11:30, T9 00:30 (23:30 UTC the day before) -> 4; out 3
    # 11-03: in T3 x2, T4 11:00 23:30, T5, T7 -> 6; out T3 x2, T7 -> 3
    assert (day2["inbound"], day2["outbound"], day3["inbound"], day3["outbound"]) == (4, 3, 6, 3)
    # 11-02 first: R1 600, R2 3600 -> median rank 1 = 600, mean 2100, p90 rank 2 = 3600
    assert day2["first_response"] == stats(2, 600, 2100, 3600, 1.0, 0)
    assert day2["next_response"] == stats(1, 1200, 1200, 1200, 1.0, 0)
    assert day2["resolution"] == stats(1, 10800, 10800, 10800, 1.0, 0)
    # created 11-02: T1 T2 T9, answered T1 T2 -> 2/3
    assert day2["response_rate"] == 0.6667
    # 11-03 first: R7 1800 (no target), R4 5400 (breached) -> within 0/1
    assert day3["first_response"] == stats(2, 1800, 3600, 5400, 0.0, 1)
    assert day3["next_response"] == stats(1, 300, 300, 300, None, 0)
    # closed 11-03: T8 3600 (no due), T3 28800 (breached) -> median 3600, mean 16200
    assert day3["resolution"] == stats(2, 3600, 16200, 28800, 0.0, 1)
    # created 11-03: T3 T4 T7 (T5 digest), answered T3 T7 -> 2/3
    assert day3["response_rate"] == 0.6667
    assert result["totals"] == run("none", history)["totals"]


def test_days_and_weeks_without_data_still_appear(history):
    rows = run("day", history, start=date(2026, 11, 1))["rows"]
    assert [r["group"] for r in rows] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    empty = rows[0]
    assert (empty["inbound"], empty["outbound"], empty["response_rate"]) == (0, 0, None)
    assert empty["first_response"] == empty["next_response"] == empty["resolution"] == EMPTY
    # Sunday 11-01 is the last day of ISO week 44; Monday 11-02 starts week 45
    weeks = run("week", history, start=date(2026, 11, 1), end=date(2026, 11, 9))["rows"]
    assert [w["group"] for w in weeks] == ["2026-W44", "2026-W45", "2026-W46"]
    # week 45 (11-02 to 11-08) also holds T4's item of Wednesday 11-04 00:30: 10 + 1
    assert [w["inbound"] for w in weeks] == [0, 11, 0]
    assert weeks[1]["first_response"] == stats(4, 1800, 2850, 5400, 0.6667, 1)
    assert weeks[1]["resolution"] == stats(3, 10800, 14400, 28800, 0.5, 1)


def test_by_agent(history):
    result = run("agent", history)
    # every row falls in one agent's group: the totals, read from the groups, are the same
    assert result["totals"] == run("none", history)["totals"]
    rows = result["rows"]
    assert [(r["group"], r["group_id"]) for r in rows] == [
        ("Ana", history["ana"]),
        ("Bob", history["bob"]),
        ("(unassigned)", None),
    ]
    ana, bob, nobody = rows
    # inbound by assignee: Ana T1 1 + T3 2 = 3; Bob T2 2 + T7 1 = 3; nobody T4 2 + T5 + T9 = 4
    # outbound by author: Ana 1 + 2 = 3; Bob 2 + 1 = 3
    assert [(r["inbound"], r["outbound"]) for r in rows] == [(3, 3), (3, 3), (4, 0)]
    # Ana first: R1 600, R4 5400 (breached) -> median 600, mean 3000, p90 5400, 1/2
    assert ana["first_response"] == stats(2, 600, 3000, 5400, 0.5, 1)
    assert ana["next_response"] == stats(1, 300, 300, 300, None, 0)
    # Ana resolved T1 10800 and T3 28800 -> median 10800, mean 19800
    assert ana["resolution"] == stats(2, 10800, 19800, 28800, 0.5, 1)
    # Bob first: R7 1800 (no target), R2 3600 -> median 1800, mean 2700, p90 3600, 1/1
    assert bob["first_response"] == stats(2, 1800, 2700, 3600, 1.0, 0)
    assert bob["resolution"] == stats(1, 3600, 3600, 3600, None, 0)
    # created in range: Ana T1 T3 both answered; Bob T2 T7; nobody T4 T9 none answered
    assert [r["response_rate"] for r in rows] == [1.0, 1.0, 0.0]
    assert nobody["first_response"] == EMPTY


def test_by_channel(history):
    result = run("channel", history)
    assert result["totals"] == run("none", history)["totals"]
    rows = result["rows"]
    assert [(r["group"], r["group_id"]) for r in rows] == [
        ("Mail", history["mail"]),
        ("Messenger", history["messenger"]),
    ]
    mail, messenger = rows
    # Messenger: in T1 1 + T2 2 + T5 1 + T7 1 = 5, out 1 + 2 + 1 = 4
    # first R1 600, R7 1800, R2 3600 -> median rank 2 = 1800, mean 2000, p90 rank 3 = 3600
    assert (messenger["inbound"], messenger["outbound"]) == (5, 4)
    assert messenger["first_response"] == stats(3, 1800, 2000, 3600, 1.0, 0)
    assert messenger["response_rate"] == 1.0  # T1 T2 T7 (T5 is a digest)
    # Mail: in T3 2 + T4 2 + T9 1 = 5, out T3 2; closed T8 3600, T3 28800; created T3 T4 T9
    assert (mail["inbound"], mail["outbound"]) == (5, 2)
    assert mail["first_response"] == stats(1, 5400, 5400, 5400, 0.0, 1)
    assert mail["resolution"] == stats(2, 3600, 16200, 28800, 0.0, 1)
    assert mail["response_rate"] == 0.3333


def test_by_tag_counts_a_ticket_under_each_of_its_tags(history):
    rows = run("tag", history)["rows"]
    assert [(r["group"], r["group_id"]) for r in rows] == [("billing", None), ("bug", None)]
    billing, bug = rows
    # billing = T1 + T2: in 1 + 2, out 1 + 2; first R1 600, R2 3600; next R3; closed T1
    assert (billing["inbound"], billing["outbound"]) == (3, 3)
    assert billing["first_response"] == stats(2, 600, 2100, 3600, 1.0, 0)
    assert billing["resolution"] == stats(1, 10800, 10800, 10800, 1.0, 0)
    # bug = T2 + T3: in 2 + 2, out 2 + 2; first R2 3600, R4 5400 (breached) -> mean 4500;
    # next R5 300, R3 1200 -> median 300, mean 750; closed T3 (breached)
    assert (bug["inbound"], bug["outbound"]) == (4, 4)
    assert bug["first_response"] == stats(2, 3600, 4500, 5400, 0.5, 1)
    assert bug["next_response"] == stats(2, 300, 750, 1200, 1.0, 0)
    assert bug["resolution"] == stats(1, 28800, 28800, 28800, 0.0, 1)
    assert billing["response_rate"] == bug["response_rate"] == 1.0
    # the totals count T2 once
    assert run("tag", history)["totals"]["inbound"] == 10


def test_by_kind_and_by_team(history):
    kinds = {r["group"]: r for r in run("kind", history)["rows"]}
    assert sorted(kinds) == ["comment", "dm", "email", "quote"]
    # dm: T1 + T7 + T9 -> in 3; first R1 600, R7 1800 -> median 600, mean 1200
    assert kinds["dm"]["inbound"] == 3
    assert kinds["dm"]["first_response"] == stats(2, 600, 1200, 1800, 1.0, 0)
    assert kinds["quote"]["response_rate"] is None  # only a digest
    teams = run("team", history, team_ids=None)["rows"]
    assert [(r["group"], r["group_id"]) for r in teams] == [
        ("Other", history["other"]),
        ("Support", history["support"]),
    ]
    assert teams[0]["first_response"] == stats(1, 300, 300, 300, 1.0, 0)
    assert (teams[1]["inbound"], teams[1]["response_rate"]) == (10, 0.6667)


def test_day_buckets_follow_the_dst_change(world):
    """Paris leaves summer time on Sunday 2026-10-25 at 01:00 UTC: that day lasts 25 hours."""
    world.user("ana@example.com")
    fresh_snapshot()
    utc = [
        datetime(2026, 10, 24, 21, 30, tzinfo=UTC),  # 23:30 CEST on the 24th: before the range
        datetime(2026, 10, 24, 22, 30, tzinfo=UTC),  # 00:30 CEST on the 25th
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # 02:30 CEST
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),  # 02:30 CET, the second time
        datetime(2026, 10, 25, 22, 30, tzinfo=UTC),  # 23:30 CET on the 25th
        datetime(2026, 10, 25, 23, 30, tzinfo=UTC),  # 00:30 CET on the 26th
    ]
    with db.transaction() as s:
        channel = Channel(type="webhook", name="Forum", team_id=s.scalar(sa.select(Team.id)))
        s.add(channel)
        s.flush()
        h = History(s)
        ticket = h.ticket(channel, "comment", "2026-10-20 10:00")
        for at in utc:
            h.item(ticket, at)
    span = {"start": date(2026, 10, 25), "end": date(2026, 10, 26), "tz": "Europe/Paris"}
    with db.transaction() as s:
        days = reports.sla_report(s, group_by="day", **span)["rows"]
        cells = reports.heatmap(s, **span)["cells"]
    # the 25th: 00:30 CEST, 02:30 CEST, 02:30 CET, 23:30 CET -> 4; the 26th: 00:30 -> 1
    assert [(d["group"], d["inbound"]) for d in days] == [("2026-10-25", 4), ("2026-10-26", 1)]
    # Sunday = 6: hour 0 once, hour 2 twice (the repeated hour), hour 23 once; Monday hour 0
    assert {(d, h): n for d, h, n in cells if n} == {(6, 0): 1, (6, 2): 2, (6, 23): 1, (0, 0): 1}


def test_bucket_edges_to_the_microsecond(world):
    """Local midnight belongs to the new day; the UTC-day join key is floored, never rounded."""
    world.user("ana@example.com")
    fresh_snapshot()
    utc = [
        datetime(2026, 11, 2, 22, 59, 59, 999999, tzinfo=UTC),  # 23:59:59.999999 on the 2nd
        datetime(2026, 11, 2, 23, 0, tzinfo=UTC),  # 00:00 on the 3rd
        datetime(2026, 11, 2, 23, 59, 59, 999999, tzinfo=UTC),  # 00:59:59.999999 on the 3rd
        datetime(2026, 11, 3, 0, 0, tzinfo=UTC),  # 01:00 on the 3rd
    ]
    with db.transaction() as s:
        channel = Channel(type="webhook", name="Forum", team_id=s.scalar(sa.select(Team.id)))
        s.add(channel)
        s.flush()
        h = History(s)
        ticket = h.ticket(channel, "dm", "2026-10-20 10:00")
        for at in utc:
            h.item(ticket, at)
    span = {"start": NOV2, "end": NOV3, "tz": "Europe/Paris"}
    with db.transaction() as s:
        days = reports.sla_report(s, group_by="day", **span)["rows"]
        cells = reports.heatmap(s, **span)["cells"]
        in_utc = reports.sla_report(s, group_by="day", **(span | {"tz": "UTC"}))["rows"]
    assert [d["inbound"] for d in days] == [1, 3]
    # in UTC the day ends at 23:59:59.999999: that item must not slip into the next day's key
    assert [d["inbound"] for d in in_utc] == [3, 1]
    assert {(d, h): n for d, h, n in cells if n} == {(0, 23): 1, (1, 0): 2, (1, 1): 1}


def test_offset_segments_are_exact():
    lo = reports.local_midnight(date(2026, 3, 28), PARIS)
    hi = reports.local_midnight(date(2026, 11, 1), PARIS)
    assert reports.offset_segments(lo, hi, PARIS) == [
        (lo, datetime(2026, 3, 29, 1, tzinfo=UTC), 3600),
        (datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC), 7200),
        (datetime(2026, 10, 25, 1, tzinfo=UTC), hi, 3600),
    ]
    kathmandu = ZoneInfo("Asia/Kathmandu")  # +05:45, no DST
    start = reports.local_midnight(date(2026, 1, 1), kathmandu)
    end = start + timedelta(days=2)
    assert reports.offset_segments(start, end, kathmandu) == [(start, end, 20700)]


def test_heatmap_by_local_weekday_and_hour(history):
    with db.transaction() as s:
        result = reports.heatmap(
            s, start=NOV2, end=NOV3, tz="Europe/Paris", team_ids={history["support"]}
        )
    assert result["timezone"] == "Europe/Paris" and len(result["cells"]) == 168
    assert result["cells"][:2] == [[0, 0, 1], [0, 1, 0]]
    # Monday 11-02: 00:30 (T9), 09:00, 10:00, 11:30; Tuesday 11-03: 08:00, 09:00, 10:00,
    # 11:00, 12:00, 23:30 (Wednesday 00:30 is after the range)
    assert {(d, h): n for d, h, n in result["cells"] if n} == {
        (0, 0): 1, (0, 9): 1, (0, 10): 1, (0, 11): 1,
        (1, 8): 1, (1, 9): 1, (1, 10): 1, (1, 11): 1, (1, 12): 1, (1, 23): 1,
    }  # fmt: skip


def test_bad_arguments_are_refused(history):
    from inbox.errors import ApiError

    for kwargs, field in (
        ({"group_by": "month"}, "group_by"),
        ({"clock": "sundial"}, "clock"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"end": date(2026, 11, 1)}, "to"),
        ({"end": NOV2 + timedelta(days=366)}, "to"),
    ):
        with pytest.raises(ApiError) as caught:
            run(kwargs.pop("group_by", "day"), history, **kwargs)
        assert caught.value.field == field


# -- API ---------------------------------------------------------------------------------------

URL = "/api/reports/sla?from=2026-11-02&to=2026-11-03&tz=Europe/Paris"


def test_api_report_for_a_manager_covers_their_teams_only(history):
    mia = history_client(history, "mia")
    body = mia.get(URL + "&group_by=day").json
    assert body["totals"] == run("none", history)["totals"]
    assert [r["group"] for r in body["rows"]] == ["2026-11-02", "2026-11-03"]
    assert body["rows"][0]["first_response"] == stats(2, 600, 2100, 3600, 1.0, 0)
    admin = history_client(history, "ada").get(URL + "&group_by=none&clock=wall").json
    year = mia.get("/api/reports/sla?from=2026-01-01&to=2027-01-01&group_by=none")  # 366 days
    # the year also holds T8's item of 10-30 and T4's of 11-04: 10 + 2
    assert year.status_code == 200 and year.json["totals"]["inbound"] == 12
    assert (admin["totals"]["inbound"], admin["clock"]) == (11, "wall")


def test_api_default_timezone_is_the_users(history):
    with db.transaction() as s:
        s.execute(sa.update(User).where(User.name == "Mia").values(timezone="America/New_York"))
    body = history_client(history, "mia").get(URL.replace("&tz=Europe/Paris", "")).json
    assert body["timezone"] == "America/New_York"
    # in New York (UTC-5) T9's 23:30 UTC on 11-01 is 18:30 on 11-01, outside the range, and
    # T4's 00:30 on 11-04 in Paris (23:30 UTC) is 18:30 on 11-03, inside it -> 10 - 1 + 1
    assert body["totals"]["inbound"] == 10
    cells = history_client(history, "mia").get("/api/reports/heatmap?from=2026-11-02&to=2026-11-03")
    assert cells.status_code == 200 and cells.json["timezone"] == "America/New_York"


def test_api_roles(history):
    ana = history_client(history, "ana")
    assert ana.get(URL).status_code == 403
    assert ana.get(URL + "&from=nonsense").status_code == 403  # the role is checked first
    assert ana.get("/api/reports/heatmap?from=2026-11-02&to=2026-11-03").status_code == 403
    assert history["app"].test_client().get(URL).status_code == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-13-01&to=2026-11-03", "from"),
        ("from=2026-11-02", "to"),
        ("from=2026-11-03&to=2026-11-02", "to"),
        ("from=2026-01-01&to=2027-01-02", "to"),  # 367 days
        ("from=2026-11-02&to=2026-11-03&group_by=month", "group_by"),
        ("from=2026-11-02&to=2026-11-03&clock=sundial", "clock"),
        ("from=2026-11-02&to=2026-11-03&tz=Mars/Olympus", "tz"),
        ("from=2026-11-02&to=2026-11-03&format=xlsx", "format"),
    ],
)
def test_api_bad_input_is_a_400_naming_the_field(history, query, field):
    response = history_client(history, "mia").get(f"/api/reports/sla?{query}")
    assert response.status_code == 400, response.json
    assert response.json["error"]["field"] == field


def test_api_csv(history):
    with db.transaction() as s:
        s.execute(sa.update(Channel).where(Channel.name == "Mail").values(name='=HYPERLINK("x")'))
        s.execute(sa.update(Channel).where(Channel.name == "Messenger").values(name="@Messenger"))
    response = history_client(history, "mia").get(URL + "&group_by=channel&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="sla-2026-11-02-2026-11-03-channel.csv"'
    )
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert lines[0] == [
        "group", "inbound", "outbound",
        "first_response_count", "first_response_median_s", "first_response_mean_s",
        "first_response_p90_s", "first_response_within_target", "first_response_breaches",
        "next_response_count", "next_response_median_s", "next_response_mean_s",
        "next_response_p90_s", "next_response_within_target", "next_response_breaches",
        "resolution_count", "resolution_median_s", "resolution_mean_s",
        "resolution_p90_s", "resolution_within_target", "resolution_breaches",
        "response_rate",
    ]  # fmt: skip
    assert len(lines) == 3  # a header and one row per channel
    rows = {line[0]: dict(zip(lines[0], line, strict=True)) for line in lines[1:]}
    assert set(rows) == {'\'=HYPERLINK("x")', "'@Messenger"}
    mail = rows['\'=HYPERLINK("x")']
    assert (mail["inbound"], mail["first_response_median_s"]) == ("5", "5400.0")
    assert (mail["next_response_within_target"], mail["response_rate"]) == ("", "0.3333")


def history_client(history, name: str):
    return history["world"].client(f"{name}@example.com")


# -- CLI ---------------------------------------------------------------------------------------


def invoke(app, *args):
    runner = app.test_cli_runner()
    return runner.invoke(report, list(args), obj=ScriptInfo(create_app=lambda: app))


def test_durations_read_like_people_say_them():
    assert [duration(s) for s in (None, 12, 2520, 3900, 7199, 266_400)] == [
        "-", "12 s", "42 min", "1 h 05 min", "2 h 00 min", "3 d 2 h",
    ]  # fmt: skip


def test_cli_table_csv_and_json(history, app):
    args = ["sla", "--from", "2026-11-02", "--to", "2026-11-03", "--group-by", "agent"]
    table = invoke(app, *args)
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0] == "SLA report 2026-11-02 to 2026-11-03 (Europe/Paris), business time"
    header, ana = lines[2], next(line for line in lines if line.startswith("Ana"))
    assert header.split()[:4] == ["agent", "in", "out", "1st"]
    # the columns line up: every cell ends where its title ends
    assert len({len(line) for line in lines[2:]}) == 1
    assert "10 min" in ana and "1 h 30 min" in ana and "50.0 %" in ana  # R1, R4 (5400 s), 1/2
    assert lines[-1].startswith("total")
    # every team: the CLI is an operator's tool
    as_json = json.loads(invoke(app, *args, "--format", "json").output)
    assert as_json == run("agent", history, team_ids=None)
    as_csv = invoke(app, *args, "--format", "csv").output.splitlines()
    assert as_csv[0].startswith("group,inbound,outbound,first_response_count,")
    assert len(as_csv) == 1 + 4  # Ana, Bob, Olga, unassigned
    bad = invoke(app, "sla", "--from", "2026-11-03", "--to", "2026-11-02")
    assert bad.exit_code == 2 and "error: --to: the range ends before it starts" in bad.output


def test_by_sentiment_follows_the_conversation(history):
    # the DMs are the unhappy conversations, everything else is neutral: the negative group
    # must then carry exactly the DM figures
    with db.transaction() as s:
        s.execute(
            sa.update(Ticket).values(
                sentiment=sa.case((Ticket.kind == "dm", "negative"), else_="neutral")
            )
        )
    kinds = {r["group"]: r for r in run("kind", history)["rows"]}
    moods = {r["group"]: r for r in run("sentiment", history)["rows"]}
    assert sorted(moods) == ["negative", "neutral"]
    for figure in ("inbound", "first_response", "next_response", "resolution", "response_rate"):
        assert moods["negative"][figure] == kinds["dm"][figure], figure
    assert moods["negative"]["inbound"] + moods["neutral"]["inbound"] == 10
