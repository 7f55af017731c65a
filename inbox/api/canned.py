"""Canned replies: prepared answers, with the ticket's names filled in."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from inbox import db
from inbox.auth import require_role, require_user, visible_team_ids
from inbox.errors import ApiError, NotFound
from inbox.models import CannedReply, Channel, Ticket
from inbox.schemas import StrictSchema
from inbox.tickets import get_visible

bp = Blueprint("canned", __name__, description="Canned replies")

VARIABLE = re.compile(r"\{(\w+)\}")


class CannedIn(StrictSchema):
    title = fields.String(required=True, validate=validate.Length(1, 120))
    body = fields.String(required=True, validate=validate.Length(1, 5000))
    team_id = fields.Integer(load_default=None, allow_none=True)
    locale = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(["fr", "en"])
    )


class CannedPatch(StrictSchema):
    title = fields.String(validate=validate.Length(1, 120))
    body = fields.String(validate=validate.Length(1, 5000))
    locale = fields.String(allow_none=True, validate=validate.OneOf(["fr", "en"]))


class CannedQuery(StrictSchema):
    ticket_id = fields.Integer(load_default=None)


class CannedOut(Schema):
    id = fields.Integer()
    title = fields.String()
    body = fields.String()
    team_id = fields.Integer(allow_none=True)
    locale = fields.String(allow_none=True)
    rendered = fields.String(allow_none=True)


def render(body: str, values: dict[str, str]) -> str:
    """Fill {variables}; unknown ones stay as written so the CM sees what is missing."""
    return VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), body)


def ticket_values(ticket: Ticket, agent_name: str) -> dict[str, str]:
    channel = db.session().get(Channel, ticket.channel_id)
    author = (ticket.author_name or "").lstrip("@")
    return {
        "author_name": author,
        "first_name": author.split(" ")[0] if author else "",
        "agent_name": agent_name,
        "agent_first_name": agent_name.split(" ")[0],
        "channel": channel.name if channel else "",
    }


@bp.route("/canned-replies", methods=["GET"])
@bp.arguments(CannedQuery, location="query")
@bp.response(200, CannedOut(many=True))
def list_canned(query):
    """Your teams' canned replies (and everyone's); with ticket_id, rendered for that ticket."""
    user = require_user()
    teams = visible_team_ids(user)
    rows = db.session().scalars(
        sa.select(CannedReply)
        .where(sa.or_(CannedReply.team_id.is_(None), CannedReply.team_id.in_(teams)))
        .order_by(CannedReply.title, CannedReply.id)
    )
    values = None
    if query["ticket_id"] is not None:
        values = ticket_values(get_visible(user, query["ticket_id"]), user.name)
    return [
        {
            **{k: getattr(r, k) for k in ("id", "title", "body", "team_id", "locale")},
            "rendered": render(r.body, values) if values is not None else None,
        }
        for r in rows
    ]


@bp.route("/canned-replies", methods=["POST"])
@bp.arguments(CannedIn)
@bp.response(201, CannedOut)
def create_canned(data):
    """Add a canned reply (managers), for one team or everyone."""
    user = require_role("manager")
    if data["team_id"] is not None and data["team_id"] not in visible_team_ids(user):
        raise ApiError("not one of your teams", "team_id")
    reply = CannedReply(**data)
    db.session().add(reply)
    db.session().commit()
    return reply


@bp.route("/canned-replies/<int:reply_id>", methods=["PATCH"])
@bp.arguments(CannedPatch)
@bp.response(200, CannedOut)
def patch_canned(changes, reply_id):
    """Change a canned reply (managers)."""
    reply = _editable(reply_id)
    for key, value in changes.items():
        setattr(reply, key, value)
    db.session().commit()
    return reply


@bp.route("/canned-replies/<int:reply_id>", methods=["DELETE"])
@bp.response(204)
def delete_canned(reply_id):
    """Remove a canned reply (managers)."""
    db.session().delete(_editable(reply_id))
    db.session().commit()


def _editable(reply_id: int) -> CannedReply:
    user = require_role("manager")
    reply = db.session().get(CannedReply, reply_id)
    if reply is None or (reply.team_id is not None and reply.team_id not in visible_team_ids(user)):
        raise NotFound("no such canned reply")
    return reply
