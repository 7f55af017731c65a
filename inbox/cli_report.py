"""`inbox report sla`: the SLA report in the terminal, as an aligned table, CSV or JSON.

Registered on the `inbox` command by `main.add_command(report)` in `inbox/cli.py`.
"""

from __future__ import annotations

import json
import sys

import click
from flask.cli import with_appcontext

from inbox import db, reports
from inbox.errors import ApiError

DATE = click.DateTime(["%Y-%m-%d"])
# (title, measure or None, stat, kind of value) of the table's columns after the group
TABLE_COLUMNS = (
    ("in", None, "inbound", "count"),
    ("out", None, "outbound", "count"),
    ("1st n", "first_response", "count", "count"),
    ("1st median", "first_response", "median", "duration"),
    ("1st p90", "first_response", "p90", "duration"),
    ("1st on time", "first_response", "within_target", "share"),
    ("1st breaches", "first_response", "breaches", "count"),
    ("next n", "next_response", "count", "count"),
    ("next median", "next_response", "median", "duration"),
    ("next p90", "next_response", "p90", "duration"),
    ("next on time", "next_response", "within_target", "share"),
    ("res n", "resolution", "count", "count"),
    ("res median", "resolution", "median", "duration"),
    ("res p90", "resolution", "p90", "duration"),
    ("res on time", "resolution", "within_target", "share"),
    ("answered", None, "response_rate", "share"),
)


def duration(seconds: float | None) -> str:
    """A duration for people: "45 s", "42 min", "1 h 05 min", "3 d 2 h"; "-" when unknown."""
    if seconds is None:
        return "-"
    if seconds < 59.5:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    hours = round(seconds / 3600)
    return f"{hours // 24} d {hours % 24} h"


def _show(value, kind: str) -> str:
    if kind == "duration":
        return duration(value)
    if kind == "share":
        return "-" if value is None else f"{value * 100:.1f} %"
    return str(value)


def table(report: dict) -> str:
    """The report as an aligned text table, its totals last."""
    titles = [report["group_by"], *(c[0] for c in TABLE_COLUMNS)]
    lines = []
    for row in [*report["rows"], report["totals"] | {"group": "total"}]:
        cells = [str(row["group"])]
        for _title, measure, stat, kind in TABLE_COLUMNS:
            cells.append(_show(row[measure][stat] if measure else row[stat], kind))
        lines.append(cells)
    widths = [max(len(r[i]) for r in [titles, *lines]) for i in range(len(titles))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [line(titles), rule, *(line(c) for c in lines[:-1]), rule, line(lines[-1])]
    head = (
        f"SLA report {report['from']} to {report['to']} ({report['timezone']}),"
        f" {report['clock']} time"
    )
    return "\n".join([head, "", *out])


@click.group()
def report() -> None:
    """Reports on response times and traffic."""


@report.command("sla")
@click.option("--from", "start", required=True, type=DATE, help="First local day, YYYY-MM-DD.")
@click.option("--to", "end", required=True, type=DATE, help="Last local day, included.")
@click.option("--group-by", type=click.Choice(reports.GROUPS), default="day", show_default=True)
@click.option("--clock", type=click.Choice(reports.CLOCKS), default="business", show_default=True)
@click.option("--tz", default="Europe/Paris", show_default=True, help="IANA timezone.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@with_appcontext
def sla(start, end, group_by: str, clock: str, tz: str, fmt: str) -> None:
    """SLA figures of every team for the local days --from to --to."""
    try:
        result = reports.sla_report(
            db.session(),
            start=start.date(),
            end=end.date(),
            group_by=group_by,
            tz=tz,
            clock=clock,
        )
    except ApiError as exc:
        option = f"--{exc.field.replace('_', '-')}: " if exc.field else ""
        click.echo(f"error: {option}{exc.message}", err=True)
        sys.exit(2)
    if fmt == "json":
        click.echo(json.dumps(result, indent=2))
    elif fmt == "csv":
        click.echo(reports.to_csv(result), nl=False)
    else:
        click.echo(table(result))
