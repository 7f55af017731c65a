"""Benchmark: `inbox.reports.sla_report` against the same aggregate hand-written for PostgreSQL.

    .venv/bin/python bench/sla_report.py [--tickets 1000000] [--database-url postgresql://...]

Creates a throwaway PostgreSQL database (server from --database-url, else `INBOX_BENCH_PG`,
else the local server), migrates it, generates tickets with their first and next responses
and their inbound and outbound items over --days days with INSERT ... SELECT generate_series,
ANALYZEs, then times a 30-day report grouped by day and by channel: `sla_report` (portable:
VALUES buckets, window-function nearest-rank percentiles) and one hand-written PostgreSQL
statement (AT TIME ZONE, percentile_disc, GROUPING SETS), best of 3 each, and compares their
figures. The database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import date, timedelta

import psycopg

from inbox import create_app, db, migrate, reports
from inbox.models import Channel, Team, User

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TZ = "Europe/Paris"
CHANNELS = 8  # channel n has kind KINDS[n - 1] and belongs to team 1 (n <= 4) or team 2
KINDS = ("dm", "comment", "mention", "review", "email", "dm", "comment", "quote")
AGENTS = 20


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=40, help="days the history spans")
    parser.add_argument("--first-day", default="2026-10-01", help="first day of the history")
    parser.add_argument("--report-days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best kept)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("INBOX_BENCH_PG", DEFAULT_URL),
        help="server URL (any database name is replaced by a throwaway one)",
    )
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    return parser.parse_args(argv)


def server_url(url: str) -> str:
    """Drop the database name and driver suffix: we connect to `postgres` and our own db."""
    url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def make_app(url: str):
    return create_app(
        {"DATABASE_URL": url, "REDIS_URL": None, "JOBS_BACKEND": "eager", "SECRET_KEY": "bench"},
        serve_sockets=False,
    )


def seed_people(app) -> None:
    """Two teams, their channels and the agents, through the ORM (a handful of rows)."""
    with app.app_context(), db.transaction() as s:
        teams = [Team(name="Bench A"), Team(name="Bench B")]
        s.add_all(teams)
        s.flush()
        for n, kind in enumerate(KINDS, 1):
            team = teams[0] if n <= CHANNELS // 2 else teams[1]
            s.add(Channel(type="webhook", name=f"{kind} {n}", team_id=team.id))
        for n in range(1, AGENTS + 1):
            user = User(email=f"agent{n}@bench.example", name=f"Agent {n:02d}", password_hash="x")
            user.role = "agent"
            user.teams.append(teams[n % 2])
            s.add(user)


GENERATE = [
    # one row of random draws per ticket; every table below is filled from it
    """
    CREATE TEMP TABLE gen AS
    SELECT g AS id,
           1 + g %% {channels} AS channel_id,
           %(t0)s::timestamptz + random() * %(span)s * interval '1 second' AS created_at,
           random() < 0.05 AS digest,
           CASE WHEN random() < 0.1 THEN NULL ELSE 1 + floor(random() * {agents})::int END
               AS assignee_id,
           random() AS r_answer, random() AS r_next, random() AS r_close, random() AS r_due,
           0.3 + 0.7 * random() AS business_share,
           -ln(1 - random()) * 1800 AS first_wait, -ln(1 - random()) * 3600 AS next_gap,
           -ln(1 - random()) * 1500 AS next_wait, -ln(1 - random()) * 86400 AS resolution
    FROM generate_series(1, %(n)s) AS g
    """,
    """
    CREATE TEMP TABLE gen2 AS
    SELECT gen.*, (ARRAY{kinds})[channel_id] AS kind, 1 + (channel_id - 1) / {half} AS team_id,
           NOT digest AND r_answer < 0.85 AS answered,
           NOT digest AND r_answer < 0.85 AND r_next < 0.3 AS has_next,
           created_at + first_wait * interval '1 second' AS first_at,
           created_at + (first_wait + next_gap) * interval '1 second' AS next_in,
           created_at + (first_wait + next_gap + next_wait) * interval '1 second' AS next_at,
           CASE (ARRAY{kinds})[channel_id] WHEN 'dm' THEN 3600 WHEN 'review' THEN NULL
               ELSE 7200 END AS target
    FROM gen
    """,
    """
    INSERT INTO tickets (id, channel_id, team_id, thread_key, kind, status, priority,
        assignee_id, is_digest, subject, preview, author_name, item_count, last_activity_at,
        created_at, version, first_response_at, first_response_breached, closed_at,
        resolution_seconds, resolution_business_seconds, resolution_due_at,
        resolution_breached)
    SELECT id, channel_id, team_id, 't' || id, kind,
           CASE WHEN r_close < 0.6 THEN 'closed' ELSE 'open' END, 'normal', assignee_id,
           digest, '', '', '', 1, created_at, created_at, 1,
           CASE WHEN answered THEN first_at END,
           answered AND target IS NOT NULL AND first_wait * business_share > target,
           CASE WHEN r_close < 0.6 THEN created_at + resolution * interval '1 second' END,
           CASE WHEN r_close < 0.6 AND NOT digest THEN resolution END,
           CASE WHEN r_close < 0.6 AND NOT digest THEN resolution * business_share END,
           CASE WHEN r_due < 0.7 THEN created_at + interval '1 day' END,
           r_close < 0.6 AND r_due < 0.7 AND resolution * business_share > 43200
    FROM gen2
    """,
    """
    INSERT INTO sla_responses (ticket_id, team_id, channel_id, kind, priority, which,
        agent_id, waiting_since, responded_at, wall_seconds, business_seconds, target_seconds,
        breached)
    SELECT id, team_id, channel_id, kind, 'normal', 'first', assignee_id, created_at,
           first_at, first_wait, first_wait * business_share, target,
           target IS NOT NULL AND first_wait * business_share > target
    FROM gen2 WHERE answered
    UNION ALL
    SELECT id, team_id, channel_id, kind, 'normal', 'next', assignee_id, next_in, next_at,
           next_wait, next_wait * business_share, target,
           target IS NOT NULL AND next_wait * business_share > target
    FROM gen2 WHERE has_next
    """,
    """
    INSERT INTO items (channel_id, ticket_id, kind, direction, author_user_id, author_name,
        body, hidden, deleted, created_at, received_at)
    SELECT channel_id, id, kind, 'in', NULL::int, '', '', false, false, created_at,
           created_at + interval '2 seconds'
    FROM gen2
    UNION ALL
    SELECT channel_id, id, 'reply', 'out', assignee_id, '', '', false, false, first_at,
           first_at + interval '1 second'
    FROM gen2 WHERE answered
    UNION ALL
    SELECT channel_id, id, kind, 'in', NULL, '', '', false, false, next_in,
           next_in + interval '2 seconds'
    FROM gen2 WHERE has_next
    UNION ALL
    SELECT channel_id, id, 'reply', 'out', assignee_id, '', '', false, false, next_at,
           next_at + interval '1 second'
    FROM gen2 WHERE has_next
    """,
]


def generate(dsn: str, args: argparse.Namespace) -> dict[str, float]:
    """Fill the tables with INSERT ... SELECT; return seconds per step."""
    first = date.fromisoformat(args.first_day)
    t0 = reports.local_midnight(first, reports.zone_named(TZ))
    params = {"t0": t0, "span": args.days * 86400, "n": args.tickets}
    kinds = "[" + ", ".join(f"'{k}'" for k in KINDS) + "]"
    steps = {}
    with psycopg.connect(dsn) as conn:
        conn.execute("SET session_replication_role = replica")  # no FK triggers while loading
        conn.execute("SET synchronous_commit = off")
        conn.execute("SELECT setseed(0.42)")
        for sql, name in zip(
            GENERATE, ("draws", "draws2", "tickets", "responses", "items"), strict=True
        ):
            started = time.perf_counter()
            text = sql.format(channels=CHANNELS, agents=AGENTS, kinds=kinds, half=CHANNELS // 2)
            conn.execute(text, params if "%(" in text else None)
            steps[name] = time.perf_counter() - started
        conn.commit()
        conn.autocommit = True
        started = time.perf_counter()
        conn.execute("ANALYZE")
        steps["analyze"] = time.perf_counter() - started
    return steps


def hand_sql(group: str, clock: str) -> str:
    """The report in one PostgreSQL statement: local dates by AT TIME ZONE, percentile_disc
    (the nearest-rank percentile) and GROUPING SETS for the totals."""
    business = clock == "business"
    resp_v = "business_seconds" if business else "wall_seconds"
    res_v = "resolution_business_seconds" if business else "resolution_seconds"

    def key(ts: str) -> str:
        return f"({ts} AT TIME ZONE %(tz)s)::date" if group == "day" else "channel_id"

    rng = "{ts} >= %(lo)s AND {ts} < %(hi)s"
    return f"""
    WITH it AS (
        SELECT GROUPING(g) AS lvl, g,
               count(*) FILTER (WHERE direction = 'in') AS n,
               count(*) FILTER (WHERE direction = 'out') AS x
        FROM (SELECT {key("created_at")} AS g, direction FROM items
              WHERE {rng.format(ts="created_at")}
                AND (direction = 'in' OR (direction = 'out' AND kind = 'reply'))) AS s
        GROUP BY GROUPING SETS ((g), ())
    ), dur AS (
        SELECT GROUPING(g) AS lvl, g, measure, count(*) AS n, avg(v) AS mean,
               percentile_disc(0.5) WITHIN GROUP (ORDER BY v) AS median,
               percentile_disc(0.9) WITHIN GROUP (ORDER BY v) AS p90,
               count(*) FILTER (WHERE targeted) AS targeted,
               count(*) FILTER (WHERE targeted AND NOT breached) AS met,
               count(*) FILTER (WHERE breached) AS breaches
        FROM (SELECT {key("responded_at")} AS g,
                     CASE which WHEN 'first' THEN 'first_response' ELSE 'next_response' END
                         AS measure,
                     {resp_v} AS v, target_seconds IS NOT NULL AS targeted, breached
              FROM sla_responses WHERE {rng.format(ts="responded_at")}
              UNION ALL
              SELECT {key("closed_at")}, 'resolution', {res_v}, resolution_due_at IS NOT NULL,
                     resolution_breached
              FROM tickets
              WHERE {rng.format(ts="closed_at")} AND status = 'closed' AND NOT is_digest
                AND {res_v} IS NOT NULL) AS s
        GROUP BY GROUPING SETS ((g, measure), (measure))
    ), cr AS (
        SELECT GROUPING(g) AS lvl, g, count(*) AS n, count(first_response_at) AS x
        FROM (SELECT {key("created_at")} AS g, first_response_at FROM tickets
              WHERE {rng.format(ts="created_at")} AND NOT is_digest) AS s
        GROUP BY GROUPING SETS ((g), ())
    )
    SELECT lvl, g::text, 'items', n, x, NULL::float8, NULL::float8, NULL::float8,
           NULL::bigint, NULL::bigint, NULL::bigint FROM it
    UNION ALL
    SELECT lvl, g::text, 'created', n, x, NULL, NULL, NULL, NULL, NULL, NULL FROM cr
    UNION ALL
    SELECT lvl, g::text, measure, n, NULL, mean, median, p90, targeted, met, breaches FROM dur
    """


def flatten_report(report: dict, group: str) -> dict:
    """{(lvl, group, figure): value} of a `sla_report` result, for comparison."""
    out = {}
    rows = [(0, r["group"] if group == "day" else str(r["group_id"]), r) for r in report["rows"]]
    for lvl, g, row in [*rows, (1, None, report["totals"])]:
        out[(lvl, g, "inbound")] = row["inbound"]
        out[(lvl, g, "outbound")] = row["outbound"]
        out[(lvl, g, "response_rate")] = row["response_rate"]
        for measure in reports.MEASURES:
            for stat, value in row[measure].items():
                out[(lvl, g, f"{measure}.{stat}")] = value
    return out


def flatten_hand(rows: list) -> dict:
    out = {}
    for lvl, g, measure, n, x, mean, median, p90, targeted, met, breaches in rows:
        g = None if lvl else g
        if measure == "items":
            out[(lvl, g, "inbound")], out[(lvl, g, "outbound")] = n, x
        elif measure == "created":
            out[(lvl, g, "response_rate")] = round(x / n, 4) if n else None
        else:
            figures = {
                "count": n,
                "median": round(median, 1),
                "mean": round(mean, 1),
                "p90": round(p90, 1),
                "within_target": round(met / targeted, 4) if targeted else None,
                "breaches": breaches,
            }
            for stat, value in figures.items():
                out[(lvl, g, f"{measure}.{stat}")] = value
    return out


def differing(ours: dict, theirs: dict) -> int:
    """How many figures differ (means within 0.1 s: float sums in another order)."""
    count = 0
    for k in ours.keys() | theirs.keys():
        a, b = ours.get(k), theirs.get(k)
        if k not in theirs and a in (0, None):  # an empty group the hand query has no row for
            continue
        if isinstance(a, float) and isinstance(b, float) and k[2].endswith(".mean"):
            count += abs(a - b) > 0.11
        else:
            count += a != b
    return count


def best(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def main(args: argparse.Namespace) -> int:
    server = server_url(args.database_url)
    name = f"inbox_bench_{uuid.uuid4().hex[:8]}"
    dsn = f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    app = None
    try:
        app = make_app(dsn)
        migrate.upgrade(app)
        seed_people(app)
        started = time.perf_counter()
        steps = generate(dsn, args)
        print(f"database      {name}")
        print(
            f"generated     in {time.perf_counter() - started:.1f} s ("
            + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items())
            + ")"
        )
        with psycopg.connect(dsn) as conn:
            counts = {
                t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("tickets", "sla_responses", "items")
            }
        print("rows          " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))

        start = date.fromisoformat(args.first_day) + timedelta(days=5)
        end = start + timedelta(days=args.report_days - 1)
        zone = reports.zone_named(TZ)
        params = {
            "tz": TZ,
            "lo": reports.local_midnight(start, zone),
            "hi": reports.local_midnight(end + timedelta(days=1), zone),
        }
        print(f"range         {start} to {end} ({args.report_days} local days, {TZ})")
        with app.app_context(), psycopg.connect(dsn) as conn:
            for group in ("day", "channel"):

                def portable(group=group):
                    with db.transaction() as s:
                        return reports.sla_report(
                            s, start=start, end=end, group_by=group, tz=TZ, clock="business"
                        )

                def hand(group=group):
                    return conn.execute(hand_sql(group, "business"), params).fetchall()

                portable()  # warm the cache for both
                ours_s, ours = best(portable, args.repeat)
                hand_s, theirs = best(hand, args.repeat)
                wrong = differing(flatten_report(ours, group), flatten_hand(theirs))
                print(
                    f"group_by {group:<8} sla_report {ours_s * 1000:8.0f} ms   hand SQL"
                    f" {hand_s * 1000:8.0f} ms   ratio {ours_s / hand_s:.2f}   groups"
                    f" {len(ours['rows'])}   differing figures {wrong}"
                )
                conn.rollback()
        return 0
    finally:
        if app is not None:
            app.extensions["db_engine"].dispose()
        if args.keep:
            print(f"kept          {dsn}")
        else:
            with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            print(f"dropped       {name}")


if __name__ == "__main__":
    sys.exit(main(parse_args()))
