"""Live push over a real socket: who may connect, and who hears what."""

from __future__ import annotations

import queue

import pytest
import requests
import socketio

from inbox import ingest
from tests.support import LiveServer, World, make_item


def login(server: LiveServer, email: str) -> requests.Session:
    http = requests.Session()
    token = http.get(f"{server.url}/api/session").json()["csrf_token"]
    response = http.post(
        f"{server.url}/api/session",
        json={"email": email, "password": "password-123"},
        headers={"X-CSRF-Token": token},
    )
    response.raise_for_status()
    http.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return http


def connect(server: LiveServer, http: requests.Session | None, origin: str | None = None):
    # websocket-client always sends an Origin; a header of ours would be sent twice
    extra = {"origin": origin} if origin else {}
    client = socketio.Client(reconnection=False, websocket_extra_options=extra)
    received: queue.Queue = queue.Queue()
    client.on("events", received.put)
    headers = {}
    if http is not None:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    client.connect(server.url, headers=headers, transports=["websocket"], wait_timeout=5)
    return client, received


@pytest.fixture
def server(live_app):
    with live_app.app_context():
        world = World(live_app)
        world.user("ana@example.com")
        world.user("olga@example.com", teams=("Other",))
        world.channel("Support")
        world.channel("Other")
    with LiveServer(live_app) as server:
        yield server


def test_socket_without_a_session_is_refused(server):
    with pytest.raises(socketio.exceptions.ConnectionError):
        connect(server, None)


def test_socket_from_a_foreign_origin_is_refused(server):
    http = login(server, "ana@example.com")
    with pytest.raises(socketio.exceptions.ConnectionError):
        connect(server, http, origin="https://evil.example")


def test_cm_hears_their_teams_tickets_and_only_theirs(server, live_app):
    ana, ana_events = connect(server, login(server, "ana@example.com"))
    olga, olga_events = connect(server, login(server, "olga@example.com"))
    try:
        with live_app.app_context():
            ingest.ingest_batch(1, [make_item("m1", thread_id="conv", body="Où est mon colis ?")])
        payload = ana_events.get(timeout=2)
        assert [e["type"] for e in payload["events"]] == ["ticket_created", "item_added"]
        [row] = payload["tickets"].values()
        assert row["preview"] == "Où est mon colis ?" and row["status"] == "open"
        with pytest.raises(queue.Empty):
            olga_events.get(timeout=0.5)
    finally:
        ana.disconnect()
        olga.disconnect()


def test_watching_a_ticket_of_another_team_is_refused(server, live_app):
    with live_app.app_context():
        ingest.ingest_batch(1, [make_item("m1", thread_id="conv")])
    olga, _ = connect(server, login(server, "olga@example.com"))
    try:
        assert olga.call("watch", {"ticket_id": 1}, timeout=2) == {
            "ok": False,
            "error": "no such ticket",
        }
    finally:
        olga.disconnect()


def test_change_through_the_api_reaches_other_cms_live(server, live_app):
    with live_app.app_context():
        World(live_app).user("ben@example.com")
        ingest.ingest_batch(1, [make_item("m1", thread_id="conv")])
    ben, ben_events = connect(server, login(server, "ben@example.com"))
    try:
        ana = login(server, "ana@example.com")
        assert ana.post(f"{server.url}/api/tickets/1/take").status_code == 200
        payload = ben_events.get(timeout=2)
        assert [e["type"] for e in payload["events"]] == ["assigned"]
        assert payload["tickets"]["1"]["assignee_id"] is not None
    finally:
        ben.disconnect()
