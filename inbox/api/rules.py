"""Moderation rules (managers and admins), their dry run, and the review queue (every CM)."""

from __future__ import annotations

import sqlalchemy as sa
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from inbox import db, rules
from inbox.auth import require_role, require_user, visible_team_ids
from inbox.db import utcnow
from inbox.errors import Conflict, NotFound
from inbox.models import Item, ModerationRule, RuleHit
from inbox.schemas import StrictSchema

bp = Blueprint("rules", __name__, description="Moderation rules and the review queue")


class RuleOut(Schema):
    id = fields.Integer()
    name = fields.String()
    position = fields.Integer()
    enabled = fields.Boolean()
    stop = fields.Boolean()
    conditions = fields.List(fields.Dict())
    actions = fields.List(fields.Dict())
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class RuleList(Schema):
    rules = fields.List(fields.Nested(RuleOut))


class RulePatch(rules.RuleIn):
    """Only the fields sent change; `version` must be the one last read."""

    name = fields.String(validate=validate.Length(1, 120))
    position = fields.Integer(validate=validate.Range(0, 100_000))
    stop = fields.Boolean()
    enabled = fields.Boolean()
    conditions = fields.List(fields.Nested(rules.ConditionIn), validate=validate.Length(1, 30))
    actions = fields.List(fields.Nested(rules.ActionIn), validate=validate.Length(1, 10))
    version = fields.Integer(required=True)


DAYS = validate.Range(1, 90)


class DryRunIn(StrictSchema):
    rule = fields.Nested(rules.RuleIn, required=True)
    days = fields.Integer(load_default=30, validate=DAYS)


class StoredDryRunIn(StrictSchema):
    days = fields.Integer(load_default=30, validate=DAYS)


class DrySample(Schema):
    item_id = fields.Integer()
    ticket_id = fields.Integer()
    channel_id = fields.Integer()
    author_name = fields.String()
    body = fields.String()
    created_at = fields.DateTime()
    actions = fields.List(fields.String())


class DryRunOut(Schema):
    days = fields.Integer()
    scanned = fields.Integer()
    matched = fields.Integer()
    actions = fields.Dict(keys=fields.String(), values=fields.Integer())
    samples = fields.List(fields.Nested(DrySample))
    authors = fields.List(fields.Dict())
    authors_total = fields.Integer()


class HitItem(Schema):
    id = fields.Integer()
    body = fields.String()
    author_name = fields.String()
    channel_id = fields.Integer()
    created_at = fields.DateTime()
    hidden = fields.Boolean()
    deleted = fields.Boolean()


class HitOut(Schema):
    id = fields.Integer()
    rule_id = fields.Integer()
    rule_name = fields.String()
    action = fields.String()
    ticket_id = fields.Integer()
    created_at = fields.DateTime()
    restored_at = fields.DateTime(allow_none=True)
    restored_by = fields.Integer(allow_none=True)
    item = fields.Nested(HitItem)


