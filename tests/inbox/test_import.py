"""`inbox import`: a week of history through ingest, replies, status changes and SLA clocks.

tests/data/history.jsonl holds one week (Monday 10 to Monday 17 March 2025, no French public
holiday, Paris on CET = UTC+1) on two channels, answered by two CMs. Default policy: business
hours Monday–Friday 09:00–18:00 Europe/Paris; DMs 60 min, comments and mentions 120 min,
reviews 24 h; no resolution target. Hand-computed facts (business seconds / wall seconds):

- comment c1 (Bruno Mon 11:00, Léa 11:30 joins it), Hugo replies 14:30: first response
  3 h 30 = 12600 / 12600 > 7200, breached; closed 15:00: resolution 14400 / 14400.
- review gr-1 (Chloé Tue 20:00, after hours), Camille replies Wed 10:00: first response
  1 h = 3600 (Wed 09:00–10:00) / 14 h = 50400, within 24 h; closed 10:05 (listed before the
  reply in the file: records are sorted): resolution 65 min = 3900 / 50700.
- DM David Wed 16:00, Hugo 16:30: first 1800 / 1800; closed 16:45. David again Thu 09:10:
  the ticket was closed 16 h 25 before, inside the 7-day window then, so it reopens (not a new
  ticket); Hugo 11:10: next response 2 h = 7200 > 3600, breached; closed 11:30: resolution from
  Wed 16:00 = 2 h (Wed) + 2 h 30 (Thu) = 16200 / 19 h 30 = 70200.
- DM Ana Fri 17:50, Camille Mon 09:20: first response 10 min (Fri) + 20 min (Mon) = 1800 /
  2 d 15 h 30 = 228600. Ana again Mon 09:40; pending 10:00–14:00 (4 h = 14400 paused); Camille
  14:30: next response 4 h 50 − 4 h = 50 min = 3000 / 17400. Closed 15:00: resolution
  10 min + 6 h − 4 h paused = 7800 / 2 d 21 h 10 = 249000. The outbound echo of Camille's first
  reply (same external id ig-r4) is merged into the reply record.
- mention Emma Fri 10:00 (written 09:00Z), never answered: due Fri 12:00 (11:00Z), long past:
  settled quietly as breached, no event.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.cli import ScriptInfo

from inbox import db, ingest, sla
from inbox.cli_import import import_command
from inbox.models import Contact, Event, Identity, Item, Outbox, SlaResponse, Ticket, User
from tests.support import count

HISTORY = Path(__file__).resolve().parent.parent / "data" / "history.jsonl"


@pytest.fixture
def invoke(app):
    runner = app.test_cli_runner()

    def run(*args):
        return runner.invoke(
            import_command, [str(a) for a in args], obj=ScriptInfo(create_app=lambda: app)
        )

    return run


@pytest.fixture
def setup(world):
    world.user("camille@example.com")
    world.user("hugo@example.com")
    instagram = world.channel(name="Instagram")
    reviews = world.channel(name="Avis Google")
    return instagram.id, reviews.id


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def ticket_by_key(key: str) -> Ticket:
    with db.transaction() as s:
        return s.scalars(sa.select(Ticket).where(Ticket.thread_key == key)).one()


def responses() -> dict[tuple[str, str], SlaResponse]:
    with db.transaction() as s:
        rows = s.execute(
            sa.select(Ticket.thread_key, SlaResponse).join(
                Ticket, Ticket.id == SlaResponse.ticket_id
            )
        ).all()
    return {(key, r.which): r for key, r in rows}


def snapshot() -> tuple:
    """Every table the import writes, and the tickets' changing columns."""
    counts = tuple(
        count(model) for model in (Item, Ticket, Event, Outbox, SlaResponse, Contact, Identity)
    )
    with db.transaction() as s:
        tickets = s.execute(
            sa.select(
                Ticket.id,
                Ticket.version,
                Ticket.status,
                Ticket.closed_at,
                Ticket.sla_state,
                Ticket.sla_next_check_at,
                Ticket.first_response_breached,
                Ticket.resolution_business_seconds,
            ).order_by(Ticket.id)
        ).all()
    return counts, [tuple(t) for t in tickets]


