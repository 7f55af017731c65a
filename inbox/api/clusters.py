"""Near-duplicate groups: read one, and act on all its open tickets in one call."""

from __future__ import annotations

import sqlalchemy as sa
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate, validates_schema

from connectors import connector_class
from inbox import db, outbox, tickets
from inbox.auth import require_user, visible_team_ids
from inbox.errors import ApiError, NotFound
from inbox.models import Channel, Cluster, Item, Ticket
from inbox.schemas import TAG, StrictSchema

bp = Blueprint("clusters", __name__, description="Near-duplicate groups")

GROUP_ACTIONS = ("hide", "delete", "close", "tag", "reply")


class ClusterOut(Schema):
    id = fields.Integer()
    size = fields.Integer()
    sample = fields.String()
    ticket_ids = fields.List(fields.Integer())
    created_at = fields.DateTime()
    last_at = fields.DateTime()


class GroupActionIn(StrictSchema):
    action = fields.String(required=True, validate=validate.OneOf(GROUP_ACTIONS))
    tags = fields.List(TAG, validate=validate.Length(1, 20))
    text = fields.String(validate=validate.Length(1, 5000))

    @validates_schema
    def _needs(self, data, **_kwargs):
        from marshmallow import ValidationError

        if data["action"] == "tag" and not data.get("tags"):
            raise ValidationError("tagging a group needs tags", "tags")
        if data["action"] == "reply" and not data.get("text"):
            raise ValidationError("replying to a group needs a text", "text")


class GroupActionOut(Schema):
    queued = fields.Integer()
    tickets = fields.Integer()


def _visible(cluster_id: int):
    user = require_user()
    s = db.session()
    cluster = s.get(Cluster, cluster_id)
    if cluster is None or cluster.team_id not in visible_team_ids(user):
        raise NotFound("no such group")
    return user, s, cluster


def _open_tickets(s, cluster: Cluster) -> list[Ticket]:
    return list(
        s.scalars(
            sa.select(Ticket)
            .where(Ticket.cluster_id == cluster.id, Ticket.status != "closed")
            .order_by(Ticket.id)
        )
    )


def _require(s, group: list[Ticket], action: str) -> None:
    """Refuse the whole group action if one of its channels cannot do it."""
    for channel in s.scalars(
        sa.select(Channel).where(Channel.id.in_({t.channel_id for t in group}))
    ):
        if action not in connector_class(channel.type).capabilities:
            raise ApiError(f"{channel.name} ({channel.type}) cannot {action}", "action")


@bp.route("/clusters/<int:cluster_id>", methods=["GET"])
@bp.response(200, ClusterOut)
def get_cluster(cluster_id):
    """A group of near-identical items: its size, a sample and its tickets."""
    _, s, cluster = _visible(cluster_id)
    ids = s.scalars(
        sa.select(Ticket.id).where(Ticket.cluster_id == cluster.id).order_by(Ticket.id)
    ).all()
    return {
        "id": cluster.id,
        "size": cluster.size,
        "sample": cluster.sample,
        "ticket_ids": list(ids),
        "created_at": cluster.created_at,
        "last_at": cluster.last_at,
    }


@bp.route("/clusters/<int:cluster_id>/actions", methods=["POST"])
@bp.arguments(GroupActionIn)
@bp.response(202, GroupActionOut)
def act_on_cluster(data, cluster_id):
    """Hide, delete, close, tag or reply to every open ticket of the group at once.

    Hides, deletes and replies go through the outbox like single ones (undo window, exactly
    once); a platform that cannot do the action is refused before anything is queued.
    """
    user, s, cluster = _visible(cluster_id)
    action = data["action"]
    group = _open_tickets(s, cluster)
    if not group:
        return {"queued": 0, "tickets": 0}
    queued = 0
    if action in ("hide", "delete"):
        _require(s, group, action)
        state = {"hide": Item.hidden, "delete": Item.deleted}[action]
        targets = s.scalars(
            sa.select(Item.id).where(
                Item.ticket_id.in_([t.id for t in group]),
                Item.direction == "in",
                state.is_(False),
            )
        ).all()
        for item_id in targets:
            outbox.queue_moderation(user, item_id, action)
            queued += 1
    elif action == "reply":
        _require(s, group, "reply")
        for ticket in group:
            outbox.queue_reply(user, ticket.id, data["text"])
            queued += 1
    else:
        for ticket in group:
            s.refresh(ticket)
            changes = {"version": ticket.version}
            if action == "close":
                changes["status"] = "closed"
            else:
                current = {row for row in tickets.ticket_rows(s, [ticket.id])[ticket.id]["tags"]}
                changes["tags"] = sorted(current | set(data["tags"]))
            try:
                tickets.update_ticket(user, ticket.id, changes)
            except ApiError:
                continue  # changed by someone meanwhile: theirs stands
            queued += 1
    return {"queued": queued, "tickets": len(group)}
