"""The connector registry: one class per platform, found by its type slug."""

from __future__ import annotations

import importlib

from connectors.base import Connector

REGISTRY: dict[str, type[Connector]] = {}


def register(cls: type[Connector]) -> type[Connector]:
    """Add a connector class to the registry under its type slug."""
    REGISTRY[cls.type] = cls
    return cls


def connector_class(type_: str) -> type[Connector]:
    """Return the connector class for a type slug; KeyError names unknown types."""
    _load_builtin()
    return REGISTRY[type_]


def connector_types() -> list[str]:
    """List the registered type slugs."""
    _load_builtin()
    return sorted(REGISTRY)


BUILTIN = (
    "demo",
    "webhook",
    "x",
    "facebook",
    "instagram",
    "whatsapp",
    "youtube",
    "tiktok",
    "linkedin",
    "google_reviews",
    "play_store",
    "app_store",
    "mastodon",
    "email",
    "rss",
)


_loaded = False


def _load_builtin() -> None:
    """Import every built-in connector module once; registration happens on import."""
    global _loaded
    if _loaded:
        return
    for name in BUILTIN:
        importlib.import_module(f"connectors.{name}")
    _loaded = True
