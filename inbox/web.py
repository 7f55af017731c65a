"""The browser app: its page, its ES modules, vendored npm modules, and the security headers."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, render_template, send_from_directory

from inbox import FRONTEND

bp = Blueprint("web", __name__)

# npm files the page may load, by the name it imports them under. Only files without bare
# imports: the CSP forbids the inline import map that `preact/hooks` (it imports "preact") needs.
VENDOR = {
    "preact.js": "preact/dist/preact.mjs",
    "htm.js": "htm/dist/htm.module.js",
    "socket.io.js": "socket.io-client/dist/socket.io.esm.min.js",
    "uPlot.js": "uplot/dist/uPlot.esm.js",  # the reports view's charts
    "uPlot.css": "uplot/dist/uPlot.min.css",
}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@bp.route("/")
def index():
    """Serve the single page; everything else comes over the API and the socket."""
    return render_template("index.html")


@bp.route("/static/app/<path:filename>")
def app_file(filename: str):
    return send_from_directory(FRONTEND / "src", filename, max_age=0)


@bp.route("/static/vendor/<name>")
def vendor_file(name: str):
    if name not in VENDOR:
        abort(404)
    path = FRONTEND / "node_modules" / VENDOR[name]
    return send_from_directory(path.parent, path.name, max_age=3600)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
