"""The REST API: one place that shows the whole URL surface."""

from __future__ import annotations

from flask import Flask, request
from flask_smorest import Api

from inbox.auth import check_csrf

api = Api()


def init_app(app: Flask) -> None:
    """Register every API blueprint, with CSRF checked on all unsafe requests."""
    from inbox.api import (
        canned,
        channels,
        clusters,
        contacts,
        events,
        incidents,
        items,
        reports,
        rules,
        session,
        sla,
        tickets,
    )

    api.init_app(app)
    for module in (
        session,
        tickets,
        items,
        events,
        channels,
        sla,
        reports,
        canned,
        rules,
        clusters,
        contacts,
        incidents,
    ):
        api.register_blueprint(module.bp, url_prefix="/api")

    @app.before_request
    def _csrf():
        if request.path.startswith("/api/"):
            check_csrf()
