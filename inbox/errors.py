"""Domain errors and their JSON form: {"error": {"code", "message", "field"}}."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None, **extra: Any):
        super().__init__(message)
        self.message, self.field, self.extra = message, field, extra


class NotFound(ApiError):
    status, code = 404, "not_found"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class Unavailable(ApiError):
    """A dependency (a platform we had to call back) failed: the sender should retry."""

    status, code = 503, "unavailable"


class Conflict(ApiError):
    """A stale or competing write; carries the current state of the thing."""

    status, code = 409, "conflict"


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict:
    """Return the one error shape every route answers with."""
    return {"error": {"code": code, "message": message, "field": field, **extra}}


def _first_field(messages: Any, prefix: str = "") -> tuple[str | None, str]:
    """Flatten marshmallow's nested messages to the first field path and its reason."""
    if isinstance(messages, dict) and messages:
        key, value = next(iter(messages.items()))
        if key in ("json", "query", "form", "view_args", "_schema") and not prefix:
            return _first_field(value, "")
        path = f"{prefix}.{key}" if prefix else str(key)
        return _first_field(value, path) if isinstance(value, dict) else (path, _text(value))
    return (prefix or None), _text(messages)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(_text(v) for v in value)
    return str(value)


def init_app(app: Flask) -> None:
    """Answer every error in the JSON shape, turning validation failures into 400s."""

    from inbox.messages import translate

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        body = error_body(exc.code, translate(exc.message), exc.field, **exc.extra)
        return jsonify(body), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        data = getattr(exc, "data", None) or {}
        if exc.code == 422 or "messages" in data:
            field, reason = _first_field(data.get("messages", {}))
            body = error_body("invalid", translate(reason), field, details=data.get("messages"))
            return jsonify(body), 400
        code = (exc.name or "error").lower().replace(" ", "_")
        return jsonify(error_body(code, exc.description or exc.name)), exc.code or 500
