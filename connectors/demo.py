"""The demo connector: generated, deterministic community traffic so a fresh inbox looks alive."""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from marshmallow import RAISE, Schema, fields, validate

from connectors import register
from connectors.base import Author, Batch, Connector, NormalizedItem, Target

BRAND = "@maisonlumiere"
SITE = "https://social.maisonlumiere.example"
BACKLOG_SPAN = timedelta(hours=6)
MAX_PER_PULL = 200

# (handle, name, language) for people; bots post only spam.
# fmt: off
PEOPLE = [
    ("camille_d", "Camille Durand", "fr"), ("lucas.martin", "Lucas Martin", "fr"),
    ("chloe_brn", "Chloé Bernard", "fr"), ("hugo_petit", "Hugo Petit", "fr"),
    ("manon.rbt", "Manon Robert", "fr"), ("theo_richard", "Théo Richard", "fr"),
    ("lea.moreau", "Léa Moreau", "fr"), ("nathan_simon", "Nathan Simon", "fr"),
    ("ines.laurent", "Inès Laurent", "fr"), ("jules_michel", "Jules Michel", "fr"),
    ("sarah_lefevre", "Sarah Lefèvre", "fr"), ("tom.leroy", "Tom Leroy", "fr"),
    ("jade_roux", "Jade Roux", "fr"), ("louis.david", "Louis David", "fr"),
    ("emma_bertrand", "Emma Bertrand", "fr"), ("gabriel_mrl", "Gabriel Morel", "fr"),
    ("lina.fournier", "Lina Fournier", "fr"), ("arthur_girard", "Arthur Girard", "fr"),
    ("zoe_bonnet", "Zoé Bonnet", "fr"), ("raphael.dupont", "Raphaël Dupont", "fr"),
    ("alice_lambert", "Alice Lambert", "fr"), ("maxime_fontaine", "Maxime Fontaine", "fr"),
    ("clara.rousseau", "Clara Rousseau", "fr"), ("yanis_vincent", "Yanis Vincent", "fr"),
    ("margaux_mn", "Margaux Muller", "fr"), ("nour.benali", "Nour Benali", "fr"),
    ("elodie_faure", "Élodie Faure", "fr"), ("karim.haddad", "Karim Haddad", "fr"),
    ("emily_clarke", "Emily Clarke", "en"), ("jwalker88", "James Walker", "en"),
    ("sophie.h", "Sophie Hughes", "en"), ("ollie_green", "Oliver Green", "en"),
    ("mia_thompson", "Mia Thompson", "en"), ("dan.obrien", "Daniel O'Brien", "en"),
    ("grace_kelly_uk", "Grace Kelly", "en"), ("noah.evans", "Noah Evans", "en"),
    ("ava_robinson", "Ava Robinson", "en"), ("liam_wright", "Liam Wright", "en"),
    ("hannah.b", "Hannah Baker", "en"), ("ethan_cole", "Ethan Cole", "en"),
]
BOTS = [
    ("crypto_gains_247", "Crypto Gains 💰"), ("free_iphone_fr", "Cadeaux Gratuits"),
    ("f4f_growth", "Follow 4 Follow"), ("luxe_replica_shop", "Luxe Outlet"),
    ("promo.influence", "Promo Influence"),
]
AUTHORS = [Author(f"demo-user-{i + 1}", f"@{h}", n) for i, (h, n, _) in enumerate(PEOPLE)]
LANGS = [lang for _, _, lang in PEOPLE]
BOT_AUTHORS = [
    Author(f"demo-user-{len(PEOPLE) + i + 1}", f"@{h}", n) for i, (h, n) in enumerate(BOTS)
]

