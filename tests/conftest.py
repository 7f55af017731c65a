"""Shared fixtures: the app on SQLite and on PostgreSQL, signed-in clients, live servers."""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest

from inbox import create_app, db, migrate
from tests.support import World

PG_SERVER = os.environ.get("INBOX_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS_SERVER = os.environ.get("INBOX_TEST_REDIS", "redis://127.0.0.1:6379")


@pytest.fixture(scope="session")
def pg_database():
    """Create a throwaway PostgreSQL database for this run (the server must be up)."""
    name = f"inbox_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_SERVER}/{name}"
    app = create_app(_settings(url), serve_sockets=False)
    migrate.upgrade(app)
    app.extensions["db_engine"].dispose()
    yield url
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _settings(url: str, **extra) -> dict:
    return {
        "DATABASE_URL": url,
        "REDIS_URL": None,
        "JOBS_BACKEND": "eager",
        "SECRET_KEY": "test-secret-key",
        "TESTING": True,
        "SOCKETIO_CHANNEL": f"inbox-test-{uuid.uuid4().hex[:8]}",
        "UNDO_WINDOW": 0,  # tests of the undo window set their own
    } | extra


def _truncate_all(app) -> None:
    tables = ", ".join(t.name for t in db.Base.metadata.sorted_tables)
    with app.extensions["db_engine"].begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    """Run a test once on embedded SQLite and once on PostgreSQL."""
    return request.param


@pytest.fixture
def database_url(backend, tmp_path, request) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'inbox.sqlite3'}"
    return request.getfixturevalue("pg_database")


def build_app(database_url: str, tmp_path, **extra):
    """Create an app on a clean, migrated database."""
    app = create_app(_settings(database_url, INSTANCE_PATH=str(tmp_path), **extra))
    if database_url.startswith("sqlite"):
        migrate.upgrade(app)
    else:
        _truncate_all(app)
    return app


@pytest.fixture
def app(database_url, tmp_path):
    app = build_app(database_url, tmp_path)
    with app.app_context():
        yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture
def world(app) -> World:
    return World(app)


@pytest.fixture
def live_app(database_url, tmp_path):
    """An app with in-process jobs, as `inbox run` has, for tests over real HTTP and sockets."""
    app = build_app(database_url, tmp_path, JOBS_BACKEND="inprocess")
    yield app
    app.extensions["jobs"].pool.shutdown(wait=True)
    app.extensions["db_engine"].dispose()
