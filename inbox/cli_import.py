"""`inbox import`: load a past history (JSON Lines) into the inbox; see docs/import-format.md.

Registered on the `inbox` command by `main.add_command(import_command, "import")`.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

import click
from flask.cli import with_appcontext

from inbox import importer

MAX_SHOWN_ERRORS = 20


@click.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option(
    "--channel", metavar="NAME_OR_ID", help='Channel of the records that name no "channel".'
)
@click.option(
    "--batch",
    default=500,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Items per ingest call; replies and status changes per transaction.",
)
@click.option(
    "--dry-run", is_flag=True, help="Check the file and count its records; write nothing."
)
@with_appcontext
def import_command(file: TextIO, channel: str | None, batch: int, dry_run: bool) -> None:
    """Import past messages, our replies and status changes from a JSON Lines FILE.

    Every line is checked first: one bad line and nothing is imported (exit code 2).
    Importing the same file again changes nothing.
    """
    started = time.monotonic()
    try:
        history = importer.read_history(file, default_channel=channel)
    except importer.InvalidHistory as exc:
        for line, reason in exc.errors[:MAX_SHOWN_ERRORS]:
            click.echo(f"line {line}: {reason}" if line else reason, err=True)
        if len(exc.errors) > MAX_SHOWN_ERRORS:
            click.echo(f"... and {len(exc.errors) - MAX_SHOWN_ERRORS} more bad lines", err=True)
        click.echo(f"{len(exc.errors)} bad line(s): nothing was imported", err=True)
        sys.exit(2)
    items = history.count("item")
    counts = (
        f"{items} items ({history.echoes} echoes of replies merged), "
        f"{history.count('reply')} replies, {history.count('status')} status changes "
        f"on {len({r.channel_id for r in history.records})} channel(s)"
    )
    if dry_run:
        stored = importer.stored_items(history)
        click.echo(f"dry run: the file is valid: {counts}")
        click.echo(f"{stored} of the {items} items are already stored; nothing was written")
        return
    with click.progressbar(length=len(history.records), label="importing") as bar:
        stats = importer.import_history(history, batch=batch, progress=bar.update)
    stats.seconds = time.monotonic() - started
    click.echo(stats.summary())