# (French with its article, English) names of the catalogue's best sellers.
PRODUCTS = [
    ("la robe Capucine", "Capucine dress"), ("le pull Alba", "Alba jumper"),
    ("le sac Céleste", "Céleste bag"), ("la ceinture Margaux", "Margaux belt"),
    ("le trench Odéon", "Odéon trench coat"), ("l'écharpe Iris", "Iris scarf"),
    ("la veste en jean Rivoli", "Rivoli denim jacket"), ("la chemise Solène", "Solène shirt"),
    ("le manteau Valmy", "Valmy coat"), ("la blouse Anémone", "Anémone blouse"),
]
VOCAB: dict[str, list[str]] = {
    "city": [
        "Paris", "Lyon", "Marseille", "Bordeaux", "Lille", "Nantes", "Toulouse",
        "Strasbourg", "Montpellier", "Rennes", "Nice", "Bruxelles",
    ],
    "size": ["XS", "S", "M", "L", "XL", "36", "38", "40", "42", "44"],
    "color": ["noir", "écru", "camel", "bleu nuit", "bordeaux", "vert sauge"],
    "emoji": ["", "", "", " 😍", " 🙏", " ✨", " ❤️", " 😅", " 👌", " 🔥"],
    "angry": ["", "", " 😡", " 🤬", " 😤", "…", " !!!"],
}
# fmt: on

TEXTS: dict[str, dict[str, list[str]]] = {
    "question": {
        "fr": [
            "Bonjour, ma commande {order} est « en préparation » depuis {days} jours, normal ?",
            "Est-ce que {product} taille grand ? J'hésite entre {size} et la taille au-dessus.",
            "Quels sont les horaires de la boutique de {city} ce dimanche ?{emoji}",
            "Quand revient {product} en {color} ? Épuisé en {size} depuis des semaines.",
            "Comment je fais pour retourner un article ? Je n'ai pas reçu d'étiquette.",
            "Vous livrez en point relais à {city} ? Je ne trouve pas l'option.",
            "J'ai renvoyé ma commande {order} il y a {days} jours, quand arrive le remboursement ?",
            "Le code promo de la newsletter ne marche pas sur {product}, une idée ?",
        ],
        "en": [
            "Hi! Does the {product} run true to size? I'm usually a {size}.",
            "Do you ship to the UK? Can't find it at checkout.{emoji}",
            "Any idea when order {order} will ship? It's been {days} days.",
            "Is the {city} store open on bank holidays?",
            "How long do refunds take? I sent back order {order} last week.",
            "Will the {product} come back in {size}?{emoji}",
        ],
    },
    "complaint": {
        "fr": [
            "Commande {order} passée il y a {days} jours, toujours rien. SAV injoignable{angry}",
            "Après deux lavages, {product} a bouloché. Pour ce prix c'est inadmissible{angry}",
            "Colis marqué livré mais jamais reçu à {city}. Personne ne répond aux mails{angry}",
            "Remboursement promis il y a {days} jours et toujours rien sur mon compte{angry}",
            "Erreur de taille : commandé du {size}, reçu du XXL. Et il faut payer le retour ?",
            "Ça fait 3 fois que j'appelle, 40 minutes d'attente à chaque fois{angry}",
        ],
        "en": [
            "Order {order} still hasn't arrived after {days} days. Really disappointed{angry}",
            "The {product} fell apart after one wash. Not what I expect at this price.",
            "Nobody answers emails or the phone. What is going on?{angry}",
            "Charged twice for order {order} and still waiting for the refund{angry}",
        ],
    },
    "praise": {
        "fr": [
            "Reçu {product} en {color}, encore mieux qu'en photo{emoji}",
            "Merci à l'équipe de la boutique de {city} pour les conseils, top accueil !",
            "Livraison en {days} jours, emballage soigné, rien à dire{emoji}",
            "Coup de cœur pour {product}, ma pièce préférée de l'hiver{emoji}",
            "Service client au top, échange fait en 48h. Merci !",
            "Cette collection 😍 vous avez tout compris",
        ],
        "en": [
            "Just got my {product} and I'm obsessed{emoji}",
            "Lovely staff at the {city} store, thank you!",
            "Fast delivery and beautiful packaging. Will order again{emoji}",
            "This collection is stunning{emoji}",
        ],
    },
    "followup": {
        "fr": [
            "Je reviens vers vous pour la commande {order}, toujours pas de nouvelles…",
            "Merci pour votre réponse ! Je vous envoie le numéro de commande : {order}",
            "D'accord, je vais attendre encore un peu alors.",
            "C'est bon, colis reçu ce matin, merci{emoji}",
            "Vous pouvez me rappeler ? Mon numéro est dans ma commande {order}.",
        ],
        "en": [
            "Following up on order {order}, any news?",
            "Thanks for getting back to me! Order number is {order}.",
            "Got it, thank you{emoji}",
            "Still nothing on my side, can you check again?",
        ],
    },
    "reply": {
        "fr": [
            "{parent} pareil pour moi, toujours rien reçu{angry}",
            "{parent} je confirme, la qualité est top{emoji}",
            "{parent} il taille un peu petit, prends la taille au-dessus",
            "{parent} la boutique de {city} l'avait encore samedi",
            "{parent} +1, j'attends aussi mon remboursement",
        ],
        "en": [
            "{parent} same here, still waiting{angry}",
            "{parent} agreed, love mine{emoji}",
            "{parent} size up, it runs small",
        ],
    },
    "spam": {
        "fr": [
            "Gagnez un iPhone 16 ici 👉 http://bit.ly/cadeau-{order} 🎁",
            "J'ai gagné 3000€ en une semaine grâce à ce trader, écrivez-lui en DM 💸",
            "Sacs de luxe à -90% 👉 http://luxe-outlet.example/{order}",
        ],
        "en": [
            "Follow for follow? 🔁 I always follow back",
            "Invest $250 and get $5000 in 48h with Bitcoin 🚀 DM me",
            "Promote your page to 100k real followers 👉 http://grow-fast.example/{order}",
        ],
    },
    "repost": {
        "fr": ["", "", "", "😍", "Trop beau !", "Je veux tout", "Coup de cœur{emoji}"],
        "en": ["", "", "", "Need this", "Obsessed{emoji}", "So good"],
    },
}
MENTION_PREFIX = {"fr": ["{brand} ", "Hé {brand} ", "", "Coucou {brand} "], "en": ["{brand} "]}
# rating -> language -> [title, body, body, ...]
REVIEWS: dict[int, dict[str, list[str]]] = {
    5: {
        "fr": ["Parfait", "Très belle qualité, {product} est sublime.", "Je recommande !"],
        "en": ["Perfect", "Beautiful quality, the {product} is gorgeous.", "Highly recommend!"],
    },
    4: {
        "fr": [
            "Très bien",
            "Achat réussi ({product}), livraison un peu lente mais ça valait le coup.",
        ],
        "en": ["Very nice", "Lovely {product}, delivery was a bit slow."],
    },
    3: {
        "fr": ["Mitigé", "Joli modèle ({product}) mais taille petit, prenez la taille au-dessus."],
        "en": ["Okay", "Nice {product} but the sizing is off."],
    },
    2: {
        "fr": ["Décevant", "Couleur différente de la photo et retour payant. Dommage."],
        "en": ["Disappointed", "Colour is nothing like the photo, and returns aren't free."],
    },
    1: {
        "fr": [
            "À fuir",
            "Livraison en retard de 2 semaines, service client injoignable{angry}",
            "Commande {order} jamais reçue, aucun remboursement{angry}",
        ],
        "en": ["Avoid", "Order {order} never arrived and no refund{angry}"],
    },
}

