"""Near-duplicate signatures: raids collapse into one group, distinct comments stay apart."""

from __future__ import annotations

import itertools
import json
import random
import time

import pytest

from inbox.similarity import BANDS, NUM_PERM, THRESHOLD, band_keys, normalize, signature, similarity

RAID_TEMPLATES = [
    "Boycott Acme, ils volent leurs clients, partagez !",
    "Acme is scamming everyone, they never refund anything. Spread the word!",
    "Honte à Acme qui licencie 300 salariés pendant que les actionnaires se gavent",
]
SWAPS = ["vraiment", "really", "encore", "again", "tous", "all", "scandale", "shame", "bande"]
EMOJI = ["😡", "🤬", "👎", "🔥", "💩", "‼️", "🙄"]
PUNCT = ["!!!", "?!", "...", " !!", ",", " ?", "!!!!!"]
TAILS = [
    "@acme_support",
    "@AcmeFrance",
    "@jean.dupont",
    "#BoycottAcme",
    "#scandale",
    "#JusticePourLesClients",
    "https://bit.ly/3xYz9Qp",
    "https://www.lemonde.fr/economie/article/2024/05/02/acme.html",
    "www.change.org/p/acme",
]


def raid_variant(template: str, rng: random.Random) -> str:
    """Rewrite a raid text the way 200 accounts pasting it by hand would."""
    words = template.split()
    spot = rng.randrange(len(words))
    if rng.random() < 0.5:
        words[spot] = rng.choice(SWAPS)
    else:
        del words[spot]
    for _ in range(rng.randint(1, 2)):
        spot = rng.randrange(len(words))
        word = words[spot]
        letter = rng.randrange(len(word))
        words[spot] = word[: letter + 1] + word[letter] * rng.randint(1, 4) + word[letter + 1 :]
    style = rng.random()
    if style < 0.2:
        words = [word.upper() for word in words]
    elif style < 0.4:
        words = ["".join(rng.choice([c.lower(), c.upper()]) for c in word) for word in words]
    elif style < 0.6:
        words = [word.lower() for word in words]
    for _ in range(rng.randint(1, 3)):
        spot = rng.randrange(len(words))
        words[spot] += rng.choice(PUNCT + EMOJI)
    words.append(rng.choice(TAILS))
    if rng.random() < 0.5:
        words.append("".join(rng.choices(EMOJI, k=rng.randint(1, 4))))
    return " ".join(words)


