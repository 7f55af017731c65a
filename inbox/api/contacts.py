"""Contacts: one person across platforms, and the VIP and block lists moderation rules test."""

from __future__ import annotations

import sqlalchemy as sa
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from inbox import db
from inbox.auth import require_role, require_user, visible_team_ids
from inbox.errors import NotFound
from inbox.models import Contact, Identity, Ticket
from inbox.schemas import StrictSchema

bp = Blueprint("contacts", __name__, description="Contacts, VIP and block lists")


class IdentityOut(Schema):
    id = fields.Integer()
    platform = fields.String()
    handle = fields.String(allow_none=True)
    name = fields.String(allow_none=True)


class ContactOut(Schema):
    id = fields.Integer()
    name = fields.String()
    vip = fields.Boolean()
    blocked = fields.Boolean()
    identities = fields.List(fields.Nested(IdentityOut))
    ticket_count = fields.Integer()


class ContactPatch(StrictSchema):
    vip = fields.Boolean()
    blocked = fields.Boolean()


def _visible(contact_id: int, user) -> tuple[Contact, int]:
    """The contact if the user sees at least one of its tickets (404 otherwise)."""
    s = db.session()
    contact = s.get(Contact, contact_id)
    seen = s.scalar(
        sa.select(sa.func.count())
        .select_from(Ticket)
        .where(Ticket.contact_id == contact_id, Ticket.team_id.in_(visible_team_ids(user)))
    )
    if contact is None or not seen:
        raise NotFound("no such contact")
    return contact, seen


def _out(contact: Contact, seen: int) -> dict:
    identities = db.session().scalars(
        sa.select(Identity).where(Identity.contact_id == contact.id).order_by(Identity.id)
    )
    return {
        "id": contact.id,
        "name": contact.name,
        "vip": contact.vip,
        "blocked": contact.blocked,
        "identities": list(identities),
        "ticket_count": seen,
    }


@bp.route("/contacts/<int:contact_id>", methods=["GET"])
@bp.response(200, ContactOut)
def get_contact(contact_id):
    """A contact with its accounts on each platform; its tickets: GET /api/tickets?contact=."""
    contact, seen = _visible(contact_id, require_user())
    return _out(contact, seen)


@bp.route("/contacts/<int:contact_id>", methods=["PATCH"])
@bp.arguments(ContactPatch)
@bp.response(200, ContactOut)
def patch_contact(changes, contact_id):
    """Put a contact on the VIP or block list (managers and admins: rules act on them)."""
    user = require_role("manager")
    contact, seen = _visible(contact_id, user)
    for key, value in changes.items():
        setattr(contact, key, value)
    db.session().commit()
    return _out(contact, seen)