# the brand's posts that comments and reposts answer (post-<n> reads BRAND_POSTS[n % 6])
BRAND_POSTS = [
    "Nouvelle collection automne : le trench Odéon revient en trois couleurs 🍂",
    "Les soldes commencent demain à 10 h, en boutique et en ligne !",
    "Behind the scenes at our Paris atelier ✨ Which piece should we make next?",
    "Concours 🎁 Gagnez la robe Capucine de votre choix : dites-nous votre couleur préférée !",
    "Le pull Alba est de retour en écru et en bleu nuit. Vous l'attendiez ?",
    "Meet the Céleste bag: hand-stitched in our atelier, made to last.",
]

KINDS = ["comment", "dm", "mention", "review", "repost"]
KIND_WEIGHTS = [34, 22, 14, 12, 8]
TONES = ["question", "complaint", "praise", "spam"]
TONE_WEIGHTS = {
    "comment": [30, 20, 40, 10],
    "dm": [45, 35, 20, 0],
    "mention": [25, 30, 35, 10],
}
RATINGS = [5, 4, 3, 2, 1]
RATING_WEIGHTS = [45, 25, 10, 8, 12]


class _Head(NamedTuple):
    """The first draws of an item: enough to tell whether other items may reply to it."""

    kind: str
    tone: str
    group: int
    author: int
    is_reply: bool