FRENCH = {
    "context": """
J'ai commandé {product} le {day}
Client chez vous depuis {n} ans
Je suis passée à votre magasin de {city} ce matin
Mon fils a reçu {product} pour son anniversaire
On a réservé une table pour {n} personnes samedi soir
J'ai appelé votre service client {n} fois cette semaine
Abonné à votre offre fibre depuis mars
Depuis la mise à jour de l'application hier
En rentrant de vacances à {city}
J'ai voulu utiliser mon bon de réduction en caisse
Ma mère a essayé de créer un compte sur votre site
Votre livreur est passé vers {n}h sans sonner
Nous avons acheté {product} en promotion
Le suivi indique mon colis livré depuis {day}
J'ai pris rendez-vous en ligne pour un essai gratuit
Ma carte de fidélité a expiré le mois dernier
Lors de votre événement à {city} vendredi
Pour le mariage de ma sœur nous avions commandé un gâteau
Sur votre site la fiche de {product} est trompeuse
Après trois semaines d'utilisation de {product}
""",
    "problem": """
l'article est arrivé cassé et la boîte était ouverte
personne ne répond au téléphone ni aux mails
on m'a facturé deux fois le même montant
la batterie ne tient pas plus de deux heures
le vendeur a été désagréable et m'a ignorée
l'appli plante dès que j'ouvre mon panier
la taille ne correspond pas du tout au guide
le remboursement promis n'est jamais arrivé
il manquait la moitié des pièces dans le carton
le prix en rayon était différent de celui en caisse
la connexion coupe tous les soirs après vingt heures
le plat était froid et les frites trop salées
impossible de trouver le formulaire de rétractation
le code promo est refusé sans explication
le technicien n'est jamais venu au rendez-vous
l'odeur de plastique ne part pas malgré les lavages
mon compte a été bloqué sans aucune raison
la notice est uniquement en anglais
le parking était fermé et aucun panneau ne le signalait
les photos ne ressemblent pas au modèle reçu
""",
    "feeling": """
je suis vraiment déçue
franchement c'est inadmissible pour une marque comme la vôtre
ça fait la troisième fois que ça arrive
je commence sérieusement à perdre patience
mes enfants étaient tristes toute la soirée
j'hésite à recommander chez vous
je n'avais jamais eu de souci avant
c'est dommage car la qualité était top
j'ai perdu une demi-journée de travail pour rien
je trouve ça limite malhonnête
mon mari est furieux
on attendait mieux vu le prix payé
je reste polie mais là ça suffit
pourtant vos équipes en boutique sont adorables
je ne comprends pas comment c'est possible
""",
    "ask": """
pouvez-vous me rappeler au plus vite ?
je voudrais un échange ou un avoir
merci de m'indiquer la marche à suivre
quand est-ce que ce sera réglé ?
j'attends un geste commercial
est-ce qu'un responsable peut me contacter en privé ?
dites-moi si je dois renvoyer le colis
je vous envoie mon numéro de commande en message
une correction est-elle prévue ?
sinon je passe chez la concurrence
je veux être remboursée intégralement
quel est le délai normal ?
faut-il passer en magasin avec le ticket ?
merci de transmettre au service concerné
j'aimerais au moins une réponse cette fois
""",
    "product": """
un aspirateur sans fil
une trottinette électrique
un casque audio
une machine à café
un canapé trois places
des baskets de running
un robot pâtissier
une tablette
""",
    "city": "Lyon|Nantes|Lille|Bordeaux|Marseille|Rennes|Toulouse|Strasbourg",
    "day": "3 mai|12 juin|lundi|28 février|1er avril|vendredi dernier",
}
ENGLISH = {
    "context": """
I ordered {product} on {day}
I've been a loyal customer for {n} years
I went to your {city} store this morning
My daughter got {product} for her birthday
We booked a table for {n} people last Saturday
I called your support line {n} times this week
Since yesterday's app update
Coming back from a trip to {city}
I tried to use my discount voucher at checkout
My dad tried to open an account on your website
Your courier showed up around {n}pm and left without knocking
We bought {product} during the spring sale
Tracking has said delivered since {day}
I booked a free trial session online
My loyalty card expired last month
At your pop-up event in {city} on Friday
We ordered a cake for my brother's wedding
The product page for {product} is misleading
After three weeks of using {product}
My subscription renewed without any warning
""",
    "problem": """
the item arrived broken and the box had been opened
nobody answers the phone or the emails
I was charged twice for the same order
the battery barely lasts two hours
the sales assistant was rude and ignored me
the app crashes whenever I open my basket
the sizing is nothing like your size guide
the refund you promised never came
half the parts were missing from the package
the shelf price didn't match the till price
the wifi drops every evening after eight
the food was cold and the fries far too salty
I can't find the cancellation form anywhere
the promo code gets rejected with no explanation
the engineer never turned up for the appointment
the plastic smell won't go away even after washing
my account got locked for no reason at all
the manual is only in German
the car park was closed and there was no sign
the photos look nothing like the model I received
""",
    "feeling": """
I'm honestly really disappointed
this is unacceptable from a brand like yours
this is the third time it has happened
I'm seriously running out of patience
my kids were upset all evening
I'm not sure I'll shop with you again
I never had a single problem before
such a shame because the quality used to be great
I lost half a day off work over this
it feels borderline dishonest
my wife is furious
we expected better for the price
I'm being polite but enough is enough
your staff in store are lovely though
I don't understand how this can happen
""",
    "ask": """
can someone call me back asap?
I'd like an exchange or store credit
please tell me what I should do next
when will this be sorted?
I expect some kind of goodwill gesture
can a manager DM me?
let me know if I need to send it back
I'll send my order number in a private message
is a fix on the way?
otherwise I'm switching to a competitor
I want a full refund
what's the normal delay?
do I need to bring the receipt to the store?
please pass this on to the right team
I'd just like an answer this time
""",
    "product": """
a cordless vacuum
an electric scooter
wireless headphones
a coffee machine
a three-seater sofa
running shoes
a stand mixer
a tablet
""",
    "city": "Leeds|Bristol|Manchester|Glasgow|Cardiff|Dublin|Boston|Denver",
    "day": "May 3rd|June 12th|Monday|February 28th|April 1st|last Friday",
}
SLOTS = ("context", "problem", "feeling", "ask")
OPENERS = ["", "", "Bonjour, ", "Hello ", "@Acme ", "Hi, ", "Allô ? "]


def options(parts: dict, slot: str) -> list[str]:
    text = parts[slot].strip()
    return text.split("|") if "|" in text else text.splitlines()


def compose(parts: dict, choice: tuple[int, ...], rng: random.Random) -> str:
    """Write one comment from a context, a problem, a feeling and a request."""
    context, problem, feeling, ask = (
        options(parts, s)[i] for s, i in zip(SLOTS, choice, strict=True)
    )
    context = context.format(
        product=rng.choice(options(parts, "product")),
        day=rng.choice(options(parts, "day")),
        city=rng.choice(options(parts, "city")),
        n=rng.randint(2, 12),
    )
    tail = f"{feeling[0].upper()}{feeling[1:]}, {ask}"
    if rng.random() < 0.3:
        tail = f"{ask[0].upper()}{ask[1:]} {feeling}."
    return f"{rng.choice(OPENERS)}{context}, {problem}. {tail}"


def distinct_comments(count: int, rng: random.Random) -> list[str]:
    """Return comments of which any two differ in at least two of their four parts."""
    chosen: list[tuple[dict, tuple[int, ...]]] = []
    while len(chosen) < count:
        parts = rng.choice([FRENCH, ENGLISH])
        choice = tuple(rng.randrange(len(options(parts, slot))) for slot in SLOTS)
        if all(
            other is not parts or sum(a == b for a, b in zip(choice, picked, strict=True)) <= 2
            for other, picked in chosen
        ):
            chosen.append((parts, choice))
    return [compose(parts, choice, rng) for parts, choice in chosen]