def test_import_a_week_of_history(invoke, setup):
    result = invoke(HISTORY)
    assert result.exit_code == 0, result.output
    assert (
        "items: 8 created, 0 edited, 0 unchanged (1 echoes merged);"
        " replies: 6 created, 0 unchanged; status changes: 7 applied, 0 unchanged;"
        " tickets: 5 created, 1 reopened; past-due clocks settled: 1;"
    ) in result.output
    assert (count(Ticket), count(Item), count(Outbox)) == (5, 14, 6)
    with db.transaction() as s:
        assert set(s.scalars(sa.select(Outbox.state))) == {"sent"}, "never sent again"
        replies = s.execute(
            sa.select(Item.external_id, User.email)
            .join(User, User.id == Item.author_user_id)
            .where(Item.kind == "reply", Item.direction == "out")
        ).all()
    assert sorted(replies, key=str) == sorted(
        [
            (None, "hugo@example.com"),
            (None, "hugo@example.com"),
            ("ig-r3", "hugo@example.com"),
            ("ig-r4", "camille@example.com"),
            ("ig-r5", "camille@example.com"),
            (None, "camille@example.com"),
        ],
        key=str,
    )


def test_first_response_is_measured_in_business_time(invoke, setup):
    assert invoke(HISTORY).exit_code == 0
    found = responses()
    ana = found[("dm:dm-ana", "first")]
    assert ana.responded_at == utc("2025-03-17T09:20:00+01:00")
    assert (ana.business_seconds, ana.wall_seconds, ana.target_seconds) == (1800, 228600, 3600)
    assert not ana.breached
    comment = found[("comment:c1", "first")]
    assert (comment.business_seconds, comment.target_seconds, comment.breached) == (
        12600,
        7200,
        True,
    )
    review = found[("review:gr-1", "first")]
    assert (review.business_seconds, review.wall_seconds, review.breached) == (3600, 50400, False)
    with db.transaction() as s:
        hugo = s.scalar(sa.select(User.id).where(User.email == "hugo@example.com"))
    assert comment.agent_id == hugo
    assert ticket_by_key("comment:c1").first_response_breached
    assert not ticket_by_key("dm:dm-ana").first_response_breached


def test_pending_time_is_not_counted(invoke, setup):
    assert invoke(HISTORY).exit_code == 0
    again = responses()[("dm:dm-ana", "next")]
    assert (again.business_seconds, again.wall_seconds, again.breached) == (3000, 17400, False)
    ticket = ticket_by_key("dm:dm-ana")
    assert ticket.resolution_business_seconds == 7800
    assert ticket.resolution_seconds == 249000


def test_resolution_is_measured_at_the_last_close(invoke, setup):
    assert invoke(HISTORY).exit_code == 0
    david = ticket_by_key("dm:dm-david")
    assert david.status == "closed" and david.closed_at == utc("2025-03-13T11:30:00+01:00")
    assert (david.resolution_business_seconds, david.resolution_seconds) == (16200, 70200)
    assert david.item_count == 2 and david.previous_ticket_id is None, "reopened as it was then"
    follow_up = responses()[("dm:dm-david", "next")]
    assert (follow_up.business_seconds, follow_up.breached) == (7200, True)
    review = ticket_by_key("review:gr-1")
    assert review.closed_at == utc("2025-03-12T10:05:00+01:00")
    assert (review.resolution_business_seconds, review.resolution_seconds) == (3900, 50700)


def test_past_due_clocks_are_settled_without_breach_events(invoke, setup):
    assert invoke(HISTORY).exit_code == 0
    mention = ticket_by_key("conv:post-9:u-emma")
    assert mention.status == "open" and mention.first_response_at is None
    assert mention.first_response_due_at == utc("2025-03-14T11:00:00Z")
    assert mention.first_response_breached
    assert mention.sla_state["breached"]["first_response"] == "2025-03-14T11:00:00+00:00"
    assert mention.sla_next_check_at is None
    assert sla.sweep() == 0, "nothing left for the live sweep to raise"
    with db.transaction() as s:
        raised = s.scalar(
            sa.select(sa.func.count())
            .select_from(Event)
            .where(Event.type.in_(["sla_breached", "sla_warning"]))
        )
    assert raised == 0


def test_importing_twice_changes_nothing(invoke, setup):
    assert invoke(HISTORY).exit_code == 0
    before = snapshot()
    again = invoke(HISTORY)
    assert again.exit_code == 0, again.output
    assert (
        "items: 0 created, 0 edited, 8 unchanged (1 echoes merged);"
        " replies: 0 created, 6 unchanged; status changes: 0 applied, 7 unchanged;"
        " tickets: 0 created, 0 reopened; past-due clocks settled: 0;"
    ) in again.output
    assert snapshot() == before


