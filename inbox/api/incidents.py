"""Bad-buzz incidents, crisis mode, watched keywords and reply approvals."""

from __future__ import annotations

import sqlalchemy as sa
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from inbox import buzz, db, events, outbox, realtime
from inbox.auth import require_role, require_user, visible_team_ids
from inbox.db import utcnow
from inbox.errors import ApiError, Conflict, NotFound
from inbox.models import Event, Incident, SlaPolicy, Ticket, User, WatchedKeyword
from inbox.schemas import EventOut, OutboxOut, StrictSchema

bp = Blueprint("incidents", __name__, description="Bad buzz: incidents, crisis mode, approvals")

INCIDENT_EVENTS = ("incident_opened", "incident_updated", "incident_resolved")
LIST_LIMIT = 200


class IncidentQuery(StrictSchema):
    status = fields.String(
        load_default="open", validate=validate.OneOf(["open", "resolved", "all"])
    )


class IncidentOut(Schema):
    id = fields.Integer()
    team_id = fields.Integer()
    channel_id = fields.Integer(allow_none=True)
    scope = fields.String(metadata={"description": "post, channel or keyword"})
    key = fields.String(metadata={"description": "the post id, channel id or watched term"})
    status = fields.String()
    started_at = fields.DateTime()
    detected_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)
    window_count = fields.Integer(metadata={"description": "items in the busiest 5 minutes"})
    baseline_rate = fields.Float(metadata={"description": "usual items per 5 minutes"})
    negative_share = fields.Float()
    usual_negative_share = fields.Float()
    crisis = fields.Boolean()
    crisis_since = fields.DateTime(allow_none=True)
    crisis_policy_id = fields.Integer(allow_none=True)
    holding_replies = fields.List(fields.String())
    ticket_count = fields.Integer()


class IncidentList(Schema):
    incidents = fields.List(fields.Nested(IncidentOut))


class MinuteOut(Schema):
    at = fields.DateTime()
    count = fields.Integer()
    negative = fields.Integer()


class IncidentDetail(IncidentOut):
    timeline = fields.List(fields.Nested(MinuteOut))
    tickets = fields.List(fields.Integer())
    events = fields.List(fields.Nested(EventOut))


class CrisisIn(StrictSchema):
    on = fields.Boolean(required=True)
    policy_id = fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "an SLA policy for the crisis; default: 15 min, 24/7"},
    )


class IncidentPatch(StrictSchema):
    holding_replies = fields.List(
        fields.String(validate=validate.Length(1, 2000)), validate=validate.Length(max=20)
    )
    status = fields.String(validate=validate.OneOf(["resolved"]))

    @validates_schema
    def _has_a_change(self, data, **_kwargs):
        if not data:
            raise ValidationError("nothing to change", "status")


class KeywordIn(StrictSchema):
    term = fields.String(required=True, validate=validate.Length(2, 120))
    team_id = fields.Integer(load_default=None, allow_none=True)


class KeywordOut(Schema):
    id = fields.Integer()
    team_id = fields.Integer()
    term = fields.String()


class KeywordList(Schema):
    keywords = fields.List(fields.Nested(KeywordOut))


class ApprovalOut(Schema):
    outbox_id = fields.Integer()
    ticket_id = fields.Integer()
    text = fields.String()
    created_by = fields.Integer(allow_none=True)
    created_by_name = fields.String(allow_none=True)
    created_at = fields.DateTime()


class ApprovalList(Schema):
    approvals = fields.List(fields.Nested(ApprovalOut))


class RejectIn(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(1, 1000))


def _with_counts(incidents: list[Incident]) -> list[Incident]:
    """Attach each incident's ticket count, from one grouped query."""
    rows = db.session().execute(
        sa.select(Ticket.incident_id, sa.func.count())
        .where(Ticket.incident_id.in_([i.id for i in incidents]))
        .group_by(Ticket.incident_id)
    )
    counts = {incident_id: n for incident_id, n in rows}
    for incident in incidents:
        incident.ticket_count = counts.get(incident.id, 0)
    return incidents


def _visible(user: User, incident_id: int) -> Incident:
    incident = db.session().get(Incident, incident_id)
    if incident is None or incident.team_id not in visible_team_ids(user):
        raise NotFound("no such incident")
    return incident


def _commit(changes: list[dict], incident: Incident) -> Incident:
    s = db.session()
    written = events.write(s, changes)
    s.commit()
    realtime.publish(written)
    return _with_counts([incident])[0]


@bp.route("/incidents", methods=["GET"])
@bp.arguments(IncidentQuery, location="query")
@bp.response(200, IncidentList)
def list_incidents(query):
    """Incidents of your teams, newest first."""
    user = require_user()
    stmt = sa.select(Incident).where(Incident.team_id.in_(visible_team_ids(user)))
    if query["status"] != "all":
        stmt = stmt.where(Incident.status == query["status"])
    stmt = stmt.order_by(Incident.detected_at.desc(), Incident.id.desc()).limit(LIST_LIMIT)
    return {"incidents": _with_counts(list(db.session().scalars(stmt)))}


