"""Helpers the browser tests share: waiting for a condition, recording CSP refusals, people."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from connectors.base import Author

# Collects what the page's Content-Security-Policy refused, before any script of the page runs.
CSP_WATCH = (
    "window.__cspRefused = [];"
    "document.addEventListener('securitypolicyviolation',"
    " (e) => window.__cspRefused.push(e.violatedDirective + ' ' + e.blockedURI));"
)


def eventually(check, timeout: float = 10.0):
    """Call `check` until it returns something true or the time is up; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def ago(minutes: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


def person(name: str) -> Author:
    key = re.sub(r"\W+", "-", name.lower())
    return Author(id=key, handle=f"@{key}", name=name)