def test_snoozed_time_is_paused_and_kept(invoke, setup, tmp_path):
    path = tmp_path / "snooze.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(record)
            for record in [
                {
                    "type": "item",
                    "channel": "Instagram",
                    "external_id": "ig-z1",
                    "kind": "dm",
                    "thread_id": "dm-zoe",
                    "author": {"id": "u-zoe", "name": "Zoé"},
                    "body": "Un code promo ?",
                    "created_at": "2025-03-10T10:00:00+01:00",
                },
                {
                    "type": "status",
                    "channel": "Instagram",
                    "thread_id": "dm-zoe",
                    "status": "snoozed",
                    "until": "2025-03-11T09:00:00+01:00",
                    "at": "2025-03-10T10:30:00+01:00",
                },
                {
                    "type": "reply",
                    "channel": "Instagram",
                    "thread_id": "dm-zoe",
                    "text": "BIENVENUE10",
                    "agent": "camille@example.com",
                    "at": "2025-03-11T09:30:00+01:00",
                },
            ]
        ),
        encoding="utf-8",
    )
    result = invoke(path)
    assert result.exit_code == 0, result.output
    # waited Mon 10:00-10:30 (1800), snoozed 10:30 until the reply Tue 09:30: 8 h not counted
    [answer] = responses().values()
    assert (answer.business_seconds, answer.wall_seconds) == (1800, 84600)
    ticket = ticket_by_key("dm:dm-zoe")
    assert ticket.status == "snoozed" and ticket.snoozed_until == utc("2025-03-11T08:00:00Z")
    with db.transaction() as s:
        kinds = s.scalars(
            sa.select(Event.type).where(Event.type.in_(["status_changed", "snoozed"]))
        ).all()
    assert sorted(kinds) == ["snoozed", "status_changed"]
    before = snapshot()
    assert "status changes: 0 applied, 1 unchanged" in invoke(path).output
    assert snapshot() == before


def test_a_bad_file_imports_nothing_and_names_its_lines(invoke, setup, tmp_path):
    lines = HISTORY.read_text(encoding="utf-8").splitlines()
    bad = [
        lines[1],  # a good item: still not imported
        '{"type": "item", "channel": "Instagram", "external_id": "x"',
        '{"type": "like", "channel": "Instagram"}',
        lines[1].replace('"Instagram"', '"MySpace"'),
        lines[3].replace("hugo@example.com", "nobody@example.com"),
        lines[1].replace('"2025-03-10T11:00:00+01:00"', '"2025-03-10T11:00:00"'),
        lines[4].replace('"c1"', '"c404"'),
        lines[4].replace('"2025-03-10T15:00:00+01:00"', '"2025-03-10 15h"'),
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(bad) + "\n", encoding="utf-8")
    result = invoke(path)
    assert result.exit_code == 2
    output = result.output
    assert "line 2: malformed JSON" in output
    assert "line 3: unknown type 'like'" in output
    assert "line 4: unknown channel 'MySpace'" in output
    assert "line 5: unknown agent e-mail 'nobody@example.com'" in output
    assert "line 6: invalid item: created_at" in output
    assert "line 7: no earlier inbound item with thread_id 'c404'" in output
    assert "line 8: at: '2025-03-10 15h' is not an ISO 8601 time" in output
    assert "line 1:" not in output
    assert "7 bad line(s): nothing was imported" in output
    assert (count(Item), count(Ticket), count(Event), count(Contact)) == (0, 0, 0, 0)


def test_at_most_twenty_bad_lines_are_shown(invoke, setup, tmp_path):
    path = tmp_path / "garbage.jsonl"
    path.write_text("not json\n" * 25, encoding="utf-8")
    result = invoke(path)
    assert result.exit_code == 2
    assert "line 20: malformed JSON" in result.output and "line 21:" not in result.output
    assert "... and 5 more bad lines" in result.output


def test_a_time_without_offset_is_refused(invoke, setup, tmp_path):
    lines = HISTORY.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "naive.jsonl"
    path.write_text(
        "\n".join([lines[1], lines[3].replace("14:30:00+01:00", "14:30:00")]), encoding="utf-8"
    )
    result = invoke(path)
    assert result.exit_code == 2
    assert "line 2: at: '2025-03-10T14:30:00' has no offset" in result.output


def test_items_are_ingested_in_batches_not_row_by_row(invoke, setup, monkeypatch):
    calls = []
    real = ingest.ingest_batch

    def counting(channel_id, items, **kw):
        calls.append(len(items))
        return real(channel_id, items, **kw)

    monkeypatch.setattr(ingest, "ingest_batch", counting)
    assert invoke(HISTORY).exit_code == 0
    # round 1: the first message of every conversation (5 on Instagram, the review); round 2,
    # after the replies and closes they wait for: David's and Ana's second messages
    assert calls == [5, 1, 2]


