"""SLA policies and business-hours calendars: read by managers, changed by admins.

Changing a policy or a calendar recomputes the due times of every ticket still running a
clock (a background job), so an SLA can be corrected at any time.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from inbox import db, jobs
from inbox.auth import require_role
from inbox.calendar import BusinessHours
from inbox.errors import ApiError, NotFound
from inbox.models import ITEM_KINDS, PRIORITIES, Calendar, Channel, SlaPolicy
from inbox.schemas import StrictSchema

bp = Blueprint("sla", __name__, description="SLA policies and business-hours calendars")

MINUTES = validate.Range(1, 60 * 24 * 60)


class PolicyIn(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, 120))
    position = fields.Integer(load_default=100, validate=validate.Range(0, 10_000))
    enabled = fields.Boolean(load_default=True)
    channel_id = fields.Integer(load_default=None, allow_none=True)
    kind = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(ITEM_KINDS))
    priority = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(PRIORITIES)
    )
    first_response_minutes = fields.Integer(load_default=None, allow_none=True, validate=MINUTES)
    next_response_minutes = fields.Integer(load_default=None, allow_none=True, validate=MINUTES)
    resolution_minutes = fields.Integer(load_default=None, allow_none=True, validate=MINUTES)
    business_hours = fields.Boolean(load_default=True)
    calendar_id = fields.Integer(load_default=None, allow_none=True)
    warn_minutes = fields.Integer(load_default=15, validate=validate.Range(0, 24 * 60))


class PolicyPatch(StrictSchema):
    """Only the fields sent change (no defaults filled in)."""

    name = fields.String(validate=validate.Length(1, 120))
    position = fields.Integer(validate=validate.Range(0, 10_000))
    enabled = fields.Boolean()
    channel_id = fields.Integer(allow_none=True)
    kind = fields.String(allow_none=True, validate=validate.OneOf(ITEM_KINDS))
    priority = fields.String(allow_none=True, validate=validate.OneOf(PRIORITIES))
    first_response_minutes = fields.Integer(allow_none=True, validate=MINUTES)
    next_response_minutes = fields.Integer(allow_none=True, validate=MINUTES)
    resolution_minutes = fields.Integer(allow_none=True, validate=MINUTES)
    business_hours = fields.Boolean()
    calendar_id = fields.Integer(allow_none=True)
    warn_minutes = fields.Integer(validate=validate.Range(0, 24 * 60))


class PolicyOut(Schema):
    id = fields.Integer()
    name = fields.String()
    position = fields.Integer()
    enabled = fields.Boolean()
    channel_id = fields.Integer(allow_none=True)
    kind = fields.String(allow_none=True)
    priority = fields.String(allow_none=True)
    first_response_minutes = fields.Integer(allow_none=True)
    next_response_minutes = fields.Integer(allow_none=True)
    resolution_minutes = fields.Integer(allow_none=True)
    business_hours = fields.Boolean()
    calendar_id = fields.Integer(allow_none=True)
    warn_minutes = fields.Integer()


class CalendarIn(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, 120))
    timezone = fields.String(load_default="Europe/Paris")
    hours = fields.Dict(load_default=None, allow_none=True)
    holidays_country = fields.String(load_default="FR", allow_none=True)
    closed_days = fields.List(fields.String(), load_default=list)
    is_default = fields.Boolean(load_default=False)

    @validates_schema
    def _valid_hours(self, data, **_):
        try:
            BusinessHours.from_config(
                data.get("timezone", "Europe/Paris"),
                data.get("hours"),
                data.get("holidays_country", "FR"),
                data.get("closed_days"),
            )
        except ValueError as exc:
            raise ValidationError(str(exc), "hours") from exc


class CalendarOut(Schema):
    id = fields.Integer()
    name = fields.String()
    timezone = fields.String()
    hours = fields.Dict()
    holidays_country = fields.String(allow_none=True)
    closed_days = fields.List(fields.String())
    is_default = fields.Boolean()


def _check_refs(data: dict) -> None:
    s = db.session()
    if data.get("channel_id") is not None and s.get(Channel, data["channel_id"]) is None:
        raise ApiError("no such channel", "channel_id")
    if data.get("calendar_id") is not None and s.get(Calendar, data["calendar_id"]) is None:
        raise ApiError("no such calendar", "calendar_id")


def _changed() -> None:
    db.session().commit()
    jobs.enqueue("workers.jobs.sla_recompute")


@bp.route("/sla/policies", methods=["GET"])
@bp.response(200, PolicyOut(many=True))
def list_policies():
    """The policies in the order they are tried (built-in defaults apply when none matches)."""
    require_role("manager")
    stmt = sa.select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.id)
    return db.session().scalars(stmt).all()


@bp.route("/sla/policies", methods=["POST"])
@bp.arguments(PolicyIn)
@bp.response(201, PolicyOut)
def create_policy(data):
    """Add a policy (admins)."""
    require_role("admin")
    _check_refs(data)
    policy = SlaPolicy(**data)
    db.session().add(policy)
    _changed()
    return policy


@bp.route("/sla/policies/<int:policy_id>", methods=["PATCH"])
@bp.arguments(PolicyPatch)
@bp.response(200, PolicyOut)
def patch_policy(changes, policy_id):
    """Change a policy (admins); open tickets' due times follow."""
    require_role("admin")
    policy = db.session().get(SlaPolicy, policy_id) or _missing("policy")
    _check_refs(changes)
    for key, value in changes.items():
        setattr(policy, key, value)
    _changed()
    return policy


@bp.route("/sla/policies/<int:policy_id>", methods=["DELETE"])
@bp.response(204)
def delete_policy(policy_id):
    """Remove a policy (admins); its tickets fall to the next matching one."""
    require_role("admin")
    s = db.session()
    policy = s.get(SlaPolicy, policy_id) or _missing("policy")
    s.execute(
        sa.text("UPDATE tickets SET sla_policy_id = NULL WHERE sla_policy_id = :id"),
        {"id": policy.id},
    )
    s.delete(policy)
    _changed()


@bp.route("/sla/calendars", methods=["GET"])
@bp.response(200, CalendarOut(many=True))
def list_calendars():
    """Business-hours calendars."""
    require_role("manager")
    return db.session().scalars(sa.select(Calendar).order_by(Calendar.name)).all()


@bp.route("/sla/calendars", methods=["POST"])
@bp.arguments(CalendarIn)
@bp.response(201, CalendarOut)
def create_calendar(data):
    """Add a calendar (admins); `is_default` makes it the one of the built-in policies."""
    require_role("admin")
    s = db.session()
    if data["is_default"]:
        s.execute(sa.update(Calendar).values(is_default=False))
    calendar = Calendar(**(data | {"hours": data["hours"] or {}}))
    s.add(calendar)
    _changed()
    return calendar


def _missing(what: str):
    raise NotFound(f"no such {what}")
