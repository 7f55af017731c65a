"""Community Inbox: one live ticket stream for community managers."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

FRONTEND = Path(__file__).resolve().parent.parent / "frontend"


def create_app(overrides: dict | None = None, *, serve_sockets: bool = True) -> Flask:
    """Build the app: config, database, jobs, API, webhooks, sockets and the browser page."""
    from inbox import api, db, errors, hooks, jobs, realtime, web
    from inbox.config import load_config

    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(FRONTEND / "templates"),
        static_folder=None,
    )
    app.config.update(load_config(Path(app.instance_path), overrides))
    db.init_app(app)
    jobs.init_app(app)
    api.init_app(app)
    errors.init_app(app)
    app.register_blueprint(hooks.bp)
    web.init_app(app)
    realtime.init_app(app, serve=serve_sockets)
    return app