_HEADS: dict[tuple[int, int], _Head] = {}


def _draw_head(rng: random.Random, seq: int) -> _Head:
    """Draw kind, tone, group (conversation, post or root) and author, in a fixed order."""
    kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
    tone = rng.choices(TONES, TONE_WEIGHTS[kind])[0] if kind in TONE_WEIGHTS else kind
    if kind == "dm":  # a sliding window of ~8 open conversations
        group = seq // 40 + rng.randint(1, 8)
    elif kind == "mention":  # a sliding window of ~6 public threads
        group = seq // 60 + rng.randint(1, 6)
    else:  # the ~4 latest brand posts
        group = seq // 400 + rng.randint(1, 4)
    if tone == "spam":
        author = rng.randrange(len(BOT_AUTHORS))
    elif kind == "dm":
        author = group * 7 % len(AUTHORS)
    else:
        author = rng.randrange(len(AUTHORS))
    is_reply = kind == "comment" and tone != "spam" and rng.random() < 0.35
    return _Head(kind, tone, group, author, is_reply)


def _head_at(seed: int, seq: int) -> _Head:
    """Return the head of item `seq`, recomputing it when it is not remembered."""
    head = _HEADS.get((seed, seq))
    if head is None:
        head = _draw_head(random.Random(f"{seed}:{seq}"), seq)
        _remember(seed, seq, head)
    return head


def _remember(seed: int, seq: int, head: _Head) -> None:
    """Keep a head for later reply lookups, bounding the memory used."""
    if len(_HEADS) > 20_000:
        _HEADS.clear()
    _HEADS[(seed, seq)] = head


def _is_thread_root(head: _Head) -> bool:
    """Tell whether an item is a top-level, non-spam comment others may answer."""
    return head.kind == "comment" and not head.is_reply and head.tone != "spam"


def _build(seed: int, seq: int, rng: random.Random, head: _Head, at: datetime) -> NormalizedItem:
    """Finish item `seq` from its head, drawing the rest from the same generator."""
    external_id = f"demo-{seq}"
    author = BOT_AUTHORS[head.author] if head.tone == "spam" else AUTHORS[head.author]
    lang = rng.choice(["fr", "fr", "en"]) if head.tone == "spam" else LANGS[head.author]
    slots = {name: rng.choice(words) for name, words in VOCAB.items()}
    product_fr, product_en = rng.choice(PRODUCTS)
    slots["product"] = product_fr if lang == "fr" else product_en
    slots |= {"order": f"ML-{rng.randint(100000, 999999)}", "days": rng.randint(3, 21)}
    item: dict[str, Any] = {"thread_id": external_id, "post_id": None, "parent_id": None}
    subject = rating = None
    url: str | None = None
    if head.kind == "review":
        rating = rng.choices(RATINGS, RATING_WEIGHTS)[0]
        subject, *bodies = REVIEWS[rating][lang]
        template = rng.choice(bodies)
        url = f"{SITE}/avis/{seq}"
    elif head.kind == "repost":
        template = rng.choice(TEXTS["repost"][lang])
        item["post_id"] = f"post-{head.group}"
    elif head.kind == "dm":
        tone = "followup" if rng.random() < 0.3 else head.tone
        template = rng.choice(TEXTS[tone][lang])
        item["thread_id"] = f"conv-{head.group}"
    elif head.kind == "mention":
        template = rng.choice(MENTION_PREFIX[lang]) + rng.choice(TEXTS[head.tone][lang])
        item["thread_id"] = f"tw-root-{head.group}"
        url = f"{SITE}/status/{seq}"
    else:
        item["post_id"] = f"post-{head.group}"
        template = rng.choice(TEXTS[head.tone][lang])
        if head.is_reply:
            for _ in range(6):
                parent_seq = seq - rng.randint(1, 30)
                parent = _head_at(seed, parent_seq) if parent_seq >= 1 else None
                if parent is not None and _is_thread_root(parent):
                    item["thread_id"] = item["parent_id"] = f"demo-{parent_seq}"
                    item["post_id"] = f"post-{parent.group}"
                    slots["parent"] = AUTHORS[parent.author].handle
                    template = rng.choice(TEXTS["reply"][lang])
                    break
        url = f"{SITE}/{item['post_id']}?comment={seq}" if rng.random() < 0.5 else None
    body = template.format(brand=BRAND, **slots)
    if item["post_id"]:
        number = int(item["post_id"].removeprefix("post-"))
        item["post_text"] = BRAND_POSTS[number % len(BRAND_POSTS)]
        item["post_url"] = f"{SITE}/{item['post_id']}"
    return NormalizedItem(
        external_id=external_id,
        kind=head.kind,
        author=author,
        created_at=at,
        body=body,
        subject=subject,
        rating=rating,
        url=url,
        **item,
    )


