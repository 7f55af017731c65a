"""Demo data for `inbox run --demo`: a team, three people and a channel with live traffic."""

from __future__ import annotations

import sqlalchemy as sa

from inbox import db
from inbox.auth import create_user
from inbox.models import CannedReply, ModerationRule, Team, User, WatchedKeyword

DEMO_PASSWORD = "inbox-demo"
DEMO_TEAM = "Maison Lumière"
DEMO_USERS = (
    ("admin@demo.example", "Alex Admin", "admin"),
    ("manon@demo.example", "Manon Lefèvre", "manager"),
    ("camille@demo.example", "Camille Martin", "agent"),
)


# The demo's moderation: two rules at work, one waiting for its dry run (inbox/rules.py)
DEMO_RULES = (
    {
        "name": "Arnaques et liens douteux",
        "position": 10,
        "enabled": True,
        "stop": True,
        "conditions": [
            {"type": "has_link"},
            {"type": "keywords", "values": ["gagnez", "gratuit", "-90%", "followers", "win"]},
        ],
        "actions": [{"type": "hide"}, {"type": "tag", "value": "spam"}],
    },
    {
        "name": "Avis 1 ou 2 étoiles en priorité",
        "position": 20,
        "enabled": True,
        "conditions": [{"type": "kind", "values": ["review"]}, {"type": "rating", "max": 2}],
        "actions": [
            {"type": "priority", "value": "high"},
            {"type": "tag", "value": "avis-négatif"},
        ],
    },
    {
        "name": "Argent facile en DM (à tester)",
        "position": 30,
        "enabled": False,
        "conditions": [{"type": "keywords", "values": ["bitcoin", "trader", "invest", "$5000"]}],
        "actions": [{"type": "close_spam"}],
    },
)
DEMO_KEYWORDS = ("livraison", "remboursement", "delivery")

DEMO_CANNED = (
    (
        "Commande en retard",
        "Bonjour {first_name}, désolés pour ce retard ! Pouvez-vous nous envoyer votre numéro de"
        " commande en message privé ? On regarde tout de suite. {agent_first_name}",
        "fr",
    ),
    (
        "Merci !",
        "Merci beaucoup {first_name} pour ce joli message, toute l'équipe est ravie ✨",
        "fr",
    ),
    (
        "Taille et stock",
        "Bonjour {first_name}, ce modèle taille normalement ; les tailles disponibles sont"
        " indiquées sur la fiche produit, mise à jour en temps réel. {agent_first_name}",
        "fr",
    ),
    (
        "Late order",
        "Hi {first_name}, sorry about the delay! Could you DM us your order number? We'll look"
        " into it right away. {agent_first_name}",
        "en",
    ),
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
    """Create the demo team and users once; return the lines telling how to log in.

    The demo's channels are real connectors pointed at the platform simulators
    (`inbox.sandboxes`), started by `inbox run --demo`.
    """
    s = db.session()
    team = team_named(DEMO_TEAM)
    for email, name, role in DEMO_USERS:
        if s.scalar(sa.select(User.id).where(User.email == email)) is None:
            create_user(email, name, DEMO_PASSWORD, role, [team.name])
    if s.scalar(sa.select(CannedReply.id).limit(1)) is None:
        s.add_all(
            CannedReply(team_id=team.id, title=title, body=body, locale=locale)
            for title, body, locale in DEMO_CANNED
        )
        s.commit()
    if s.scalar(sa.select(ModerationRule.id).limit(1)) is None:
        s.add_all(ModerationRule(**rule) for rule in DEMO_RULES)
        s.add_all(WatchedKeyword(team_id=team.id, term=term) for term in DEMO_KEYWORDS)
        s.commit()
    lines = [f"Demo accounts (password: {DEMO_PASSWORD}):"]
    lines += [f"  {email:<24} {role}" for email, _name, role in DEMO_USERS]
    return lines
