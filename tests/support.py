"""Test helpers: people and channels, signed-in clients, items, counts, a live server."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime

import sqlalchemy as sa
from werkzeug.serving import make_server

from connectors.base import Author, NormalizedItem
from inbox import db
from inbox.auth import create_user
from inbox.channels import create_channel
from inbox.seed import team_named

WEBHOOK_SECRET = "s3cret-for-tests-only"


def fresh_snapshot() -> None:
    """End the test's session transaction before writing through it.

    On SQLite (WAL) a read transaction cannot become a write one once another connection has
    written since it began (jobs and requests write through their own connections), so the
    test's long-lived session starts over from a fresh snapshot.
    """
    db.session().rollback()


class World:
    """Makes teams, people and channels, and signs people in on test clients."""

    def __init__(self, app):
        self.app = app

    def user(self, email: str, role: str = "agent", teams=("Support",)):
        fresh_snapshot()
        return create_user(email, email.split("@")[0].title(), "password-123", role, teams)

    def channel(self, team: str = "Support", type_: str = "webhook", config=None, **extra):
        fresh_snapshot()
        config = config if config is not None else {"secret": WEBHOOK_SECRET}
        data = {"type": type_, "name": f"{type_} {team}", "team_id": team_named(team).id}
        return create_channel(data | {"config": config} | extra)

    def client(self, email: str) -> ApiClient:
        client = ApiClient(self.app.test_client())
        client.login(email, "password-123")
        return client


class ApiClient:
    """A test client that signs in and sends the CSRF header on unsafe requests."""

    def __init__(self, client):
        self.client, self.csrf = client, None

    def login(self, email: str, password: str):
        token = self.client.get("/api/session").json["csrf_token"]
        response = self.client.post(
            "/api/session",
            json={"email": email, "password": password},
            headers={"X-CSRF-Token": token},
        )
        assert response.status_code == 200, response.json
        self.csrf = response.json["csrf_token"]
        return response

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def _unsafe(self, method, url, **kw):
        headers = {"X-CSRF-Token": self.csrf or ""} | kw.pop("headers", {})
        return getattr(self.client, method)(url, headers=headers, **kw)

    def post(self, url, **kw):
        return self._unsafe("post", url, **kw)

    def patch(self, url, **kw):
        return self._unsafe("patch", url, **kw)

    def delete(self, url, **kw):
        return self._unsafe("delete", url, **kw)


def make_item(external_id: str, kind: str = "dm", **fields) -> NormalizedItem:
    """Build a normalized inbound item with sensible defaults."""
    author = fields.pop("author", None) or Author(id="author-1", handle="@ana", name="Ana")
    fields.setdefault("created_at", datetime.now(UTC))
    fields.setdefault("body", f"message {external_id}")
    return NormalizedItem(external_id=external_id, kind=kind, author=author, **fields)


def count(model) -> int:
    """Count the rows of a table through a fresh session."""
    with db.transaction() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The app served for real (threads, websockets) on a local port, in this process."""

    def __init__(self, app):
        self.app, self.port = app, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