def generate(
    seed: int, start_seq: int, count: int, start: datetime, end: datetime
) -> list[NormalizedItem]:
    """Generate items start_seq.. in order, their created_at spread over [start, end)."""
    span = end - start
    items = []
    for i in range(count):
        seq = start_seq + i
        rng = random.Random(f"{seed}:{seq}")
        head = _draw_head(rng, seq)
        _remember(seed, seq, head)
        at = start + span * ((i + rng.random()) / count)
        items.append(_build(seed, seq, rng, head, at))
    return items


class DemoConfigSchema(Schema):
    """The demo channel's settings: a seed, a pace and the size of the first backlog."""

    class Meta:
        unknown = RAISE

    seed = fields.Integer(load_default=7)
    rate = fields.Float(load_default=12.0, validate=validate.Range(0, 600))  # items per minute
    backlog = fields.Integer(load_default=40, validate=validate.Range(0, 100_000))


@register
class DemoConnector(Connector):
    """A fake platform that produces realistic French and English traffic on every poll."""

    type = "demo"
    label = "Demo"
    polls = True
    capabilities = frozenset({"reply", "hide", "unhide", "delete", "like"})
    config_schema = DemoConfigSchema

    def __init__(self, config: Mapping[str, Any]):
        super().__init__(config)
        self.settings = DemoConfigSchema().load(self.config)

    def now(self) -> datetime:
        """Return the current aware UTC time; tests override it."""
        return datetime.now(UTC)

    def pull(self, cursor: Any) -> Batch:
        """Return the backlog on first pull, then the items due since the cursor's time."""
        now = self.now()
        seed, rate = self.settings["seed"], self.settings["rate"]
        state = _parse_cursor(cursor)
        if state is None:
            count = self.settings["backlog"]
            items = generate(seed, 1, count, now - BACKLOG_SPAN, now)
            return Batch(items, {"seq": count, "at": now.isoformat()})
        seq, at = state
        minutes = (now - at).total_seconds() / 60
        due = math.floor(rate * minutes) if minutes > 0 else 0
        if due <= 0:
            return Batch([], {"seq": seq, "at": at.isoformat()})
        if due > MAX_PER_PULL:  # after a long pause, skip ahead rather than flood the inbox
            count, until = MAX_PER_PULL, now
        else:  # consume only the time these items account for, so fractions accumulate
            count, until = due, min(now, at + timedelta(minutes=due / rate))
        items = generate(seed, seq + 1, count, at, until)
        return Batch(items, {"seq": seq + count, "at": until.isoformat()})

    def reply(self, target: Target, text: str) -> str:
        """Accept any reply and return a fresh outbound id."""
        self.require("reply")
        return f"demo-out-{uuid.uuid4().hex}"

    def moderate(self, target: Target, action: str) -> None:
        """Accept any supported moderation action."""
        self.require(action)


def _parse_cursor(cursor: Any) -> tuple[int, datetime] | None:
    """Read {"seq", "at"}; None (start over with the backlog) when absent or malformed."""
    try:
        seq, at = int(cursor["seq"]), datetime.fromisoformat(cursor["at"])
    except (TypeError, KeyError, ValueError):
        return None
    return seq, (at if at.tzinfo else at.replace(tzinfo=UTC))
