"""Configuration read from the environment, with safe embedded defaults."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _instance_secret(instance_path: Path) -> str:
    """Return the instance's secret key, creating it on first start."""
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(instance_path: Path, overrides: dict | None = None) -> dict:
    """Build the app configuration: environment first, embedded defaults otherwise."""
    env = os.environ
    overrides = overrides or {}
    instance_path = Path(overrides.get("INSTANCE_PATH", instance_path))
    database_url = overrides.get("DATABASE_URL", env.get("DATABASE_URL"))
    if not database_url:
        database_url = f"sqlite:///{instance_path / 'inbox.sqlite3'}"
    database_url = _with_driver(database_url)
    redis_url = overrides.get("REDIS_URL", env.get("REDIS_URL"))
    config = {
        "SECRET_KEY": env.get("SECRET_KEY") or _instance_secret(instance_path),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "JOBS_BACKEND": env.get("INBOX_JOBS", "rq" if redis_url else "inprocess"),
        "ALLOWED_ORIGINS": _split(env.get("INBOX_ALLOWED_ORIGINS")),
        "MAX_CONTENT_LENGTH": int(env.get("INBOX_MAX_BODY", 1024 * 1024)),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env.get("INBOX_SECURE_COOKIES", "0") == "1",
        "SOCKETIO_CHANNEL": env.get("INBOX_SOCKETIO_CHANNEL", "community-inbox"),
        # public replies, hides and deletes wait this long before leaving; `z` takes them back
        "UNDO_WINDOW": float(env.get("INBOX_UNDO_SECONDS", 10)),
        "API_TITLE": "Community Inbox",
        "API_VERSION": "1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
    }
    config.update(overrides)
    return config


def _with_driver(url: str) -> str:
    """Point plain postgres URLs at psycopg 3, the only driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _split(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]
