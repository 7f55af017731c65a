"""Signing in and out, and who am I."""

from __future__ import annotations

from flask import session
from flask_smorest import Blueprint

from inbox import auth, db
from inbox.errors import Unauthorized
from inbox.schemas import LoginIn, MePatch, SessionOut, UserOut

bp = Blueprint("session", __name__, description="Sign in and out")


@bp.route("/session", methods=["GET"])
@bp.response(200, SessionOut)
def get_session():
    """Return the signed-in user (or null) and the CSRF token unsafe requests must carry."""
    return {"user": auth.current_user(), "csrf_token": auth.csrf_token()}


@bp.route("/session", methods=["POST"])
@bp.arguments(LoginIn)
@bp.response(200, SessionOut)
def login(credentials):
    """Sign in with e-mail and password; the answer carries a fresh CSRF token."""
    user = auth.authenticate(credentials["email"], credentials["password"])
    if user is None:
        raise Unauthorized("wrong e-mail or password", "password")
    auth.login(user)
    return {"user": user, "csrf_token": session["csrf"]}


@bp.route("/session", methods=["DELETE"])
@bp.response(204)
def logout():
    """Sign out."""
    session.clear()


@bp.route("/me", methods=["GET"])
@bp.response(200, UserOut)
def me():
    """Return the signed-in user with their teams."""
    return auth.require_user()


@bp.route("/me", methods=["PATCH"])
@bp.arguments(MePatch)
@bp.response(200, UserOut)
def patch_me(changes):
    """Change your language, timezone or single-key shortcuts."""
    user = auth.require_user()
    for key, value in changes.items():
        setattr(user, key, value)
    db.session().commit()
    return user
