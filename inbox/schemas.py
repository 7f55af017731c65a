"""Marshmallow schemas of the API: what goes in, what comes out."""

from __future__ import annotations

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from inbox.models import OUTBOX_ACTIONS, PRIORITIES, ROLES, SENTIMENTS, STATUSES

TAG = fields.String(validate=validate.Regexp(r"^[\w][\w .:/-]{0,63}$"))


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class LoginIn(StrictSchema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(1, 200))


class TeamOut(Schema):
    id = fields.Integer()
    name = fields.String()


class UserOut(Schema):
    id = fields.Integer()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    locale = fields.String()
    timezone = fields.String()
    shortcuts = fields.Boolean()
    teams = fields.List(fields.Nested(TeamOut))


def _known_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"unknown timezone {name!r}") from exc


class MePatch(StrictSchema):
    locale = fields.String(validate=validate.OneOf(["fr", "en"]))
    timezone = fields.String(validate=[validate.Length(1, 64), _known_timezone])
    shortcuts = fields.Boolean(metadata={"description": "single-key shortcuts on or off"})


class SessionOut(Schema):
    user = fields.Nested(UserOut, allow_none=True)
    csrf_token = fields.String()


class TicketRow(Schema):
    """A ticket's list row: what the queue shows and what live events carry."""

    id = fields.Integer()
    channel_id = fields.Integer()
    team_id = fields.Integer()
    kind = fields.String()
    status = fields.String()
    priority = fields.String()
    assignee_id = fields.Integer(allow_none=True)
    contact_id = fields.Integer(allow_none=True)
    author_name = fields.String()
    subject = fields.String()
    preview = fields.String()
    post_id = fields.String(allow_none=True)
    is_digest = fields.Boolean()
    item_count = fields.Integer()
    tags = fields.List(fields.String())
    snoozed_until = fields.DateTime(allow_none=True)
    last_inbound_at = fields.DateTime(allow_none=True)
    last_activity_at = fields.DateTime()
    created_at = fields.DateTime()
    version = fields.Integer()
    first_response_due_at = fields.DateTime(allow_none=True)
    next_response_due_at = fields.DateTime(allow_none=True)
    resolution_due_at = fields.DateTime(allow_none=True)
    first_response_breached = fields.Boolean()
    sentiment = fields.String(allow_none=True)
    language = fields.String(allow_none=True)
    cluster_id = fields.Integer(allow_none=True)
    cluster_size = fields.Integer(allow_none=True)
    incident_id = fields.Integer(allow_none=True)


class TicketPage(Schema):
    tickets = fields.List(fields.Nested(TicketRow))
    next_cursor = fields.String(allow_none=True)


