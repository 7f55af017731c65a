"""Bad-buzz detection: a sudden, mostly negative spike on a post, a channel or a watched keyword.

Every `scan` (a job every 30 s; tests call it with a simulated `now`) compares, for each key,
the inbound items of the last `WINDOW` with the key's own usual level over the previous
`BASELINE`. All windows are read from the items' `created_at` (platform time), so a replayed
history is judged as it happened. A key spikes when both hold:

- its volume is improbable under its usual rate (Poisson tail under `VOLUME_ALPHA`, at least
  `MIN_COUNT` items), the rate having a floor so a silent post does not alarm at two comments;
- its negative share is well above its usual share (at least `MIN_NEGATIVE_SHARE` and
  `NEGATIVE_MARGIN` above usual, binomial tail under `NEGATIVE_ALPHA`): a viral happy post is
  not a bad buzz.

A post without an hour of history is measured against the channel's typical post (its
comments spread over its first `POST_LIFE`). A spike opens one `Incident` per key (a channel or
keyword spike whose items are mostly in an open incident already opens none), tags the tickets
of its items, and tells every CM of the team live. It resolves itself once the key's last
`QUIET` is back near its usual rate, unless a manager put it in crisis mode.

Queries per scan: one grouped query over the last `QUIET` of items (by channel and post), one
row query for watched keywords, and the baseline queries only for the few keys that pass the
cheap checks first.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.orm import Session

from inbox import db, events, sla
from inbox.analysis import fold
from inbox.db import utcnow
from inbox.models import Channel, Incident, Item, Ticket, User, WatchedKeyword

# A few minutes hold the first handful of items of a buzz; a week holds a full weekly cycle.
WINDOW = timedelta(minutes=5)
BASELINE = timedelta(days=7)
QUIET = timedelta(minutes=30)  # also the cool-down before a resolved key may open again
MIN_HISTORY = timedelta(hours=1)
POST_LIFE = timedelta(hours=3)  # a post gets most of its comments in its first hours
MIN_COUNT = 5
FLOOR_RATE = 0.5  # items per window: a silent post needs 6 items in 5 minutes to surprise
VOLUME_ALPHA = 1e-4
# Replayed calm weeks with busy product launches (tests/inbox/test_buzz.py, twelve seeds,
# scans every 2 minutes) raised no alarm at these, and 10 angry comments a minute are seen
# within 15 to 60 s: at least half negative and a binomial tail under 1 %.
NEGATIVE_ALPHA = 1e-2
MIN_NEGATIVE_SHARE = 0.5
NEGATIVE_MARGIN = 0.25
PRIOR_SHARE, PRIOR_ITEMS = 0.15, 20  # a key with little history leans on this usual share
QUIET_FACTOR, QUIET_MIN = 2.0, 3
MOSTLY = 0.5
SCOPES = ("post", "keyword", "channel")  # most specific first
LOCK_ID = 0x6275_7A7A  # "buzz": one scan at a time across workers (PostgreSQL)


# -- statistics -----------------------------------------------------------------------------


def poisson_tail(n: int, rate: float) -> float:
    """P(N >= n) for N ~ Poisson(rate): how surprising n items are at the usual rate."""
    if n <= 0:
        return 1.0
    if rate <= 0:
        return 0.0
    term = math.exp(-rate + n * math.log(rate) - math.lgamma(n + 1))
    if n <= rate:  # the tail holds most of the mass: one minus the head
        head = sum(math.exp(-rate + i * math.log(rate) - math.lgamma(i + 1)) for i in range(n))
        return max(0.0, 1.0 - head)
    total, i = 0.0, n
    while term > 1e-300 and term > total * 1e-12:
        total += term
        i += 1
        term *= rate / i
    return min(1.0, total)


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(K >= k) for K ~ Binomial(n, p): how surprising k negatives of n are at share p."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    log_p, log_q, log_n = math.log(p), math.log1p(-p), math.lgamma(n + 1)
    return min(
        1.0,
        sum(
            math.exp(
                log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
            )
            for i in range(k, n + 1)
        ),
    )


@dataclass
class Counts:
    """Inbound items of one key: in the window, and over the last QUIET."""

    n: int = 0
    known: int = 0  # items with a sentiment
    negative: int = 0
    covered: int = 0  # items whose ticket is already in another open incident
    first_at: datetime | None = None
    quiet_n: int = 0

    def add(self, other: Counts) -> None:
        self.n += other.n
        self.known += other.known
        self.negative += other.negative
        self.covered += other.covered
        self.quiet_n += other.quiet_n
        if other.first_at is not None:
            self.first_at = min(filter(None, (self.first_at, other.first_at)))

    @property
    def share(self) -> float:
        return self.negative / self.known if self.known else 0.0


@dataclass(frozen=True)
class Usual:
    rate: float  # items per window
    share: float  # negative share


def could_spike(c: Counts) -> bool:
    """Cheap necessary conditions, checked before any baseline is read."""
    return (
        c.n >= MIN_COUNT
        and c.known >= MIN_COUNT
        and c.share >= MIN_NEGATIVE_SHARE
        and poisson_tail(c.n, FLOOR_RATE) < VOLUME_ALPHA
    )


def is_spike(c: Counts, usual: Usual) -> bool:
    """Improbable volume and a negative share well above usual, both."""
    return (
        could_spike(c)
        and poisson_tail(c.n, usual.rate) < VOLUME_ALPHA
        and c.share >= usual.share + NEGATIVE_MARGIN
        and binomial_tail(c.negative, c.known, usual.share) < NEGATIVE_ALPHA
    )


def is_quiet(incident: Incident, c: Counts, now: datetime) -> bool:
    """The key's last QUIET is back near its usual rate (and the incident is that old)."""
    if incident.crisis or now - incident.detected_at < QUIET:
        return False
    expected = incident.baseline_rate * (QUIET / WINDOW)
    return c.quiet_n <= max(QUIET_FACTOR * expected, QUIET_MIN)