def test_batch_option_caps_each_ingest_call(invoke, setup, monkeypatch):
    calls = []
    real = ingest.ingest_batch
    monkeypatch.setattr(
        ingest, "ingest_batch", lambda c, items, **kw: calls.append(len(items)) or real(c, items)
    )
    result = invoke(HISTORY, "--batch", 2)
    assert result.exit_code == 0, result.output
    assert calls == [2, 2, 1, 1, 2] and "replies: 6 created" in result.output


def test_dry_run_counts_and_writes_nothing(invoke, setup):
    result = invoke(HISTORY, "--dry-run")
    assert result.exit_code == 0, result.output
    assert (
        "8 items (1 echoes of replies merged), 6 replies, 7 status changes on 2 channel(s)"
        in result.output
    )
    assert "0 of the 8 items are already stored; nothing was written" in result.output
    assert (count(Item), count(Ticket), count(Event), count(Outbox)) == (0, 0, 0, 0)


def test_channel_option_names_the_channel_of_records_without_one(invoke, setup, tmp_path):
    path = tmp_path / "one-channel.jsonl"
    lines = HISTORY.read_text(encoding="utf-8").splitlines()[1:5]
    path.write_text(
        "\n".join(line.replace('"channel": "Instagram", ', "") for line in lines),
        encoding="utf-8",
    )
    assert invoke(path).exit_code == 2, "no channel and no --channel"
    unknown = invoke(path, "--channel", "MySpace")
    assert unknown.exit_code == 2 and "--channel: unknown channel 'MySpace'" in unknown.output
    result = invoke(path, "--channel", setup[0], "--batch", 1)
    assert result.exit_code == 0, result.output
    assert "items: 2 created" in result.output and "status changes: 1 applied" in result.output
    assert ticket_by_key("comment:c1").status == "closed"


def test_sla_report_over_the_imported_week(invoke, setup):
    from inbox.reports import sla_report

    assert invoke(HISTORY).exit_code == 0
    with db.transaction() as s:
        totals = sla_report(s, start=date(2025, 3, 10), end=date(2025, 3, 17), group_by="day")[
            "totals"
        ]
        by_agent = sla_report(s, start=date(2025, 3, 10), end=date(2025, 3, 17), group_by="agent")
    assert (totals["inbound"], totals["outbound"]) == (8, 6)
    # first responses 1800, 1800, 3600, 12600: nearest-rank median 1800, p90 12600
    assert totals["first_response"] == {
        "count": 4,
        "median": 1800.0,
        "mean": 4950.0,
        "p90": 12600.0,
        "within_target": 0.75,
        "breaches": 1,
    }
    assert totals["next_response"] == {
        "count": 2,
        "median": 3000.0,
        "mean": 5100.0,
        "p90": 7200.0,
        "within_target": 0.5,
        "breaches": 1,
    }
    # resolutions 3900, 7800, 14400, 16200; no policy sets a resolution target
    assert totals["resolution"] == {
        "count": 4,
        "median": 7800.0,
        "mean": 10575.0,
        "p90": 16200.0,
        "within_target": None,
        "breaches": 0,
    }
    assert totals["response_rate"] == 0.8, "4 of 5 tickets answered (not the mention)"
    rows = {row["group"]: row for row in by_agent["rows"]}
    assert list(rows) == ["Camille", "Hugo", "(unassigned)"]
    camille, hugo, unassigned = rows["Camille"], rows["Hugo"], rows["(unassigned)"]
    assert (camille["outbound"], hugo["outbound"]) == (3, 3)
    assert camille["first_response"] | {"mean": None} == {
        "count": 2,
        "median": 1800.0,
        "mean": None,
        "p90": 3600.0,
        "within_target": 1.0,
        "breaches": 0,
    }
    assert camille["first_response"]["mean"] == 2700.0
    assert (hugo["first_response"]["count"], hugo["first_response"]["mean"]) == (2, 7200.0)
    assert hugo["first_response"]["breaches"] == 1 and hugo["first_response"]["p90"] == 12600.0
    assert (camille["next_response"]["median"], hugo["next_response"]["median"]) == (3000.0, 7200.0)
    assert (hugo["next_response"]["within_target"], hugo["next_response"]["breaches"]) == (0.0, 1)
    # the history assigns nobody: inbound items and resolutions go to the assignee, none here
    assert (unassigned["inbound"], unassigned["outbound"]) == (8, 0)
    assert unassigned["resolution"]["count"] == 4 and unassigned["response_rate"] == 0.8