class TicketQuery(StrictSchema):
    status = fields.List(fields.String(validate=validate.OneOf(STATUSES)), load_default=None)
    assignee = fields.String(load_default=None, validate=validate.Regexp(r"^(me|none|\d+)$"))
    team = fields.Integer(load_default=None)
    channel = fields.Integer(load_default=None)
    kind = fields.String(load_default=None)
    tag = TAG
    q = fields.String(load_default=None, validate=validate.Length(1, 200))
    priority = fields.String(load_default=None, validate=validate.OneOf(PRIORITIES))
    sentiment = fields.String(load_default=None, validate=validate.OneOf(SENTIMENTS))
    contact = fields.Integer(
        load_default=None, metadata={"description": "one contact's tickets on every channel"}
    )
    cluster = fields.Integer(load_default=None)
    incident = fields.Integer(load_default=None)
    sort = fields.String(
        load_default="activity",
        validate=validate.OneOf(["activity", "urgency"]),
        metadata={"description": "activity: newest first; urgency: SLA due, then longest wait"},
    )
    cursor = fields.String(load_default=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class ItemOut(Schema):
    id = fields.Integer()
    ticket_id = fields.Integer()
    kind = fields.String()
    direction = fields.String()
    author_name = fields.String()
    author_user_id = fields.Integer(allow_none=True)
    body = fields.String()
    url = fields.String(allow_none=True)
    rating = fields.Integer(allow_none=True)
    hidden = fields.Boolean()
    deleted = fields.Boolean()
    created_at = fields.DateTime()
    edited_at = fields.DateTime(allow_none=True)
    delivery = fields.String(allow_none=True)
    delivery_error = fields.String(allow_none=True)
    language = fields.String(allow_none=True)
    sentiment = fields.String(allow_none=True)
    sentiment_score = fields.Float(allow_none=True)
    sentiment_corrected = fields.Function(lambda item: item.sentiment_by is not None)


class ItemPatch(StrictSchema):
    sentiment = fields.String(required=True, validate=validate.OneOf(SENTIMENTS))


class EventOut(Schema):
    id = fields.Integer()
    type = fields.String()
    ticket_id = fields.Integer(allow_none=True)
    team_id = fields.Integer(allow_none=True)
    channel_id = fields.Integer(allow_none=True)
    actor_id = fields.Integer(allow_none=True)
    data = fields.Dict()
    created_at = fields.DateTime()


class TicketDetail(TicketRow):
    post_text = fields.String(allow_none=True)
    post_url = fields.String(allow_none=True)
    items = fields.List(fields.Nested(ItemOut))
    events = fields.List(fields.Nested(EventOut))


class TicketPatch(StrictSchema):
    version = fields.Integer(required=True)
    status = fields.String(validate=validate.OneOf(STATUSES))
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    assignee_id = fields.Integer(allow_none=True)
    tags = fields.List(TAG, validate=validate.Length(max=20))
    snoozed_until = fields.AwareDateTime(allow_none=True)

    @validates_schema
    def _snooze_needs_time(self, data, **_kwargs):
        if data.get("status") == "snoozed" and not data.get("snoozed_until"):
            raise ValidationError("give the time to snooze until", "snoozed_until")
        if len(data) == 1:
            raise ValidationError("nothing to change", "version")


class TextIn(StrictSchema):
    text = fields.String(required=True, validate=validate.Length(1, 10_000))


class ReplyIn(TextIn):
    seen_item_id = fields.Integer(
        load_default=None,
        metadata={"description": "the newest item on screen: a reply written since stops this one"},
    )


class ModerationIn(StrictSchema):
    action = fields.String(
        required=True, validate=validate.OneOf([a for a in OUTBOX_ACTIONS if a != "reply"])
    )


class OutboxOut(Schema):
    id = fields.Integer()
    action = fields.String()
    state = fields.String()
    ticket_id = fields.Integer()
    target_item_id = fields.Integer(allow_none=True)
    reply_item_id = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    send_after = fields.DateTime(
        allow_none=True, metadata={"description": "the end of its undo window"}
    )


class EventQuery(StrictSchema):
    after = fields.Integer(required=True, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=500, validate=validate.Range(1, 1000))


class EventPage(Schema):
    events = fields.List(fields.Nested(EventOut))
    tickets = fields.Dict(keys=fields.String(), values=fields.Nested(TicketRow))
    more = fields.Boolean()


class ChannelIn(StrictSchema):
    type = fields.String(required=True)
    name = fields.String(required=True, validate=validate.Length(1, 120))
    team_id = fields.Integer(required=True)
    config = fields.Dict(load_default=dict)
    poll_interval = fields.Integer(load_default=60, validate=validate.Range(5, 86400))
    reopen_window = fields.Integer(load_default=7 * 86400, validate=validate.Range(0, 90 * 86400))


class ChannelPatch(StrictSchema):
    name = fields.String(validate=validate.Length(1, 120))
    enabled = fields.Boolean()
    config = fields.Dict()
    poll_interval = fields.Integer(validate=validate.Range(5, 86400))
    reopen_window = fields.Integer(validate=validate.Range(0, 90 * 86400))


class ChannelOut(Schema):
    id = fields.Integer()
    type = fields.String()
    name = fields.String()
    team_id = fields.Integer()
    enabled = fields.Boolean()
    config = fields.Dict()
    poll_interval = fields.Integer()
    reopen_window = fields.Integer()
    health = fields.String()
    last_sync_at = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    webhook_url = fields.String(allow_none=True)


class ChannelHealthOut(Schema):
    channel_id = fields.Integer()
    name = fields.String()
    type = fields.String()
    enabled = fields.Boolean()
    health = fields.String(metadata={"description": "ok, error, needs_reconnection or silent"})
    last_error = fields.String(allow_none=True)
    last_sync_at = fields.DateTime(allow_none=True)
    last_item_at = fields.DateTime(allow_none=True)
    items_last_hour = fields.Integer()
    usual_per_hour = fields.Float(allow_none=True)
    next_poll_at = fields.DateTime(allow_none=True)
    polls = fields.Boolean()
    receives_webhooks = fields.Boolean()


class ChannelCheckOut(Schema):
    ok = fields.Boolean()
    error = fields.String(
        allow_none=True, metadata={"description": "auth_expired, rate_limited, transient…"}
    )
    message = fields.String()
    label = fields.String()


class ConfigFieldOut(Schema):
    name = fields.String()
    required = fields.Boolean()
    secret = fields.Boolean()
    default = fields.Raw(allow_none=True)
    description = fields.String(allow_none=True)


class ChannelTypeOut(Schema):
    type = fields.String()
    label = fields.String()
    capabilities = fields.List(fields.String())
    polls = fields.Boolean()
    receives_webhooks = fields.Boolean()
    config = fields.List(fields.Nested(ConfigFieldOut))


ROLE_FIELD = fields.String(validate=validate.OneOf(ROLES))