def _smoothed(negative: int, known: int, prior: float) -> float:
    return (negative + PRIOR_ITEMS * prior) / (known + PRIOR_ITEMS)


# -- keys and keyword matching --------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    scope: str
    team_id: int
    channel_id: int | None
    key: str


def key_of(incident: Incident) -> Key:
    return Key(incident.scope, incident.team_id, incident.channel_id, incident.key)


@lru_cache(maxsize=1024)
def _term_pattern(term: str) -> re.Pattern:
    words = fold(term).split()
    return re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)")


def mentions(term: str, body: str, folded: str | None = None) -> bool:
    """Whether the body names the term, case and accents aside, on word boundaries."""
    return bool(_term_pattern(term).search(folded if folded is not None else fold(body)))


def like_prefilter(term: str) -> str:
    """A LIKE pattern mentions of the term match (its consonants that French and English
    never accent, in order), so SQL discards most of a long range before Python folds the
    rest. Exotic marks on those letters slip through it: only long ranges (baselines,
    timelines) use it; the scan's recent window and ticket tagging fold every item."""
    kept = re.sub(r"[^bdfghjklmpqrstvwxz0-9]+", "%", fold(term))
    return f"%{kept.strip('%')}%" if kept.strip("%") else "%"


# -- what ingest calls ----------------------------------------------------------------------


def open_incidents(s: Session) -> list[Incident]:
    """The open incidents of every team, for ingest to tag new items' tickets."""
    return list(s.scalars(sa.select(Incident).where(Incident.status == "open")))


def incident_for(
    incidents: list[Incident],
    *,
    channel_id: int,
    post_id: str | None,
    body: str,
    team_id: int | None = None,
) -> Incident | None:
    """The open incident one inbound item belongs to: its post's, else its channel's, else a
    watched keyword's it mentions (of `team_id`, the channel's team, when given)."""
    folded = None
    best: dict[str, Incident] = {}
    for incident in incidents:
        if incident.status != "open":
            continue
        if incident.scope == "post":
            hit = incident.channel_id == channel_id and post_id is not None
            hit = hit and incident.key == post_id
        elif incident.scope == "channel":
            hit = incident.channel_id == channel_id
        else:
            if team_id is not None and incident.team_id != team_id:
                continue
            folded = folded if folded is not None else fold(body or "")
            hit = mentions(incident.key, body, folded)
        if hit and (incident.scope not in best or incident.id > best[incident.scope].id):
            best[incident.scope] = incident
    return next((best[scope] for scope in SCOPES if scope in best), None)


def crisis_paused(incident: Incident | None) -> bool:
    """Whether automatic actions (moderation rules) are paused on this incident's items."""
    return incident is not None and incident.status == "open" and bool(incident.crisis)


# -- the scan -------------------------------------------------------------------------------


