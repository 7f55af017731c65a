"""Demo data for `inbox run --demo`: a team, three people and a channel with live traffic."""

from __future__ import annotations

import sqlalchemy as sa

from inbox import db
from inbox.auth import create_user
from inbox.channels import create_channel
from inbox.models import Channel, Team, User

DEMO_PASSWORD = "inbox-demo"
DEMO_USERS = (
    ("admin@demo.example", "Alex Admin", "admin"),
    ("manon@demo.example", "Manon Lefèvre", "manager"),
    ("camille@demo.example", "Camille Martin", "agent"),
)


def team_named(name: str) -> Team:
    """Return the team with this name, creating it if needed."""
    s = db.session()
    team = s.scalar(sa.select(Team).where(Team.name == name))
    if team is None:
        team = Team(name=name)
        s.add(team)
        s.commit()
    return team


def demo() -> list[str]:
    """Create the demo team, users and channel once; return the lines telling how to log in."""
    s = db.session()
    team = team_named("Maison Lumière")
    for email, name, role in DEMO_USERS:
        if s.scalar(sa.select(User.id).where(User.email == email)) is None:
            create_user(email, name, DEMO_PASSWORD, role, [team.name])
    if s.scalar(sa.select(Channel.id).where(Channel.type == "demo")) is None:
        create_channel(
            {
                "type": "demo",
                "name": "Maison Lumière (démo)",
                "team_id": team.id,
                "config": {"rate": 12, "backlog": 40},
                "poll_interval": 5,
            }
        )
    lines = [f"Demo accounts (password: {DEMO_PASSWORD}):"]
    lines += [f"  {email:<24} {role}" for email, _name, role in DEMO_USERS]
    return lines
