"""The `inbox` command: run, worker, clock, db upgrade, users, channels."""

from __future__ import annotations

import json
import os
import sys

import click
from flask.cli import FlaskGroup, with_appcontext

from inbox import create_app
from inbox.cli_import import import_command
from inbox.cli_report import report


def _make_app():
    return create_app()


@click.group(cls=FlaskGroup, create_app=_make_app, add_default_commands=False)
def main() -> None:
    """Community Inbox: one live ticket stream for community managers."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--demo",
    is_flag=True,
    help="Seed demo users and run the platform simulators, with live traffic, as channels.",
)
@with_appcontext
def run(host: str, port: int, demo: bool) -> None:
    """Run the whole inbox in one process (embedded: web, jobs and schedule)."""
    from flask import current_app

    from inbox import analysis, migrate, sandboxes, seed

    app = current_app._get_current_object()
    migrate.upgrade(app)
    click.echo("Loading the language and sentiment models…")
    analysis.warm_up()
    if demo:
        for line in seed.demo():
            click.echo(line)
        running = sandboxes.start(seed.team_named(seed.DEMO_TEAM).id, f"http://{host}:{port}")
        click.echo(f"Platform simulators: {', '.join(r.type for r in running)}")
    backend = app.extensions["jobs"]
    if hasattr(backend, "start_schedule"):
        backend.start_schedule()
    click.echo(f"Community Inbox on http://{host}:{port}/  (Ctrl+C to stop)")
    # FlaskGroup sets this to stop app.run() inside CLI commands; serving is this command's job
    os.environ.pop("FLASK_RUN_FROM_CLI", None)
    app.extensions["socketio"].run(app, host=host, port=port, allow_unsafe_werkzeug=True)


@main.command()
@click.option("--queue", "queues", multiple=True, help="Queues to listen to (default: all).")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker(queues: tuple[str, ...], burst: bool) -> None:
    """Run an RQ worker (scaled mode) that also runs delayed jobs."""
    from inbox.worker import run_worker

    run_worker(create_app(serve_sockets=False), queues, burst)


@main.command()
def clock() -> None:
    """Enqueue the periodic jobs of the schedule (scaled mode: run exactly one)."""
    from inbox.worker import run_clock

    run_clock(create_app(serve_sockets=False))


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Bring the database schema up to date."""
    from flask import current_app

    from inbox import migrate

    migrate.upgrade(current_app._get_current_object())
    click.echo("database is up to date")


@main.group()
def users() -> None:
    """People who use the inbox."""


@users.command("create")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["admin", "manager", "agent"]), default="agent")
@click.option("--team", "teams", multiple=True, help="Team name (created if missing).")
@click.password_option()
@with_appcontext
def users_create(email: str, name: str, role: str, teams: tuple[str, ...], password: str) -> None:
    """Create a user."""
    from inbox.auth import create_user

    user = create_user(email, name, password, role, teams)
    click.echo(f"created user {user.id} <{user.email}> ({user.role})")


@main.group()
def channels() -> None:
    """Connected accounts."""


@channels.command("add")
@click.argument("type_", metavar="TYPE")
@click.option("--name", required=True)
@click.option("--team", required=True, help="Team name (created if missing).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Config value.")
@click.option("--poll-interval", default=60, show_default=True, type=int)
@with_appcontext
def channels_add(type_: str, name: str, team: str, settings: tuple[str, ...], poll_interval: int):
    """Connect a channel; the connector's schema checks its config."""
    from inbox.channels import channel_out, create_channel
    from inbox.errors import ApiError
    from inbox.seed import team_named

    config = {}
    for pair in settings:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--set")
        config[key] = value
    data = {"type": type_, "name": name, "team_id": team_named(team).id, "config": config}
    try:
        channel = create_channel(data | {"poll_interval": poll_interval})
    except ApiError as exc:
        click.echo(f"error: {exc.field}: {exc.message}", err=True)
        sys.exit(2)
    click.echo(json.dumps(channel_out(channel), default=str, indent=2))


@channels.command("test")
@click.argument("channel_id", type=int)
@with_appcontext
def channels_test(channel_id: int) -> None:
    """Call the platform once with a channel's credentials and say what is wrong."""
    from inbox.channels import check_channel, get_channel
    from inbox.errors import ApiError

    try:
        result = check_channel(get_channel(channel_id))
    except ApiError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(2)
    if result["ok"]:
        click.echo(f"ok: {result['message']}")
    else:
        click.echo(f"failed ({result['error']}): {result['message']}", err=True)
        sys.exit(1)


@channels.command("types")
@with_appcontext
def channels_types() -> None:
    """List the connector types, what they can do and their config keys (* = required)."""
    from inbox.channels import describe_types

    for t in describe_types():
        ways = ", ".join(
            w for w, on in (("polls", t["polls"]), ("webhooks", t["receives_webhooks"])) if on
        )
        click.echo(f"{t['type']:<15} {t['label']} ({ways or 'outbound only'})")
        click.echo(f"{'':<15} can: {', '.join(t['capabilities']) or 'read only'}")
        keys = [
            f["name"] + ("*" if f["required"] else "") + (" (secret)" if f["secret"] else "")
            for f in t["config"]
        ]
        click.echo(f"{'':<15} config: {', '.join(keys)}")


@channels.command("list")
@with_appcontext
def channels_list() -> None:
    """List channels and their health."""
    from inbox.channels import list_channels

    for c in list_channels():
        state = "enabled" if c.enabled else "paused"
        click.echo(f"{c.id:>4}  {c.type:<14} {c.name:<30} {state:<8} {c.health}")


main.add_command(report)
main.add_command(import_command, "import")
