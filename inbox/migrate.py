"""Alembic, driven from code: the same migrations for SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import Flask

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(app: Flask) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = app.extensions["db_engine"]
    return config


def upgrade(app: Flask, revision: str = "head") -> None:
    """Bring the schema to `revision`."""
    command.upgrade(alembic_config(app), revision)
