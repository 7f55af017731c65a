"""Live push: Socket.IO rooms per team, user and ticket, fed by committed events."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import Flask, current_app, request
from flask_socketio import ConnectionRefusedError, SocketIO, emit, join_room, leave_room

from inbox import db
from inbox.auth import current_user, visible_team_ids
from inbox.db import utcnow
from inbox.errors import NotFound
from inbox.schemas import EventOut, TicketRow

_event_out = EventOut()
_row_out = TicketRow()


def init_app(app: Flask, serve: bool) -> None:
    """Serve sockets in web processes; elsewhere, emit write-only through Redis when scaled."""
    options = {"channel": app.config["SOCKETIO_CHANNEL"]}
    if app.config["REDIS_URL"]:
        options["message_queue"] = app.config["REDIS_URL"]
    if serve:
        sio = SocketIO(
            app,
            async_mode="threading",
            cors_allowed_origins=app.config["ALLOWED_ORIGINS"],
            **options,
        )
        _register_handlers(sio)
        app.extensions["inbox_emit"] = sio.emit
    elif "message_queue" in options:
        app.extensions["inbox_emit"] = SocketIO(**options).emit


def _register_handlers(sio: SocketIO) -> None:
    sio.on_event("connect", on_connect)
    sio.on_event("watch", on_watch)
    sio.on_event("unwatch", on_unwatch)
    sio.on_event("presence", on_presence)


def on_connect(auth: Any = None) -> None:
    """Accept a socket only with a signed-in session; join the user's and team rooms."""
    user = current_user()
    if user is None:
        raise ConnectionRefusedError("sign in first")
    join_room(f"user:{user.id}")
    for team_id in visible_team_ids(user):
        join_room(f"team:{team_id}")


def on_watch(data: Any) -> dict:
    """Join a ticket's room (its viewers' signals) after checking the user may see it."""
    from inbox.tickets import get_visible

    user = current_user()
    ticket_id = data.get("ticket_id") if isinstance(data, dict) else None
    if user is None or not isinstance(ticket_id, int):
        return {"ok": False, "error": "give a ticket_id"}
    try:
        get_visible(user, ticket_id)
    except NotFound:
        return {"ok": False, "error": "no such ticket"}
    join_room(f"ticket:{ticket_id}", sid=request.sid)
    return {"ok": True}


def on_unwatch(data: Any) -> dict:
    ticket_id = data.get("ticket_id") if isinstance(data, dict) else None
    if isinstance(ticket_id, int):
        leave_room(f"ticket:{ticket_id}")
    return {"ok": True}


PRESENCE_STATES = ("viewing", "typing", "left")


def on_presence(data: Any) -> dict:
    """Relay "I am viewing / typing in / leaving this ticket" to the ticket's team.

    The server keeps no state: clients repeat their presence every few seconds and forget a
    teammate's after a silence, so it works the same across several web processes.
    """
    from inbox.tickets import get_visible

    user = current_user()
    data = data if isinstance(data, dict) else {}
    ticket_id, state = data.get("ticket_id"), data.get("state")
    if user is None or not isinstance(ticket_id, int) or state not in PRESENCE_STATES:
        return {"ok": False, "error": "give a ticket_id and a state: viewing, typing or left"}
    try:
        ticket = get_visible(user, ticket_id)
    except NotFound:
        return {"ok": False, "error": "no such ticket"}
    payload = {
        "ticket_id": ticket_id,
        "user_id": user.id,
        "name": user.name,
        "state": state,
        "at": utcnow().isoformat(),
    }
    emit("presence", payload, to=f"team:{ticket.team_id}", include_self=False)
    return {"ok": True}


def publish(events: list[dict[str, Any]]) -> None:
    """Push committed events to their team rooms: one message per team, with the changed rows."""
    emit = current_app.extensions.get("inbox_emit")
    if not events or emit is None:
        return
    from inbox.tickets import ticket_rows

    rows = ticket_rows(db.session(), {e["ticket_id"] for e in events if e.get("ticket_id")})
    by_team: dict[int, list[dict]] = defaultdict(list)
    for event in events:
        by_team[event["team_id"]].append(event)
    for team_id, team_events in by_team.items():
        ids = {e["ticket_id"] for e in team_events if e.get("ticket_id") in rows}
        payload = {
            "events": [_event_out.dump(e) for e in team_events],
            "tickets": {str(i): _row_out.dump(rows[i]) for i in ids},
        }
        emit("events", payload, to=f"team:{team_id}")
