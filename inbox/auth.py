"""Sessions, roles and CSRF: who is asking, and what they may see."""

from __future__ import annotations

import hmac
import secrets

import sqlalchemy as sa
from flask import request, session
from werkzeug.security import check_password_hash, generate_password_hash

from inbox import db
from inbox.errors import Forbidden, Unauthorized
from inbox.models import ROLES, Team, User

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_HEADER = "X-CSRF-Token"
# Compared against when the e-mail is unknown, so a wrong e-mail costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-password")


def hash_password(password: str) -> str:
    """Hash a password with Werkzeug's default (scrypt)."""
    return generate_password_hash(password)


def authenticate(email: str, password: str) -> User | None:
    """Return the active user with these credentials, or None."""
    user = db.session().scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def login(user: User) -> None:
    """Start a fresh session for the user, with a new CSRF token."""
    session.clear()
    session["uid"] = user.id
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = True


def csrf_token() -> str:
    """Return the session's CSRF token, creating one for anonymous sessions too."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    """Refuse an unsafe request whose CSRF header does not match the session's token."""
    if request.method not in UNSAFE_METHODS:
        return
    expected = session.get("csrf", "")
    given = request.headers.get(CSRF_HEADER, "")
    if not expected or not hmac.compare_digest(expected, given):
        raise Forbidden(f"missing or wrong {CSRF_HEADER} header", field=CSRF_HEADER)


def current_user() -> User | None:
    """Return the signed-in user of this request, or None."""
    state = db.scope()
    if "user" not in state:
        uid = session.get("uid")
        user = db.session().get(User, uid) if uid else None
        state["user"] = user if user is not None and user.active else None
    return state["user"]


def require_user() -> User:
    """Return the signed-in user or raise 401."""
    user = current_user()
    if user is None:
        raise Unauthorized("sign in first")
    return user


def require_role(*roles: str) -> User:
    """Return the signed-in user if their role is one of `roles` (admin always passes)."""
    user = require_user()
    if user.role != "admin" and user.role not in roles:
        raise Forbidden(f"this needs the role {' or '.join(roles)}")
    return user


def visible_team_ids(user: User) -> set[int]:
    """Return the teams whose channels and tickets the user may see."""
    if user.role == "admin":
        return set(db.session().scalars(sa.select(Team.id)))
    return {team.id for team in user.teams}


def create_user(email: str, name: str, password: str, role: str = "agent", teams=()) -> User:
    """Create a user in the given teams (by name, created when missing)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    s = db.session()
    user = User(email=email.strip().lower(), name=name, password_hash=hash_password(password))
    user.role = role
    for team_name in teams:
        team = s.scalar(sa.select(Team).where(Team.name == team_name)) or Team(name=team_name)
        user.teams.append(team)
    s.add(user)
    s.commit()
    return user
