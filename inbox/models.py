"""The data model: people, channels, contacts, tickets, items, outbox and events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inbox.db import Base, utcnow

ROLES = ("admin", "manager", "agent")
STATUSES = ("open", "pending", "snoozed", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
ITEM_KINDS = ("comment", "dm", "mention", "quote", "repost", "review", "email", "reply", "note")
OUTBOX_ACTIONS = ("reply", "hide", "unhide", "delete", "like")
OUTBOX_STATES = ("approval", "queued", "sending", "sent", "failed", "cancelled")
SENTIMENTS = ("negative", "neutral", "positive")
CHANNEL_HEALTH = ("ok", "error", "needs_reconnection")

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

team_members = sa.Table(
    "team_members",
    Base.metadata,
    sa.Column("team_id", sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16), default="agent")
    locale: Mapped[str] = mapped_column(sa.String(8), default="fr")
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Europe/Paris")
    shortcuts: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    teams: Mapped[list[Team]] = relationship(secondary=team_members, back_populates="members")

    __table_args__ = (sa.CheckConstraint(sa.text("role in ('admin','manager','agent')"), "role"),)


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    members: Mapped[list[User]] = relationship(secondary=team_members, back_populates="teams")


class Channel(Base):
    __tablename__ = "channels"
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(32))
    name: Mapped[str] = mapped_column(sa.String(120))
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"), index=True)
    config_encrypted: Mapped[str] = mapped_column(sa.Text, default="")
    cursor: Mapped[Any | None] = mapped_column(JSONType)
    enabled: Mapped[bool] = mapped_column(default=True)
    poll_interval: Mapped[int] = mapped_column(default=60)
    reopen_window: Mapped[int] = mapped_column(default=7 * 24 * 3600)
    health: Mapped[str] = mapped_column(sa.String(24), default="ok")
    next_poll_at: Mapped[datetime | None] = mapped_column(index=True)
    last_sync_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Contact(Base):
    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    # lists moderation rules can test: a VIP's message is never auto-hidden by accident,
    # a blocked author's is
    vip: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    blocked: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Identity(Base):
    """One contact's account on one platform."""

    __tablename__ = "identities"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(sa.ForeignKey("contacts.id"), index=True)
    platform: Mapped[str] = mapped_column(sa.String(32))
    external_id: Mapped[str] = mapped_column(sa.String(255))
    handle: Mapped[str | None] = mapped_column(sa.String(255))
    name: Mapped[str | None] = mapped_column(sa.String(255))

    __table_args__ = (sa.UniqueConstraint("platform", "external_id"),)


class Ticket(Base):
    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(sa.ForeignKey("channels.id"))
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"))
    thread_key: Mapped[str] = mapped_column(sa.String(255))
    kind: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    priority: Mapped[str] = mapped_column(sa.String(16), default="normal")
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id"), index=True)
    post_id: Mapped[str | None] = mapped_column(sa.String(255))
    is_digest: Mapped[bool] = mapped_column(default=False)
    previous_ticket_id: Mapped[int | None] = mapped_column(BigId)
    subject: Mapped[str] = mapped_column(sa.String(300), default="")
    preview: Mapped[str] = mapped_column(sa.String(300), default="")
    author_name: Mapped[str] = mapped_column(sa.String(255), default="")
    item_count: Mapped[int] = mapped_column(default=0)
    snoozed_until: Mapped[datetime | None]
    last_inbound_at: Mapped[datetime | None]
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)
    # SLA clocks (inbox/sla.py): due times, the moment the clock next needs looking at, and
    # the measures stored when they happen so reports are single aggregates
    sla_policy_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sla_policies.id"))
    sla_waiting_since: Mapped[datetime | None]  # the unanswered inbound the clock runs for
    first_response_due_at: Mapped[datetime | None]
    next_response_due_at: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None]
    sla_next_check_at: Mapped[datetime | None] = mapped_column(index=True)
    sla_paused_at: Mapped[datetime | None]
    sla_paused_seconds: Mapped[float] = mapped_column(default=0.0)  # business time paused
    sla_state: Mapped[dict] = mapped_column(JSONType, default=dict)  # warnings given, pauses
    first_response_at: Mapped[datetime | None]
    first_response_breached: Mapped[bool] = mapped_column(default=False)
    resolution_seconds: Mapped[float | None]
    resolution_business_seconds: Mapped[float | None]
    resolution_breached: Mapped[bool] = mapped_column(default=False)
    # the newest inbound item's analysis (inbox/analysis.py), for the row and the filters
    sentiment: Mapped[str | None] = mapped_column(sa.String(8))
    language: Mapped[str | None] = mapped_column(sa.String(8))
    # near-duplicates (inbox/clusters.py) and bad-buzz incidents (inbox/buzz.py)
    cluster_id: Mapped[int | None] = mapped_column(BigId, index=True)
    incident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("incidents.id"), index=True)
    # the post (video, photo, tweet) the conversation answers, as its platform showed it
    post_text: Mapped[str | None] = mapped_column(sa.Text)
    post_url: Mapped[str | None] = mapped_column(sa.String(1000))

    __table_args__ = (
        sa.Index("ix_tickets_thread", "channel_id", "thread_key", "id"),
        sa.Index("ix_tickets_created", "created_at", "id"),
        sa.Index("ix_tickets_closed", "closed_at"),
        sa.Index("ix_tickets_queue", "team_id", "status", "last_activity_at", "id"),
        sa.Index("ix_tickets_activity", "last_activity_at", "id"),
        sa.CheckConstraint(sa.text("status in ('open','pending','snoozed','closed')"), "status"),
    )