class ReviewQuery(StrictSchema):
    cursor = fields.Integer(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    include_restored = fields.Boolean(load_default=False)


class ReviewPage(Schema):
    hits = fields.List(fields.Nested(HitOut))
    next_cursor = fields.Integer(allow_none=True)


def _rule(rule_id: int) -> ModerationRule:
    rule = db.session().get(ModerationRule, rule_id)
    if rule is None:
        raise NotFound("no such rule")
    return rule


@bp.route("/rules", methods=["GET"])
@bp.response(200, RuleList)
def list_rules():
    """The rules in the order they run."""
    require_role("manager")
    found = db.session().scalars(
        sa.select(ModerationRule).order_by(ModerationRule.position, ModerationRule.id)
    )
    return {"rules": list(found)}


@bp.route("/rules", methods=["POST"])
@bp.arguments(rules.RuleIn)
@bp.response(201, RuleOut)
def create_rule(data):
    """Create a rule, disabled: run it dry first, then enable it."""
    user = require_role("manager")
    s = db.session()
    rules.check_references(s, data)
    rule = ModerationRule(**data, enabled=False, created_by=user.id)
    s.add(rule)
    s.commit()
    return rule


@bp.route("/rules/<int:rule_id>", methods=["PATCH"])
@bp.arguments(RulePatch)
@bp.response(200, RuleOut)
@bp.alt_response(409, description="Someone changed the rule since you read it")
def patch_rule(changes, rule_id):
    """Change, enable or disable a rule if `version` is still current."""
    require_role("manager")
    s = db.session()
    rule = _rule(rule_id)
    version = changes.pop("version")
    rules.check_references(s, changes)
    updated = s.execute(
        sa.update(ModerationRule)
        .where(ModerationRule.id == rule.id, ModerationRule.version == version)
        .values(**changes, updated_at=utcnow(), version=ModerationRule.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not updated:
        s.rollback()
        raise Conflict("someone changed this rule first", "version")
    s.commit()
    s.refresh(rule)
    return rule


@bp.route("/rules/<int:rule_id>", methods=["DELETE"])
@bp.response(204)
def delete_rule(rule_id):
    """Delete a rule; what it did stays in the timeline, its review entries go with it."""
    require_role("manager")
    s = db.session()
    rule = _rule(rule_id)
    s.execute(sa.delete(RuleHit).where(RuleHit.rule_id == rule.id))
    s.delete(rule)
    s.commit()


@bp.route("/rules/dry-run", methods=["POST"])
@bp.arguments(DryRunIn)
@bp.response(200, DryRunOut)
def dry_run_new(data):
    """What a rule not yet saved would have done over the last days of inbound items."""
    user = require_role("manager")
    spec = data["rule"]
    candidate = rules.compile_rule(
        None, spec["name"], spec["stop"], spec["conditions"], spec["actions"]
    )
    return rules.dry_run(
        db.session(), candidate, spec["position"], visible_team_ids(user), data["days"]
    )


@bp.route("/rules/<int:rule_id>/dry-run", methods=["POST"])
@bp.arguments(StoredDryRunIn)
@bp.response(200, DryRunOut)
def dry_run_stored(data, rule_id):
    """What a saved rule would have done (or did, if enabled) over the last days."""
    user = require_role("manager")
    rule = _rule(rule_id)
    candidate = rules.compile_rule(rule.id, rule.name, rule.stop, rule.conditions, rule.actions)
    return rules.dry_run(
        db.session(), candidate, rule.position, visible_team_ids(user), data["days"]
    )


@bp.route("/moderation/review", methods=["GET"])
@bp.arguments(ReviewQuery, location="query")
@bp.response(200, ReviewPage)
def review(query):
    """What rules hid, deleted or closed as spam, newest first, one keyset page at a time."""
    user = require_user()
    hits, next_cursor = rules.review_page(
        db.session(),
        visible_team_ids(user),
        query["cursor"],
        query["limit"],
        query["include_restored"],
    )
    return {"hits": hits, "next_cursor": next_cursor}


@bp.route("/moderation/review/<int:hit_id>/restore", methods=["POST"])
@bp.response(200, HitOut)
@bp.alt_response(409, description="Already restored, or deleted on the platform")
def restore(hit_id):
    """Undo a rule's hide (the platform is called back) or spam close (the ticket reopens)."""
    from inbox import events, jobs, realtime

    user = require_user()
    s = db.session()
    hit = s.get(RuleHit, hit_id)
    if hit is None or hit.team_id not in visible_team_ids(user):
        raise NotFound("no such review entry")
    rows = rules.restore(s, hit, user)
    written = events.write(s, rows)
    s.commit()
    realtime.publish(written)
    queued = [row["data"]["outbox_id"] for row in rows if row["type"] == "moderation_queued"]
    for outbox_id in queued:
        jobs.enqueue("workers.jobs.send_outbox", outbox_id)
    rule_name = s.scalar(sa.select(ModerationRule.name).where(ModerationRule.id == hit.rule_id))
    return rules.hit_out(hit, rule_name, s.get(Item, hit.item_id))
