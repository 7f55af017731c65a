"""Database engine and sessions: SQLite (embedded) or PostgreSQL (scaled), one code path."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class UTCDateTime(sa.types.TypeDecorator):
    """An aware UTC datetime on every backend (SQLite stores it naive and loses the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC one is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


def upsert_insert(s: Session, model):
    """An INSERT of the session's dialect, which has `on_conflict_do_nothing` and friends."""
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)


def make_engine(url: str) -> sa.Engine:
    """Create the engine, with SQLite tuned for several threads writing in turn."""
    if not url.startswith("sqlite"):
        # No server-side prepared statements: a generic plan for ingest's large IN lists,
        # made before the tables have statistics, scans the whole channel (bench/ingest.py).
        return sa.create_engine(
            url,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=10,
            connect_args={"prepare_threshold": None},
        )
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # we issue BEGIN ourselves (below) to choose between DEFERRED and IMMEDIATE
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A transaction that will write takes the lock up front, so it waits its turn instead
        # of failing when a read snapshot cannot be upgraded; readers never block anyone (WAL).
        conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('sqlite_begin', '')}")

    return engine


def init_app(app: Flask) -> None:
    """Bind an engine and a session factory to the app; close the request session on teardown."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    app.extensions["db_write_sessionmaker"] = sessionmaker(
        engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
    )

    @app.teardown_request
    def _end_request(_exc):
        close_scope(request.environ.pop(SCOPE_KEY, {}))

    @app.teardown_appcontext
    def _end_context(_exc):
        close_scope(g.pop(SCOPE_KEY, {}))


SCOPE_KEY = "inbox.scope"


def scope() -> dict:
    """Return the state of the current request, or of the current job outside requests.

    Kept on the request (not `g`) because requests made inside a test's app context share
    its `g`; each request must still get its own session and user.
    """
    # Socket.IO events of one connection share its environ and may run at once in several
    # threads: each event keeps its session on its own `g` instead (closed with its context)
    if has_request_context() and not g.get("in_job") and not hasattr(request, "sid"):
        return request.environ.setdefault(SCOPE_KEY, {})
    return g.setdefault(SCOPE_KEY, {})


def close_scope(state: dict) -> None:
    session = state.pop("db", None)
    if session is not None:
        session.close()


def engine() -> sa.Engine:
    """Return the current app's engine."""
    return current_app.extensions["db_engine"]


def session() -> Session:
    """Return the session of the current request or job, opening it on first use.

    Requests that change things write through it; jobs write in `transaction()` blocks.
    """
    state = scope()
    if "db" not in state:
        writes = has_request_context() and request.method in WRITE_METHODS
        maker = "db_write_sessionmaker" if writes else "db_sessionmaker"
        state["db"] = current_app.extensions[maker]()
    return state["db"]


@contextmanager
def transaction() -> Iterator[Session]:
    """Run a block in its own session and transaction, committed or rolled back as a whole."""
    with current_app.extensions["db_write_sessionmaker"]() as s, s.begin():
        yield s
