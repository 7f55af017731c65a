"""Benchmark: ingest N demo items through ingest_batch, against a bare COPY of the same rows.

    .venv/bin/python bench/ingest.py [--items 100000] [--database-url postgresql://...]

Creates a throwaway PostgreSQL database, migrates it, connects a demo channel, generates the
items, ingests them 500 at a time (one transaction each, as the ingest job does), then COPYs
the very rows ingest wrote into `items_copy` (the items table's columns, defaults and indexes;
no foreign keys) in batches of the same size, and drops the database.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from connectors.demo import generate
from inbox import create_app, db, ingest, migrate
from inbox.channels import create_channel
from inbox.seed import team_named

COUNTED = ("items", "tickets", "contacts", "identities", "events")

try:
    from tqdm import tqdm
except ImportError:  # an optional nicety: no new dependency for a progress bar
    tqdm = None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000, help="items to ingest")
    parser.add_argument("--batch", type=int, default=500, help="items per ingest_batch call")
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432",
        help="server URL (any database name is replaced by a throwaway one)",
    )
    parser.add_argument("--seed", type=int, default=7, help="demo generator seed")
    parser.add_argument(
        "--no-publish", action="store_true", help="skip building the pushed payloads"
    )
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="cProfile the first N batches"
    )
    return parser.parse_args(argv)


def server_url(url: str) -> str:
    """Drop the database name and driver suffix: we connect to `postgres` and our own db."""
    url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def batches(values: list, size: int) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def progress(iterable: Iterable, total: int, label: str) -> Iterable:
    if tqdm is not None:
        return tqdm(iterable, total=total, desc=label, unit="batch", leave=False)
    return iterable


def make_app(url: str, publish: bool):
    """The app as a worker has it; the emit is a no-op so publishing costs what it builds."""
    app = create_app(
        {
            "DATABASE_URL": url,
            "REDIS_URL": None,
            "JOBS_BACKEND": "eager",
            "SECRET_KEY": "bench-secret-key",
        },
        serve_sockets=False,
    )
    if publish:
        app.extensions["inbox_emit"] = lambda *_args, **_kwargs: None
    return app


def run_ingest(channel_id: int, items: list, size: int, profile_batches: int) -> list[float]:
    """Ingest all items in batches; return each batch's seconds."""
    total = (len(items) + size - 1) // size
    profiler = cProfile.Profile() if profile_batches else None
    durations: list[float] = []
    reported = 0
    for number, batch in enumerate(progress(batches(items, size), total, "ingest"), 1):
        started = time.perf_counter()
        if profiler is not None and number <= profile_batches:
            profiler.runcall(ingest.ingest_batch, channel_id, batch)
        else:
            ingest.ingest_batch(channel_id, batch)
        durations.append(time.perf_counter() - started)
        if tqdm is None and number * 10 // total > reported:
            reported = number * 10 // total
            recent = durations[-max(1, total // 10) :]
            done = min(number * size, len(items))
            print(
                f"  ingested {done:>9,} items in {sum(durations):6.1f} s"
                f" (now {size * len(recent) / sum(recent):,.0f} items/s)",
                flush=True,
            )
    if profiler is not None:
        print(f"\ncProfile of the first {profile_batches} batches (cumulative, top 30):")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        print("cProfile (own time, top 25):")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return durations


def run_copy(dsn: str, size: int) -> dict[str, tuple[int, float]]:
    """COPY the rows ingest wrote into `<table>_copy` tables, `size` rows per transaction.

    Returns {table: (rows, seconds)}. The copies have the same columns, defaults and indexes
    (LIKE ... INCLUDING ALL) but no foreign keys.
    """
    timings = {}
    with psycopg.connect(dsn) as conn:
        for table in COUNTED:
            conn.execute(f"CREATE TABLE {table}_copy (LIKE {table} INCLUDING ALL)")
            columns = conn.execute(
                "SELECT column_name, udt_name FROM information_schema.columns"
                " WHERE table_name = %s AND column_name <> 'id' ORDER BY ordinal_position",
                (table,),
            ).fetchall()
            names = ", ".join(name for name, _type in columns)
            as_json = {i for i, (_name, udt) in enumerate(columns) if udt in ("json", "jsonb")}
            rows = conn.execute(f"SELECT {names} FROM {table} ORDER BY id").fetchall()
            conn.commit()
            started = time.perf_counter()
            for batch in batches(rows, size):
                with (
                    conn.cursor() as cur,
                    cur.copy(f"COPY {table}_copy ({names}) FROM STDIN") as cp,
                ):
                    for row in batch:
                        cp.write_row([Jsonb(v) if i in as_json else v for i, v in enumerate(row)])
                conn.commit()
            timings[table] = (len(rows), time.perf_counter() - started)
    return timings


def counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in COUNTED
        }


def report(args: argparse.Namespace, durations: list[float], copies: dict, rows: dict) -> None:
    """Print the figures: ingest and COPY rates, their ratios, the row counts."""
    ingest_s = sum(durations)
    ingest_rate = args.items / ingest_s
    tenth = max(1, len(durations) // 10)
    first, last = durations[:tenth], durations[-tenth:]
    items_rows, items_s = copies["items"]
    all_rows = sum(n for n, _ in copies.values())
    all_s = sum(s for _, s in copies.values())
    print(f"batch size    {args.batch} items per ingest_batch (one transaction each)")
    print(f"publish       {'off' if args.no_publish else 'payloads built, emit no-op'}")
    print(f"ingest_batch  {args.items:,} items in {ingest_s:.1f} s = {ingest_rate:,.0f} items/s")
    print(
        f"              batch time: first tenth {1000 * sum(first) / len(first):.0f} ms,"
        f" last tenth {1000 * sum(last) / len(last):.0f} ms"
    )
    print(
        f"bare COPY     items only: {items_rows:,} rows in {items_s:.1f} s"
        f" = {items_rows / items_s:,.0f} rows/s"
    )
    print(
        f"              all rows ingest wrote ({', '.join(copies)}): {all_rows:,} rows in"
        f" {all_s:.1f} s = {args.items / all_s:,.0f} items/s"
    )
    print(
        f"ratio         COPY items only is {items_rows / items_s / ingest_rate:.1f}x ingest_batch;"
        f" COPY of all its rows is {args.items / all_s / ingest_rate:.1f}x"
    )
    print("rows          " + ", ".join(f"{table} {n:,}" for table, n in rows.items()))


def main(args: argparse.Namespace) -> int:
    """Run the benchmark and print its figures; the database is dropped in any case."""
    server = server_url(args.database_url)
    name = f"inbox_bench_{uuid.uuid4().hex[:8]}"
    dsn = f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    app = None
    try:
        app = make_app(dsn, publish=not args.no_publish)
        migrate.upgrade(app)
        with app.app_context():
            team = team_named("Bench")
            channel = create_channel(
                {"type": "demo", "name": "Bench demo", "team_id": team.id, "config": {}}
            )
            channel_id = channel.id
            db.session().close()

        end = datetime.now(UTC)
        started = time.perf_counter()
        items = generate(args.seed, 1, args.items, end - timedelta(days=30), end)
        generated = time.perf_counter() - started
        print(f"database      {name}")
        print(f"generated     {len(items):,} demo items in {generated:.1f} s")

        with app.app_context():
            durations = run_ingest(channel_id, items, args.batch, args.profile)
        app.extensions["db_engine"].dispose()
        rows = counts(dsn)
        report(args, durations, run_copy(dsn, args.batch), rows)
        return 0
    finally:
        if app is not None:
            app.extensions["db_engine"].dispose()
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        print(f"dropped       {name}")


if __name__ == "__main__":
    sys.exit(main(parse_args()))