@dataclass
class Observed:
    """What one scan saw in the recent items, per key."""

    groups: dict[tuple[int, str | None], Counts]  # (channel, post)
    counts: dict[Key, Counts] = field(default_factory=dict)
    keyword_rows: dict[Key, list] = field(default_factory=dict)
    # window items per channel that keyword incidents opened by this scan took in
    taken: dict[int, int] = field(default_factory=lambda: defaultdict(int))


def scan(now: datetime | None = None) -> list[int]:
    """Open, grow and resolve incidents from the items up to `now`; return the ids touched."""
    now = now or utcnow()
    with db.transaction() as s:
        if not _take_lock(s):
            return []
        teams = dict(s.execute(sa.select(Channel.id, Channel.team_id)).all())
        observed = _observe(s, now, teams)
        opened, changes = _detect(s, now, observed, teams)
        written = events.write(s, changes)
    from inbox import realtime

    realtime.publish(written)
    return sorted({e["data"]["incident_id"] for e in written} | set(opened))


def _take_lock(s: Session) -> bool:
    """On PostgreSQL, skip this scan if another worker is scanning (SQLite: BEGIN IMMEDIATE)."""
    if s.get_bind().dialect.name != "postgresql":
        return True
    return bool(s.scalar(sa.text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": LOCK_ID}))


def _observe(s: Session, now: datetime, teams: dict[int, int]) -> Observed:
    observed = Observed(_recent_groups(s, now))
    for (channel_id, post_id), c in observed.groups.items():
        team_id = teams[channel_id]
        if post_id is not None:
            observed.counts[Key("post", team_id, channel_id, post_id)] = c
        total = observed.counts.setdefault(
            Key("channel", team_id, channel_id, str(channel_id)), Counts()
        )
        total.add(c)
    _observe_keywords(s, now, teams, observed)
    return observed


def _recent_groups(s: Session, now: datetime) -> dict[tuple[int, str | None], Counts]:
    """One grouped query: per channel and post, the window's counts and the QUIET count."""
    in_window = Item.created_at > now - WINDOW
    count = sa.func.count
    rows = s.execute(
        sa.select(
            Item.channel_id,
            Item.post_id,
            count().filter(in_window).label("n"),
            count(Item.sentiment).filter(in_window).label("known"),
            count().filter(in_window, Item.sentiment == "negative").label("negative"),
            count().filter(in_window, Incident.id.is_not(None)).label("covered"),
            sa.func.min(Item.created_at).filter(in_window).label("first_at"),
            count().label("quiet_n"),
        )
        .join(Ticket, Ticket.id == Item.ticket_id)
        .outerjoin(Incident, sa.and_(Incident.id == Ticket.incident_id, Incident.status == "open"))
        .where(Item.direction == "in", Item.created_at > now - QUIET, Item.created_at <= now)
        .group_by(Item.channel_id, Item.post_id)
    )
    return {
        (row.channel_id, row.post_id): Counts(
            row.n, row.known, row.negative, row.covered, row.first_at, row.quiet_n
        )
        for row in rows
    }


def _by_time(column):
    """The column in an expression no index serves, so the planner walks ix_items_created
    over the time range rather than every item the channel ever had (ix_items_channel_received
    bounds received_at, not created_at)."""
    return column + 0


def _keywords_by_team(s: Session) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    for team_id, term in s.execute(sa.select(WatchedKeyword.team_id, WatchedKeyword.term)):
        found[team_id].append(term)
    return found


def _keyword_rows(s: Session, channel_ids, terms, start, end, recent: bool):
    """Inbound items of these channels in (start, end]: every one in the recent window (with
    whether it is in an open incident), else those the terms' LIKE prefilter lets through."""
    columns = [Item.ticket_id, Item.channel_id, Item.post_id, Item.body, Item.sentiment]
    columns.append(Item.created_at)
    stmt = sa.select(*columns).where(
        Item.direction == "in",
        _by_time(Item.channel_id).in_(channel_ids),
        Item.created_at > start,
        Item.created_at <= end,
    )
    if not recent:
        stmt = stmt.where(sa.or_(*(Item.body.ilike(like_prefilter(t)) for t in terms)))
    else:
        stmt = (
            stmt.add_columns(Incident.id.label("open_incident"))
            .join(Ticket, Ticket.id == Item.ticket_id)
            .outerjoin(
                Incident, sa.and_(Incident.id == Ticket.incident_id, Incident.status == "open")
            )
        )
    return s.execute(stmt).all()


def _observe_keywords(s: Session, now: datetime, teams: dict[int, int], observed: Observed):
    window_start = now - WINDOW
    for team_id, terms in _keywords_by_team(s).items():
        channels = [c for c, t in teams.items() if t == team_id]
        if not channels:
            continue
        rows = _keyword_rows(s, channels, terms, now - QUIET, now, recent=True)
        folded = [(row, fold(row.body or "")) for row in rows]
        for term in terms:
            key = Key("keyword", team_id, None, term)
            matched = [row for row, text in folded if mentions(term, row.body, text)]
            c = observed.counts[key] = Counts(quiet_n=len(matched))
            recent = [row for row in matched if row.created_at > window_start]
            observed.keyword_rows[key] = recent
            c.n = len(recent)
            c.known = sum(row.sentiment is not None for row in recent)
            c.negative = sum(row.sentiment == "negative" for row in recent)
            c.covered = sum(row.open_incident is not None for row in recent)
            c.first_at = min((row.created_at for row in recent), default=None)


# -- deciding -------------------------------------------------------------------------------


def _detect(s: Session, now: datetime, observed: Observed, teams: dict[int, int]):
    """Grow or resolve the open incidents, then open new ones; return (opened ids, events)."""
    open_ = {key_of(i): i for i in open_incidents(s)}
    changes: list[dict] = []
    for key, incident in list(open_.items()):
        c = observed.counts.get(key, Counts())
        if is_quiet(incident, c, now):
            changes += resolve(s, incident, now)
            del open_[key]
        elif _grow(s, incident, c, now):
            changes.append(event("incident_updated", incident))
    opened = _open_new(s, now, observed, teams, open_)
    return [i.id for i in opened], changes + [event("incident_opened", i) for i in opened]


def _open_new(s: Session, now, observed: Observed, teams, open_: dict) -> list[Incident]:
    """Open an incident for each key that spikes, the most specific scopes first so that a
    broader spike made of the same items is seen as covered."""
    opened = []
    cooling = _recently_resolved(s, now)
    for scope in SCOPES:
        candidates = [
            key
            for key, c in observed.counts.items()
            if key.scope == scope and key not in open_ and key not in cooling and could_spike(c)
        ]
        candidates = [k for k in candidates if not _mostly_covered(k, observed, open_)]
        usual = _usual_levels(s, now, candidates, teams)
        for key in candidates:
            if is_spike(observed.counts[key], usual[key]):
                open_[key] = _open(s, key, observed.counts[key], usual[key], now)
                opened.append(open_[key])
                for row in observed.keyword_rows.get(key, []):
                    observed.taken[row.channel_id] += row.open_incident is None
    return opened


def _recently_resolved(s: Session, now: datetime) -> set[Key]:
    rows = s.scalars(
        sa.select(Incident).where(Incident.status == "resolved", Incident.resolved_at > now - QUIET)
    )
    return {key_of(i) for i in rows}


def _mostly_covered(key: Key, observed: Observed, open_: dict[Key, Incident]) -> bool:
    """Whether most of the key's window items already belong to an open incident."""
    c = observed.counts[key]
    covered = c.covered
    if key.scope == "channel":
        covered = 0
        for (channel_id, post_id), group in observed.groups.items():
            if channel_id == key.channel_id:
                post = Key("post", key.team_id, channel_id, post_id or "")
                covered += group.n if post in open_ else group.covered
        covered = min(c.n, covered + observed.taken[key.channel_id])
    elif key.scope == "keyword":
        covered = sum(
            1
            for row in observed.keyword_rows[key]
            if row.open_incident is not None
            or Key("post", key.team_id, row.channel_id, row.post_id or "") in open_
            or Key("channel", key.team_id, row.channel_id, str(row.channel_id)) in open_
        )
    return c.n > 0 and covered / c.n > MOSTLY


def _grow(s: Session, incident: Incident, c: Counts, now: datetime) -> bool:
    """Tag the tickets of new items; note a bigger peak. True when the incident grew."""
    grew = False
    if c.n > incident.window_count:
        incident.window_count, incident.negative_share = c.n, round(c.share, 4)
        grew = True
    return attach_tickets(s, incident, now) > 0 or grew


def _usual_levels(
    s: Session, now: datetime, keys: list[Key], teams: dict[int, int]
) -> dict[Key, Usual]:
    """Each key's usual rate and negative share over the BASELINE before the window."""
    since, until = now - BASELINE, now - WINDOW
    usual: dict[Key, Usual] = {}
    by_channel = [k for k in keys if k.scope != "keyword"]
    if by_channel:
        history = _history_groups(s, {k.channel_id for k in by_channel}, since, until)
        for key in by_channel:
            usual[key] = _usual_of(key, history, since, until)
    by_team: dict[int, list[Key]] = defaultdict(list)
    for key in keys:
        if key.scope == "keyword":
            by_team[key.team_id].append(key)
    for team_id, team_keys in by_team.items():
        channels = [c for c, t in teams.items() if t == team_id]
        usual |= _keyword_usual(s, channels, team_keys, since, until)
    return usual


def _history_groups(s: Session, channel_ids, since: datetime, until: datetime) -> dict:
    """One grouped query over the baseline: per channel and post, counts and first item."""
    rows = s.execute(
        sa.select(
            Item.channel_id,
            Item.post_id,
            sa.func.count().label("n"),
            sa.func.count(Item.sentiment).label("known"),
            sa.func.count().filter(Item.sentiment == "negative").label("negative"),
            sa.func.min(Item.created_at).label("first_at"),
        )
        .where(
            Item.direction == "in",
            _by_time(Item.channel_id).in_(channel_ids),
            Item.created_at > since,
            Item.created_at <= until,
        )
        .group_by(Item.channel_id, Item.post_id)
    )
    return {
        (r.channel_id, r.post_id): Counts(r.n, r.known, r.negative, first_at=r.first_at)
        for r in rows
    }


def _rate(c: Counts | None, since: datetime, until: datetime) -> float | None:
    """Items per window since the key's first item; None with less than MIN_HISTORY of it."""
    if c is None or c.first_at is None:
        return None
    span = until - max(since, c.first_at)
    return c.n / (span / WINDOW) if span >= MIN_HISTORY else None


def _usual_of(key: Key, history: dict, since: datetime, until: datetime) -> Usual:
    channel, posts = Counts(), []
    for (channel_id, post_id), c in history.items():
        if channel_id == key.channel_id:
            channel.add(c)
            if post_id is not None:
                posts.append(c)
    channel_share = _smoothed(channel.negative, channel.known, PRIOR_SHARE)
    if key.scope == "channel":
        return Usual(max(FLOOR_RATE, _rate(channel, since, until) or 0.0), channel_share)
    own = history.get((key.channel_id, key.key))
    rate = _rate(own, since, until)
    if rate is None:  # a new post: the channel's typical post, its comments over POST_LIFE
        typical = sum(c.n for c in posts) / len(posts) if posts else 0.0
        rate = typical / (POST_LIFE / WINDOW)
    share = _smoothed(own.negative, own.known, channel_share) if own else channel_share
    return Usual(max(FLOOR_RATE, rate), share)


def _keyword_usual(s: Session, channels, keys: list[Key], since, until) -> dict[Key, Usual]:
    rows = _keyword_rows(s, channels, [k.key for k in keys], since, until, recent=False)
    folded = [(row, fold(row.body or "")) for row in rows]
    usual = {}
    for key in keys:
        matched = [row for row, text in folded if mentions(key.key, row.body, text)]
        c = Counts(
            len(matched),
            sum(r.sentiment is not None for r in matched),
            sum(r.sentiment == "negative" for r in matched),
            first_at=min((r.created_at for r in matched), default=None),
        )
        rate = _rate(c, since, until) or 0.0
        usual[key] = Usual(max(FLOOR_RATE, rate), _smoothed(c.negative, c.known, PRIOR_SHARE))
    return usual


def _open(s: Session, key: Key, c: Counts, usual: Usual, now: datetime) -> Incident:
    incident = Incident(
        team_id=key.team_id,
        channel_id=key.channel_id,
        scope=key.scope,
        key=key.key,
        status="open",
        started_at=c.first_at or now,
        detected_at=now,
        window_count=c.n,
        baseline_rate=round(usual.rate, 4),
        negative_share=round(c.share, 4),
        usual_negative_share=round(usual.share, 4),
        holding_replies=[],
    )
    s.add(incident)
    s.flush()
    attach_tickets(s, incident, now)
    return incident


def attach_tickets(s: Session, incident: Incident, now: datetime) -> int:
    """Tag the tickets of the key's items since the spike began (earlier scans tagged those
    before the last QUIET); return how many tickets joined."""
    start = max(incident.started_at, now - QUIET)
    ids = sorted({row.ticket_id for row in key_items(s, incident, start, now, exact=True)})
    resolved = sa.select(Incident.id).where(Incident.status == "resolved")
    joined = 0
    for at in range(0, len(ids), 500):
        joined += s.execute(
            sa.update(Ticket)
            .where(
                Ticket.id.in_(ids[at : at + 500]),
                sa.or_(Ticket.incident_id.is_(None), Ticket.incident_id.in_(resolved)),
            )
            .values(incident_id=incident.id)
            .execution_options(synchronize_session=False)
        ).rowcount
    if incident.crisis:  # also those ingest tagged after it had started their clocks
        sla.recompute_tickets(s, ids)
    return joined


def key_items(
    s: Session, incident: Incident, start: datetime, end: datetime, exact: bool = False
) -> list:
    """The inbound items of the incident's key in [start, end]: ticket_id, created_at,
    sentiment (for a keyword, `exact` folds every item instead of prefiltering in SQL)."""
    columns = [Item.ticket_id, Item.created_at, Item.sentiment]
    where = [Item.direction == "in", Item.created_at >= start, Item.created_at <= end]
    if incident.scope == "keyword":
        where.append(
            _by_time(Item.channel_id).in_(
                sa.select(Channel.id).where(Channel.team_id == incident.team_id)
            )
        )
        if not exact:
            where.append(Item.body.ilike(like_prefilter(incident.key)))
        rows = s.execute(sa.select(*columns, Item.body).where(*where)).all()
        return [row for row in rows if mentions(incident.key, row.body or "")]
    where.append(_by_time(Item.channel_id) == incident.channel_id)
    if incident.scope == "post":
        where.append(Item.post_id == incident.key)
    return s.execute(sa.select(*columns).where(*where)).all()


TIMELINE_LEAD = timedelta(minutes=30)
TIMELINE_SPAN = timedelta(hours=24)


def timeline(s: Session, incident: Incident, now: datetime | None = None) -> list[dict]:
    """Inbound and negative items per minute, from half an hour before the spike to its end
    (at most a day), every minute present so the chart needs no gaps filled."""
    start = _minute(incident.started_at - TIMELINE_LEAD)
    live = max(now or utcnow(), incident.detected_at)  # a replayed history may be ahead
    end = min(incident.resolved_at or live, start + TIMELINE_SPAN)
    buckets: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    for row in key_items(s, incident, start, end):
        bucket = buckets[_minute(row.created_at)]
        bucket[0] += 1
        bucket[1] += row.sentiment == "negative"
    out, at = [], start
    while at <= end:
        count, negative = buckets.get(at, (0, 0))
        out.append({"at": at, "count": count, "negative": negative})
        at += timedelta(minutes=1)
    return out


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def resolve(s: Session, incident: Incident, now: datetime, actor: User | None = None) -> list:
    """Close the incident: crisis mode ends and its tickets' SLA clocks go back to normal."""
    was_crisis = incident.crisis
    incident.status, incident.resolved_at, incident.crisis = "resolved", now, False
    if was_crisis:
        sla.recompute_incident(s, incident.id)
    return [event("incident_resolved", incident, actor)]


def set_crisis(
    s: Session,
    incident: Incident,
    on: bool,
    actor: User,
    now: datetime,
    policy_id: int | None = None,
) -> list:
    """Turn crisis mode on or off, or change its SLA policy; the incident's open tickets'
    due times follow."""
    new_policy = policy_id is not None and policy_id != incident.crisis_policy_id
    if incident.crisis == on and not new_policy:
        return []
    if policy_id is not None:
        incident.crisis_policy_id = policy_id
    if on and not incident.crisis:
        incident.crisis_since, incident.crisis_by = now, actor.id
    incident.crisis = on
    sla.recompute_incident(s, incident.id)
    return [event("incident_updated", incident, actor)]


def event(type_: str, incident: Incident, actor: User | None = None) -> dict:
    """An incident event for the whole team (no ticket), as the socket envelope carries."""
    data = {
        "incident_id": incident.id,
        "scope": incident.scope,
        "key": incident.key,
        "crisis": incident.crisis,
    }
    return {
        "type": type_,
        "team_id": incident.team_id,
        "ticket_id": None,
        "channel_id": incident.channel_id,
        "actor_id": actor.id if actor else None,
        "data": data,
        "created_at": utcnow(),
    }
