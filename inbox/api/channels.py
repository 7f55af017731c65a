"""Channels and teams: administration for admins, names and health for everyone."""

from __future__ import annotations

import sqlalchemy as sa
from flask_smorest import Blueprint

from inbox import channels, db
from inbox.auth import require_role, require_user, visible_team_ids
from inbox.errors import NotFound
from inbox.health import health_of
from inbox.models import Team, User, team_members
from inbox.schemas import (
    ChannelCheckOut,
    ChannelHealthOut,
    ChannelIn,
    ChannelOut,
    ChannelPatch,
    ChannelTypeOut,
    TeamOut,
    UserOut,
)

bp = Blueprint("channels", __name__, description="Channels, teams and people")


@bp.route("/channels", methods=["GET"])
@bp.response(200, ChannelOut(many=True))
def list_channels():
    """List the channels of your teams (every channel for admins)."""
    user = require_user()
    found = channels.list_channels(visible_team_ids(user))
    out = [channels.channel_out(c) for c in found]
    if user.role != "admin":
        for row in out:
            row.pop("config")
    return out


@bp.route("/channels/health", methods=["GET"])
@bp.response(200, ChannelHealthOut(many=True))
def channels_health():
    """Health of the channels of your teams: state, last error, recent traffic, next poll."""
    user = require_user()
    return health_of(channels.list_channels(visible_team_ids(user)))


@bp.route("/channels/<int:channel_id>/health", methods=["GET"])
@bp.response(200, ChannelHealthOut)
def channel_health(channel_id):
    """Health of one channel of your teams."""
    user = require_user()
    channel = channels.get_channel(channel_id)
    if channel.team_id not in visible_team_ids(user):
        raise NotFound("no such channel")
    return health_of([channel])[0]


@bp.route("/channels/<int:channel_id>/test", methods=["POST"])
@bp.response(200, ChannelCheckOut)
def test_channel(channel_id):
    """Call the platform once with the channel's credentials and say what is wrong (admins)."""
    require_role("admin")
    return channels.check_channel(channels.get_channel(channel_id))


@bp.route("/channel-types", methods=["GET"])
@bp.response(200, ChannelTypeOut(many=True))
def channel_types():
    """The connectors this inbox speaks, their capabilities and config fields (admins)."""
    require_role("admin")
    return channels.describe_types()


@bp.route("/channels", methods=["POST"])
@bp.arguments(ChannelIn)
@bp.response(201, ChannelOut)
def create_channel(data):
    """Connect a channel (admins); its config is checked by the connector's schema."""
    require_role("admin")
    return channels.channel_out(channels.create_channel(data))


@bp.route("/channels/<int:channel_id>", methods=["GET"])
@bp.response(200, ChannelOut)
def get_channel(channel_id):
    """Return one channel with its config, secrets masked (admins)."""
    require_role("admin")
    return channels.channel_out(channels.get_channel(channel_id))


@bp.route("/channels/<int:channel_id>", methods=["PATCH"])
@bp.arguments(ChannelPatch)
@bp.response(200, ChannelOut)
def patch_channel(changes, channel_id):
    """Rename, pause or reconfigure a channel (admins); omitted secrets are kept."""
    require_role("admin")
    return channels.channel_out(channels.update_channel(channels.get_channel(channel_id), changes))


@bp.route("/teams", methods=["GET"])
@bp.response(200, TeamOut(many=True))
def list_teams():
    """List the teams you can see."""
    ids = visible_team_ids(require_user())
    return db.session().scalars(sa.select(Team).where(Team.id.in_(ids)).order_by(Team.name)).all()


@bp.route("/users", methods=["GET"])
@bp.response(200, UserOut(many=True))
def list_users():
    """List the active people of your teams, for assignment."""
    ids = visible_team_ids(require_user())
    stmt = (
        sa.select(User)
        .outerjoin(team_members)
        .where(User.active, sa.or_(team_members.c.team_id.in_(ids), User.role == "admin"))
        .distinct()
        .order_by(User.name)
    )
    return db.session().scalars(stmt).all()