@bp.route("/incidents/<int:incident_id>", methods=["GET"])
@bp.response(200, IncidentDetail)
def get_incident(incident_id):
    """One incident with its per-minute timeline, its tickets and its events."""
    s = db.session()
    incident = _with_counts([_visible(require_user(), incident_id)])[0]
    incident.timeline = buzz.timeline(s, incident)
    incident.tickets = list(
        s.scalars(sa.select(Ticket.id).where(Ticket.incident_id == incident.id).order_by(Ticket.id))
    )
    incident.events = list(
        s.scalars(
            sa.select(Event)
            .where(
                Event.team_id == incident.team_id,
                Event.type.in_(INCIDENT_EVENTS),
                Event.data["incident_id"].as_integer() == incident.id,
            )
            .order_by(Event.id)
            .limit(LIST_LIMIT)
        )
    )
    return incident


@bp.route("/incidents/<int:incident_id>/crisis", methods=["POST"])
@bp.arguments(CrisisIn)
@bp.response(200, IncidentOut)
@bp.alt_response(409, description="The incident is resolved")
def crisis(data, incident_id):
    """Turn crisis mode on or off (managers): tighter SLA, agents' replies need approval."""
    user = require_role("manager")
    incident = _visible(user, incident_id)
    if incident.status != "open":
        raise Conflict("this incident is resolved", "on")
    if data["policy_id"] is not None and db.session().get(SlaPolicy, data["policy_id"]) is None:
        raise ApiError("no such SLA policy", "policy_id")
    changes = buzz.set_crisis(
        db.session(), incident, data["on"], user, utcnow(), policy_id=data["policy_id"]
    )
    return _commit(changes, incident)


@bp.route("/incidents/<int:incident_id>", methods=["PATCH"])
@bp.arguments(IncidentPatch)
@bp.response(200, IncidentOut)
def patch_incident(changes, incident_id):
    """Set the holding replies or resolve the incident (managers)."""
    user = require_role("manager")
    incident = _visible(user, incident_id)
    written = []
    if "holding_replies" in changes:
        incident.holding_replies = changes["holding_replies"]
        written.append(buzz.event("incident_updated", incident, user))
    if changes.get("status") == "resolved" and incident.status == "open":
        written += buzz.resolve(db.session(), incident, utcnow(), user)
    return _commit(written, incident)


@bp.route("/watched-keywords", methods=["GET"])
@bp.response(200, KeywordList)
def list_keywords():
    """The terms bad-buzz detection follows for your teams (managers)."""
    user = require_role("manager")
    stmt = (
        sa.select(WatchedKeyword)
        .where(WatchedKeyword.team_id.in_(visible_team_ids(user)))
        .order_by(WatchedKeyword.term)
    )
    return {"keywords": list(db.session().scalars(stmt))}


@bp.route("/watched-keywords", methods=["POST"])
@bp.arguments(KeywordIn)
@bp.response(201, KeywordOut)
@bp.alt_response(409, description="The team already watches this term")
def add_keyword(data):
    """Watch a term (managers); case and accents do not matter. `team_id` if you have several."""
    user = require_role("manager")
    term = " ".join(data["term"].split())
    if len(term) < 2 or not buzz.fold(term).strip():
        raise ApiError("give a word or phrase", "term")
    team_id = _team_for(user, data["team_id"])
    s = db.session()
    known = s.scalars(sa.select(WatchedKeyword.term).where(WatchedKeyword.team_id == team_id))
    if any(buzz.fold(t) == buzz.fold(term) for t in known):
        raise Conflict("this team already watches this term", "term")
    keyword = WatchedKeyword(team_id=team_id, term=term)
    s.add(keyword)
    s.commit()
    return keyword


def _team_for(user: User, team_id: int | None) -> int:
    teams = visible_team_ids(user)
    if team_id is None and len(teams) == 1:
        return next(iter(teams))
    if team_id is None:
        raise ApiError("say which team watches it", "team_id")
    if team_id not in teams:
        raise ApiError("no such team", "team_id")
    return team_id


@bp.route("/watched-keywords/<int:keyword_id>", methods=["DELETE"])
@bp.response(204)
def delete_keyword(keyword_id):
    """Stop watching a term (managers); its incidents stay."""
    user = require_role("manager")
    s = db.session()
    keyword = s.get(WatchedKeyword, keyword_id)
    if keyword is None or keyword.team_id not in visible_team_ids(user):
        raise NotFound("no such watched keyword")
    s.delete(keyword)
    s.commit()


@bp.route("/approvals", methods=["GET"])
@bp.response(200, ApprovalList)
def approvals():
    """Agents' replies waiting for a manager, oldest first (managers)."""
    return {"approvals": outbox.pending_approvals(require_role("manager"))}


@bp.route("/outbox/<int:outbox_id>/approve", methods=["POST"])
@bp.response(200, OutboxOut)
@bp.alt_response(409, description="Already approved or rejected")
def approve(outbox_id):
    """Let a held reply go to the platform now (managers)."""
    return outbox.approve(require_role("manager"), outbox_id)


@bp.route("/outbox/<int:outbox_id>/reject", methods=["POST"])
@bp.arguments(RejectIn)
@bp.response(200, OutboxOut)
@bp.alt_response(409, description="Already approved or rejected")
def reject(data, outbox_id):
    """Refuse a held reply with a reason (managers); its author gets the draft back."""
    return outbox.reject(require_role("manager"), outbox_id, data["reason"])