def test_normalize_keeps_only_the_words_that_matter():
    text = (
        "Franchement NUUUUL 😡😡 @AcmeFrance https://t.co/xYz l'appli plante… écrivez à sav@acme.fr"
    )
    assert normalize(text) == "franchement nul l apli plante ecrivez a"


def test_hashtag_keeps_its_words_without_the_sign():
    assert normalize("Scandale #BoycottAcme #arnaque") == "scandale boycot acme arnaque"


def test_styled_letters_and_hidden_characters_read_as_plain_text():
    assert (
        normalize("𝐁𝐎𝐘𝐂𝐎𝐓𝐓 ｃｅｔｔｅ marque, ils vo\u200blent") == "boycot cete marque ils volent"
    )


@pytest.mark.parametrize(
    "text",
    [
        "merci",
        "ok",
        "👍",
        "Merci beaucoup !!",
        "@acme 👍👍 https://t.co/x",
        "ok ok ok ok ok",
        "Top",
    ],
)
def test_short_texts_have_no_signature(text):
    assert signature(text) is None


def test_three_real_words_are_enough_to_judge():
    assert signature("Livraison jamais reçue") is not None


def test_signature_is_the_same_in_every_call_and_survives_json():
    text = "Mon colis est arrivé ouvert et il manque le chargeur"
    first, second = signature(text), signature(text)
    assert first == second
    assert len(first) == NUM_PERM
    assert json.loads(json.dumps(first)) == first
    assert band_keys(json.loads(json.dumps(first))) == band_keys(first)


def test_signature_and_band_keys_do_not_change_between_processes_or_releases():
    # Stored clusters are matched against items hashed later by other processes: if this
    # fails, the stored signatures are stale (bump _KEY_PERSON in inbox/similarity.py).
    sig = signature("Boycott Acme, ils volent leurs clients, partagez !")
    assert sig[:4] == [251294563, 16166917, 22688011, 286664049]
    assert band_keys(sig)[:2] == [5915628417475624732, -8965608487250594690]


def test_band_keys_fit_a_signed_64_bit_column():
    keys = band_keys(signature("Where is my refund? It has been three weeks now"))
    assert len(keys) == len(set(keys)) == BANDS
    assert all(isinstance(key, int) and -(2**63) <= key < 2**63 for key in keys)
    assert any(key < 0 for key in keys)


def test_signatures_of_another_size_are_refused():
    sig = signature("Where is my refund? It has been three weeks now")
    assert similarity(sig, sig) == 1.0
    with pytest.raises(ValueError):
        similarity(sig, sig[:-1])
    with pytest.raises(ValueError):
        band_keys(sig[: NUM_PERM // 2])


def raids(rng: random.Random) -> list[list[list[int]]]:
    return [[signature(raid_variant(t, rng)) for _ in range(200)] for t in RAID_TEMPLATES]


def test_raid_variants_join_the_first_one():
    # A variant joins when the lookup finds the first one (a shared band key) and the
    # confirmation accepts it. MinHash is an estimate (std. error 0.035) and the worst
    # variants sit near 0.45, so 99% is asserted rather than every single one.
    joined = total = 0
    for variants in raids(random.Random(6)):
        first, first_keys = variants[0], set(band_keys(variants[0]))
        for variant in variants[1:]:
            total += 1
            found = bool(first_keys & set(band_keys(variant)))
            joined += found and similarity(first, variant) >= THRESHOLD
    print(f"raid recall {joined}/{total} = {joined / total:.2%}")
    assert joined / total >= 0.99


def test_two_raids_stay_two_groups():
    groups = raids(random.Random(8))
    for one, other in itertools.permutations(groups, 2):
        assert all(similarity(one[0], variant) < THRESHOLD for variant in other)


def test_distinct_comments_rarely_look_alike():
    comments = distinct_comments(500, random.Random(7))
    assert len(set(comments)) == 500
    sigs = [signature(comment) for comment in comments]
    keys = [set(band_keys(sig)) for sig in sigs]
    pairs = random.Random(9).sample(list(itertools.combinations(range(500), 2)), 20_000)
    alike = sum(similarity(sigs[i], sigs[j]) >= THRESHOLD for i, j in pairs)
    candidates = sum(bool(keys[i] & keys[j]) for i, j in pairs)
    print(f"distinct pairs at THRESHOLD {alike / len(pairs):.3%}, sharing a band key")
    print(f"{candidates / len(pairs):.2%}, of {len(pairs)} sampled pairs")
    assert alike / len(pairs) < 0.005


def test_signing_an_item_takes_well_under_a_few_milliseconds():
    comments = distinct_comments(1000, random.Random(10))
    start = time.perf_counter()
    for comment in comments:
        band_keys(signature(comment))
    per_item = (time.perf_counter() - start) / len(comments)
    print(f"signature + band_keys: {per_item * 1000:.2f} ms per item")
    assert per_item < 0.005
