"""Reports for managers: SLA figures per day, week, agent, channel, kind, tag or team; heatmap."""

from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from inbox import db, reports
from inbox.auth import require_role, visible_team_ids
from inbox.errors import ApiError
from inbox.models import User
from inbox.schemas import StrictSchema

bp = Blueprint("reports", __name__, description="SLA reports and inbound heatmap (managers)")

DEFAULT_TZ = "Europe/Paris"


def _known_zone(value: str) -> None:
    try:
        reports.zone_named(value)
    except ApiError as exc:
        raise ValidationError(exc.message) from None


class ReportRangeQuery(StrictSchema):
    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)
    tz = fields.String(
        load_default=None,
        validate=_known_zone,
        metadata={"description": "IANA timezone; default: your own"},
    )

    @validates_schema
    def _range(self, data, **_kwargs):
        if "from_" in data and "to" in data:
            try:
                reports.check_range(data["from_"], data["to"])
            except ApiError as exc:
                raise ValidationError(exc.message, exc.field) from None


class SlaReportQuery(ReportRangeQuery):
    group_by = fields.String(load_default="day", validate=validate.OneOf(reports.GROUPS))
    clock = fields.String(load_default="business", validate=validate.OneOf(reports.CLOCKS))
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))


class ReportStatsOut(Schema):
    count = fields.Integer()
    median = fields.Float(allow_none=True, metadata={"description": "seconds, nearest rank"})
    mean = fields.Float(allow_none=True)
    p90 = fields.Float(allow_none=True)
    within_target = fields.Float(allow_none=True)
    breaches = fields.Integer()


class ReportFiguresOut(Schema):
    inbound = fields.Integer()
    outbound = fields.Integer()
    first_response = fields.Nested(ReportStatsOut)
    next_response = fields.Nested(ReportStatsOut)
    resolution = fields.Nested(ReportStatsOut)
    response_rate = fields.Float(allow_none=True)


class ReportRowOut(ReportFiguresOut):
    group = fields.String()
    group_id = fields.Integer(allow_none=True)


class SlaReportOut(Schema):
    from_ = fields.String(data_key="from", attribute="from")
    to = fields.String()
    group_by = fields.String()
    timezone = fields.String()
    clock = fields.String()
    rows = fields.List(fields.Nested(ReportRowOut))
    totals = fields.Nested(ReportFiguresOut)


class ReportHeatmapOut(Schema):
    timezone = fields.String()
    cells = fields.List(
        fields.List(fields.Integer()), metadata={"description": "[weekday (0 = Monday), hour, n]"}
    )


@bp.before_request
def _managers_only():
    """Reports are for managers and admins; the role is checked before the arguments."""
    require_role("manager")


def _scope(user: User, query: dict) -> tuple[set[int] | None, str]:
    """The teams the user may report on (None: all, for admins) and the timezone to use."""
    teams = None if user.role == "admin" else visible_team_ids(user)
    return teams, query["tz"] or user.timezone or DEFAULT_TZ


@bp.route("/reports/sla", methods=["GET"])
@bp.arguments(SlaReportQuery, location="query")
@bp.response(200, SlaReportOut)
def sla_report(query):
    """SLA figures of your teams for the local days [from, to] (at most 366), as JSON or CSV."""
    user = require_role("manager")
    teams, tz = _scope(user, query)
    report = reports.sla_report(
        db.session(),
        start=query["from_"],
        end=query["to"],
        group_by=query["group_by"],
        tz=tz,
        clock=query["clock"],
        team_ids=teams,
    )
    if query["format"] == "csv":
        filename = reports.csv_filename(report)
        return Response(
            reports.to_csv(report),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return report


@bp.route("/reports/heatmap", methods=["GET"])
@bp.arguments(ReportRangeQuery, location="query")
@bp.response(200, ReportHeatmapOut)
def heatmap(query):
    """Inbound items of your teams by local weekday and hour, all 168 cells."""
    user = require_role("manager")
    teams, tz = _scope(user, query)
    return reports.heatmap(
        db.session(), start=query["from_"], end=query["to"], tz=tz, team_ids=teams
    )
