"""Mastodon connector against its simulator: the pull contract, then Mastodon's own rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
from marshmallow import ValidationError

from connectors.base import (
    AuthExpired,
    NotAllowed,
    PermissionDenied,
    Target,
    Transient,
    Unsupported,
)
from connectors.mastodon import (
    MastodonConfig,
    html_to_text,
    idempotency_key,
    mentions_account,
    rate_limit_wait,
)
from connectors.sandbox.mastodon import BRAND_ID, MastodonSimulator
from connectors.sandbox.traffic import BOTS, PEOPLE
from tests.connectors.contract import PullContract, build, inbound_ids, sync

CAMILLE = PEOPLE[0]  # camille_d, a local account
EMILY = next(p for p in PEOPLE if p.handle == "emily_clarke")


class TestMastodonPull(PullContract):
    type = "mastodon"


@pytest.fixture
def sim():
    simulator = MastodonSimulator(page_size=5)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def connector(sim):
    return build("mastodon", sim)


def target_of(item) -> Target:
    return Target(
        external_id=item.external_id,
        kind=item.kind,
        thread_id=item.thread_id,
        author_id=item.author.id,
        author_handle=item.author.handle,
    )


def by_id(items):
    return {i.external_id: i for i in items}


# -- reading ------------------------------------------------------------------------------------


def test_direct_mentions_are_dms_and_public_ones_mentions_threaded_by_root(sim, connector):
    brand_post = sim.brand_posts[0]
    dm = sim.mention(CAMILLE, "Bonjour, ma commande ML-123456 n'est pas arrivée", "direct", None)
    public = sim.mention(EMILY, "Love the new collection", "public", sim.status(brand_post))
    standalone = sim.mention(CAMILLE, "Vous livrez à Lyon ?", "public", None)
    items = by_id(sync(connector)[0])

    assert items[dm["id"]].kind == "dm"
    assert items[dm["id"]].thread_id == dm["id"], "a DM that replies to nothing roots itself"
    assert items[public["id"]].kind == "mention"
    assert items[public["id"]].thread_id == brand_post, "a reply roots at the brand's post"
    assert items[public["id"]].parent_id == brand_post
    assert items[standalone["id"]].thread_id == standalone["id"]
    author = items[dm["id"]].author
    assert author.id == dm["account"]["id"] and author.handle == "@" + dm["account"]["acct"]
    assert author.name == CAMILLE.name
    assert items[public["id"]].url == public["url"]
    assert items[public["id"]].created_at.tzinfo is not None


def test_a_follow_up_under_our_reply_joins_the_conversation_root(sim, connector):
    first = sim.mention(CAMILLE, "Ma commande ML-654321 est bloquée", "direct", None)
    items, cursor, _ = sync(connector)
    our_reply = connector.reply(target_of(by_id(items)[first["id"]]), "Nous regardons !")
    follow_up = sim.mention(CAMILLE, "Merci !", "direct", sim.status(our_reply))
    later = sim.mention(CAMILLE, "Toujours rien…", "direct", sim.status(follow_up["id"]))
    items, _, _ = sync(connector, cursor)
    got = by_id(items)
    assert got[follow_up["id"]].thread_id == first["id"]
    assert got[later["id"]].thread_id == first["id"]
    assert got[follow_up["id"]].kind == "dm"
    contexts = [c for c in sim.reads() if c.path.endswith("/context")]
    assert len(contexts) == 1, "the second reply's root comes from the cursor's cache"


def test_first_sync_walks_next_links_and_later_syncs_start_at_the_watermark(sim, connector):
    sim.add_inbound(12)
    _, cursor, _ = sync(connector)
    first = [c for c in sim.reads() if c.path == "/api/v1/notifications"]
    assert first[0].query.get("types[]") == "mention" and "min_id" not in first[0].query
    assert all("max_id" in c.query for c in first[1:]), "older pages via rel=next (max_id)"
    newest = max(
        (n["id"] for n in sim.notifications if n["type"] == "mention"), key=lambda i: int(i)
    )
    assert cursor["marks"]["notifications"] == newest
    json.dumps(cursor)  # the poller stores it as JSON

    before = len(sim.reads())
    sim.add_inbound(3)
    sync(connector, cursor)
    second = [c for c in sim.reads()[before:] if c.path == "/api/v1/notifications"]
    assert second[0].query["min_id"] == newest


def test_only_mention_notifications_are_read(sim, connector):
    status = sim.mention(CAMILLE, "Coucou", "public", None)
    sim._notify("favourite", status["account"], None)
    sim._notify("follow", status["account"], None)
    items, _, _ = sync(connector)
    assert inbound_ids(items) == [status["id"]]


def test_watched_hashtag_brings_posts_once_and_our_own_as_outbound(sim, connector):
    tagged_mention = sim.mention(EMILY, "Obsessed with my bag", "public", None, tagged=True)
    with sim.lock:
        tag_only = sim._new_status(
            sim.account_of(CAMILLE),
            '<p>Trop belle la vitrine <a href="#" class="mention hashtag">#MaisonLumiere</a></p>',
            tags=["MaisonLumiere"],
        )
        ours = sim._new_status(
            sim.brand, "<p>Merci à tous ! #MaisonLumiere</p>", tags=["MaisonLumiere"]
        )
    items, _, _ = sync(connector)
    ids = [i.external_id for i in items]
    assert ids.count(tagged_mention["id"]) == 1, "a tagged mention comes once, as notification"
    assert by_id(items)[tag_only["id"]].kind == "mention"
    assert by_id(items)[tag_only["id"]].body == "Trop belle la vitrine #MaisonLumiere"
    assert by_id(items)[ours["id"]].outbound is True
    assert any(c.path == "/api/v1/timelines/tag/maisonlumiere" for c in sim.reads())


def test_status_html_becomes_plain_text_and_script_injection_is_dropped(sim, connector):
    payload = (
        '<p><span class="h-card"><a href="https://mastodon.example/@maisonlumiere" '
        'class="u-url mention">@<span>maisonlumiere</span></a></span> Bonjour &amp; merci'
        "<script>alert('xss')</script><br />"
        '<img src=x onerror="alert(1)">&lt;b&gt;pas du gras&lt;/b&gt;</p>'
        '<p><a href="https://shop.example/p/1"><span class="invisible">https://</span>'
        '<span class="ellipsis">shop.example/p/1</span></a><style>p{color:red}</style></p>'
    )
    with sim.lock:
        status = sim.mention(CAMILLE, "x", "public", None)
        status["content"] = payload
    item = by_id(sync(connector)[0])[status["id"]]
    assert item.body == (
        "@maisonlumiere Bonjour & merci\n<b>pas du gras</b>\n\nhttps://shop.example/p/1"
    )
    assert "alert" not in item.body and "color" not in item.body and "<img" not in item.body


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>a</p><p>b</p>", "a\n\nb"),
        ("line<br>two<br/>three", "line\ntwo\nthree"),
        ("&eacute;t&#233; &#x1F600; &lt;3", "été 😀 <3"),
        ("  lots   of\n\n  space  ", "lots of space"),
        ("<ul><li>one</li><li>two</li></ul>", "• one\n• two"),
        ("<noscript><p>hidden</p></noscript>visible", "visible"),
        ("<script/>kept", "kept"),
        ("", ""),
        (None, ""),
    ],
)
def test_html_to_text(html, text):
    assert html_to_text(html) == text


def test_content_warning_and_media_are_kept_in_the_text(sim, connector):
    with sim.lock:
        status = sim.mention(CAMILLE, "Regardez l'état du colis", "public", None)
        status["spoiler_text"] = "colis abîmé"
        status["media_attachments"] = [
            {"type": "image", "url": "https://files.example/1.jpg", "description": "carton"}
        ]
    body = by_id(sync(connector)[0])[status["id"]].body
    assert body.startswith("CW: colis abîmé\n\n@maisonlumiere Regardez")
    assert body.endswith("[image] https://files.example/1.jpg (carton)")


# -- writing ------------------------------------------------------------------------------------


def test_reply_to_a_public_mention_posts_a_public_reply_addressed_to_the_author(sim, connector):
    status = sim.mention(EMILY, "Do you ship to the UK?", "public", None)
    item = by_id(sync(connector)[0])[status["id"]]
    new_id = connector.reply(target_of(item), "Yes, in 3 to 5 days!")

    (post,) = [c for c in sim.writes() if c.path == "/api/v1/statuses"]
    acct = status["account"]["acct"]
    assert post.method == "POST"
    assert post.json() == {
        "status": f"@{acct} Yes, in 3 to 5 days!",
        "in_reply_to_id": status["id"],
        "visibility": "public",
    }
    assert post.headers["Authorization"] == f"Bearer {sim.token}"
    key = idempotency_key(target_of(item), "Yes, in 3 to 5 days!")
    assert post.headers["Idempotency-Key"] == key
    posted = sim.status(new_id)
    assert posted["account"]["id"] == BRAND_ID and posted["in_reply_to_id"] == status["id"]


def test_reply_to_a_dm_stays_direct_and_keeps_an_existing_mention(sim, connector):
    status = sim.mention(CAMILLE, "Où est mon colis ?", "direct", None)
    item = by_id(sync(connector)[0])[status["id"]]
    acct = status["account"]["acct"]
    connector.reply(target_of(item), f"Bonjour @{acct}, nous regardons.")
    (post,) = sim.writes()
    assert post.json()["visibility"] == "direct"
    assert post.json()["status"] == f"Bonjour @{acct}, nous regardons.", "no second mention"


def test_reply_keeps_the_visibility_of_an_unlisted_or_followers_only_target(sim, connector):
    unlisted = sim.mention(CAMILLE, "Petit souci de taille", "unlisted", None)
    private = sim.mention(EMILY, "Quick question", "private", None)
    items = by_id(sync(connector)[0])
    connector.reply(target_of(items[unlisted["id"]]), "On vous écrit")
    connector.reply(target_of(items[private["id"]]), "Sure")
    assert [c.json()["visibility"] for c in sim.writes()] == ["unlisted", "private"]


def test_a_retried_reply_carries_the_same_key_and_never_posts_twice(sim, connector):
    status = sim.mention(CAMILLE, "Bonjour ?", "public", None)
    target = target_of(by_id(sync(connector)[0])[status["id"]])
    before = len(sim.statuses)
    first = connector.reply(target, "Bonjour, on regarde !")
    again = connector.reply(target, "Bonjour, on regarde !")
    assert first == again
    assert len(sim.statuses) == before + 1, "Mastodon returns the first status for the same key"
    keys = {c.headers["Idempotency-Key"] for c in sim.writes()}
    assert len(keys) == 1
    other = connector.reply(target, "Autre réponse")
    assert other != first


def test_reply_to_a_deleted_status_is_not_allowed_and_posts_nothing(sim, connector):
    target = Target(external_id="999999999999999999", kind="mention", author_handle="@ghost")
    with pytest.raises(NotAllowed, match="deleted"):
        connector.reply(target, "Bonjour")
    assert sim.writes() == []


def test_like_favourites_the_status(sim, connector):
    status = sim.mention(EMILY, "Love it", "public", None)
    connector.moderate(target_of(by_id(sync(connector)[0])[status["id"]]), "like")
    (call,) = sim.writes()
    assert (call.method, call.path) == ("POST", f"/api/v1/statuses/{status['id']}/favourite")
    assert sim.status(status["id"])["favourited"] is True


@pytest.mark.parametrize("action", ["hide", "unhide", "delete"])
def test_hide_and_delete_do_not_exist_on_mastodon(sim, connector, action):
    target = Target(external_id="1", kind="mention")
    with pytest.raises(Unsupported, match=action) as caught:
        connector.moderate(target, action)
    assert "Mastodon" in str(caught.value)
    assert sim.calls == []


# -- errors -------------------------------------------------------------------------------------


def test_error_bodies_map_to_our_errors(sim, connector):
    status = sim.mention(EMILY, "Hello", "public", None)
    target = target_of(by_id(sync(connector)[0])[status["id"]])
    sim.fail_next(403, "This action is outside the authorized scopes")
    with pytest.raises(PermissionDenied, match="outside the authorized scopes"):
        connector.moderate(target, "like")
    sim.fail_next(422, "Validation failed: Text character limit of 500 exceeded")
    with pytest.raises(NotAllowed, match="character limit"):
        connector.reply(target, "x")
    sim.expire_token()
    with pytest.raises(AuthExpired, match="access token is invalid"):
        connector.reply(target, "x")


def test_server_errors_are_retried_then_transient(sim, connector):
    connector.retry_wait_max = 0.05
    sim.fail_next(502, "Bad gateway", times=1)
    assert connector.check().startswith("Connected as @maisonlumiere")
    sim.fail_next(503, "Service unavailable", times=connector.retry_attempts)
    before = len(sim.calls)
    with pytest.raises(Transient):
        connector.check()
    assert len(sim.calls) - before == connector.retry_attempts


def test_rate_limit_reset_is_read_on_the_server_clock():
    response = requests.Response()
    response.status_code = 429
    server_now = datetime.now(UTC) - timedelta(hours=2)  # a server clock two hours behind
    response.headers["Date"] = server_now.strftime("%a, %d %b %Y %H:%M:%S GMT")
    reset = server_now.replace(microsecond=0) + timedelta(seconds=90)
    response.headers["X-RateLimit-Reset"] = reset.isoformat().replace("+00:00", "Z")
    assert rate_limit_wait(response) == pytest.approx(90, abs=1)
    del response.headers["Date"]
    del response.headers["X-RateLimit-Reset"]
    response.headers["Retry-After"] = "12"
    assert rate_limit_wait(response) == 12


def test_check_names_the_account_and_instance(sim, connector):
    assert connector.check() == f"Connected as @maisonlumiere on {sim.base_url[7:]}"


# -- config and helpers -------------------------------------------------------------------------


def test_config_requires_a_token_and_valid_hashtags():
    with pytest.raises(ValidationError) as caught:
        MastodonConfig().load({})
    assert "access token" in caught.value.messages["access_token"][0]
    with pytest.raises(ValidationError) as caught:
        MastodonConfig().load({"access_token": "a" * 43, "watch_tags": "ok, not-a-tag"})
    assert "not-a-tag" in caught.value.messages["watch_tags"][0]
    with pytest.raises(ValidationError):
        MastodonConfig().load({"access_token": "a" * 43, "api_base": "ftp://mastodon.social"})
    loaded = MastodonConfig().load({"access_token": "a" * 43, "watch_tags": "#Maison, lumière"})
    assert loaded["api_base"] == "https://mastodon.social"


def test_access_token_is_secret():
    from connectors.mastodon import MastodonConnector

    assert MastodonConnector.secret_fields() == {"access_token"}


def test_links_to_another_host_are_re_rooted_on_api_base(sim):
    connector = build("mastodon", sim)
    link = "https://mastodon.example/api/v1/notifications?limit=40&max_id=12"
    assert connector._on_base(link) == f"{sim.base_url}/api/v1/notifications?limit=40&max_id=12"
    same = f"{sim.base_url}/api/v1/notifications?max_id=3"
    assert connector._on_base(same) == same


@pytest.mark.parametrize(
    ("text", "acct", "found"),
    [
        ("@camille_d merci", "camille_d", True),
        ("Merci @Camille_D.", "camille_d", True),
        ("@camille_d@piaille.example hi", "camille_d@piaille.example", True),
        ("@camille_d hi", "camille_d@piaille.example", False),
        ("@camille_dx hi", "camille_d", False),
        ("mail@camille_d", "camille_d", False),
    ],
)
def test_mentions_account(text, acct, found):
    assert mentions_account(text, acct) is found


def test_bots_write_too():
    with MastodonSimulator(page_size=5) as sim:
        sim.add_inbound(60)
        authors = {s["account"]["username"] for s in sim.statuses.values()}
    assert authors & {b.handle.replace(".", "_") for b in BOTS}, "some spam comes from bots"


def test_a_newly_watched_hashtag_reads_back_a_bounded_history(sim, connector):
    from connectors.mastodon import MAX_TAG_BACKFILL

    with sim.lock:
        tagged = [
            sim._new_status(sim.account_of(CAMILLE), f"<p>#{sim.tag} {n}</p>", tags=[sim.tag])
            for n in range(MAX_TAG_BACKFILL * sim.page_size + 7)
        ]
    items, cursor, _ = sync(connector)
    newest = [s["id"] for s in tagged[-MAX_TAG_BACKFILL * sim.page_size :]]
    assert sorted(i.external_id for i in items) == sorted(newest), "the newest pages only"
    assert cursor["marks"]["tag:maisonlumiere"] == tagged[-1]["id"]
    with sim.lock:
        fresh = sim._new_status(sim.account_of(EMILY), f"<p>#{sim.tag}</p>", tags=[sim.tag])
    items, _, _ = sync(connector, cursor)
    assert [i.external_id for i in items] == [fresh["id"]]