class Calendar(Base):
    """Business hours: a timezone, time spans per weekday, public and custom closed days."""

    __tablename__ = "calendars"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Europe/Paris")
    # {"mon": [["09:00", "12:30"], ["13:30", "18:00"]], ..., "sun": []}
    hours: Mapped[dict] = mapped_column(JSONType, default=dict)
    holidays_country: Mapped[str | None] = mapped_column(sa.String(8), default="FR")
    closed_days: Mapped[list] = mapped_column(JSONType, default=list)  # ["2026-12-24", ...]
    is_default: Mapped[bool] = mapped_column(default=False)


class SlaPolicy(Base):
    """Response targets for the tickets it matches; the first matching policy by position wins."""

    __tablename__ = "sla_policies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    position: Mapped[int] = mapped_column(default=100, index=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    channel_id: Mapped[int | None] = mapped_column(sa.ForeignKey("channels.id"))
    kind: Mapped[str | None] = mapped_column(sa.String(16))
    priority: Mapped[str | None] = mapped_column(sa.String(16))
    first_response_minutes: Mapped[int | None]
    next_response_minutes: Mapped[int | None]
    resolution_minutes: Mapped[int | None]
    business_hours: Mapped[bool] = mapped_column(default=True)
    calendar_id: Mapped[int | None] = mapped_column(sa.ForeignKey("calendars.id"))
    warn_minutes: Mapped[int] = mapped_column(default=15)


class SlaResponse(Base):
    """One answered wait: a first or next response, measured when the human reply went out."""

    __tablename__ = "sla_responses"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("tickets.id"), index=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"))
    channel_id: Mapped[int] = mapped_column(sa.ForeignKey("channels.id"))
    kind: Mapped[str] = mapped_column(sa.String(16))  # the ticket's item kind
    priority: Mapped[str] = mapped_column(sa.String(16))
    which: Mapped[str] = mapped_column(sa.String(8))  # first | next
    agent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    waiting_since: Mapped[datetime]
    responded_at: Mapped[datetime]
    wall_seconds: Mapped[float]
    business_seconds: Mapped[float]
    target_seconds: Mapped[float | None]
    breached: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (sa.Index("ix_sla_responses_time", "responded_at", "id"),)


class TicketTag(Base):
    __tablename__ = "ticket_tags"
    ticket_id: Mapped[int] = mapped_column(
        BigId, sa.ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(sa.String(64), primary_key=True, index=True)


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(sa.ForeignKey("channels.id"))
    external_id: Mapped[str | None] = mapped_column(sa.String(255))
    ticket_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("tickets.id"))
    kind: Mapped[str] = mapped_column(sa.String(16))
    direction: Mapped[str] = mapped_column(sa.String(4))  # in, out, note
    author_identity_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("identities.id"))
    author_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    author_name: Mapped[str] = mapped_column(sa.String(255), default="")
    body: Mapped[str] = mapped_column(sa.Text, default="")
    url: Mapped[str | None] = mapped_column(sa.String(1000))
    post_id: Mapped[str | None] = mapped_column(sa.String(255))
    thread_id: Mapped[str | None] = mapped_column(sa.String(255))
    parent_external_id: Mapped[str | None] = mapped_column(sa.String(255))
    rating: Mapped[int | None]
    hidden: Mapped[bool] = mapped_column(default=False)
    deleted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None]
    language: Mapped[str | None] = mapped_column(sa.String(8))
    sentiment: Mapped[str | None] = mapped_column(sa.String(8))
    sentiment_score: Mapped[float | None]
    sentiment_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))  # corrected
    followers: Mapped[int | None]  # the author's audience, where the platform gives it

    __table_args__ = (
        sa.UniqueConstraint("channel_id", "external_id"),
        sa.Index("ix_items_ticket", "ticket_id", "id"),
        sa.Index("ix_items_channel_received", "channel_id", "received_at"),
        sa.Index("ix_items_created", "created_at"),
        sa.Index("ix_items_post", "channel_id", "post_id", "created_at"),  # bad-buzz baselines
    )


class WebhookReceipt(Base):
    """A verified push already accepted: the same signed body again is a replay, not news."""

    __tablename__ = "webhook_receipts"
    channel_id: Mapped[int] = mapped_column(sa.ForeignKey("channels.id"), primary_key=True)
    digest: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Outbox(Base):
    """A reply or moderation action on its way to a platform: stored first, sent once."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("tickets.id"), index=True)
    channel_id: Mapped[int] = mapped_column(sa.ForeignKey("channels.id"))
    action: Mapped[str] = mapped_column(sa.String(16))
    target_item_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("items.id"))
    reply_item_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("items.id"))
    text: Mapped[str | None] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    external_id: Mapped[str | None] = mapped_column(sa.String(255))
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    # the undo window: public actions wait until then, and can be cancelled before
    send_after: Mapped[datetime | None]
    sla_response_id: Mapped[int | None] = mapped_column(BigId)
    # automation and crisis mode: the rule that queued it; who approved a held reply
    rule_id: Mapped[int | None] = mapped_column(sa.ForeignKey("moderation_rules.id"))
    approved_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class CannedReply(Base):
    """A prepared answer; {author_name}, {first_name}, {agent_name}, {channel} are filled in."""

    __tablename__ = "canned_replies"
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("teams.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(120))
    body: Mapped[str] = mapped_column(sa.Text)
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    """An append-only record of a change; feeds live push, timelines, audit and reports."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(40))
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("teams.id"))
    ticket_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("tickets.id"))
    channel_id: Mapped[int | None] = mapped_column(sa.ForeignKey("channels.id"))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.Index("ix_events_team", "team_id", "id"),
        sa.Index("ix_events_ticket", "ticket_id", "id"),
    )


class ModerationRule(Base):
    """Conditions on an inbound item and the actions taken when they all hold (inbox/rules.py).

    Rules run in `position` order inside ingest; one with `stop` ends the chain when it fires.
    A rule is created disabled: a dry run over past items comes first, enabling is a step.
    """

    __tablename__ = "moderation_rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    position: Mapped[int] = mapped_column(default=100)
    enabled: Mapped[bool] = mapped_column(default=False)
    stop: Mapped[bool] = mapped_column(default=False)
    conditions: Mapped[list] = mapped_column(JSONType, default=list)
    actions: Mapped[list] = mapped_column(JSONType, default=list)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)


class RuleHit(Base):
    """One action a rule took on one item: the audit line and, for hides and closes, the
    review queue entry a CM can restore."""

    __tablename__ = "rule_hits"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("moderation_rules.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("items.id"))
    ticket_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("tickets.id"), index=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"))
    action: Mapped[str] = mapped_column(sa.String(16))
    outbox_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    restored_at: Mapped[datetime | None]
    restored_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    __table_args__ = (sa.Index("ix_rule_hits_review", "team_id", "restored_at", "id"),)


class Cluster(Base):
    """Near-identical inbound items (a copy-paste raid, one question asked 200 times).

    `signature` is the first item's MinHash; `bands` rows let a new item find it by index.
    """

    __tablename__ = "clusters"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"))
    signature: Mapped[list] = mapped_column(JSONType)
    sample: Mapped[str] = mapped_column(sa.String(300), default="")
    size: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClusterBand(Base):
    """One locality-sensitive hash band of a cluster's signature (banded MinHash lookup)."""

    __tablename__ = "cluster_bands"
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"), primary_key=True)
    band: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    cluster_id: Mapped[int] = mapped_column(
        BigId, sa.ForeignKey("clusters.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Incident(Base):
    """A spike of inbound (and negative) items on one post, channel or watched keyword."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"), index=True)
    channel_id: Mapped[int | None] = mapped_column(sa.ForeignKey("channels.id"))
    scope: Mapped[str] = mapped_column(sa.String(16))  # post | channel | keyword
    key: Mapped[str] = mapped_column(sa.String(255))
    status: Mapped[str] = mapped_column(sa.String(16), default="open")  # open | resolved
    started_at: Mapped[datetime]
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    window_count: Mapped[int] = mapped_column(default=0)
    baseline_rate: Mapped[float] = mapped_column(default=0.0)  # items per window, usually
    negative_share: Mapped[float] = mapped_column(default=0.0)
    usual_negative_share: Mapped[float] = mapped_column(default=0.0)
    crisis: Mapped[bool] = mapped_column(default=False)
    crisis_since: Mapped[datetime | None]
    crisis_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    crisis_policy_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sla_policies.id"))
    holding_replies: Mapped[list] = mapped_column(JSONType, default=list)

    __table_args__ = (sa.Index("ix_incidents_open", "status", "scope", "key"),)


class WatchedKeyword(Base):
    """A term whose mentions bad-buzz detection follows across channels."""

    __tablename__ = "watched_keywords"
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"))
    term: Mapped[str] = mapped_column(sa.String(120))

    __table_args__ = (sa.UniqueConstraint("team_id", "term"),)
