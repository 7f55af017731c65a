"""The tickets API: sign-in, visibility, filters, keyset pages, version checks, taking."""

from __future__ import annotations

import pytest

from inbox import ingest
from inbox.models import Event, Item, Outbox, Ticket
from tests.support import count, make_item


@pytest.fixture
def setup(world):
    """Two CMs of team Support, one of team Other; a webhook channel per team with tickets."""
    world.user("ana@example.com")
    world.user("ben@example.com")
    world.user("olga@example.com", teams=("Other",))
    world.user("mia@example.com", role="manager")
    support, other = world.channel("Support"), world.channel("Other")
    ingest.ingest_batch(support.id, [make_item(f"s{i}", thread_id=f"c{i}") for i in range(5)])
    ingest.ingest_batch(other.id, [make_item("o1", thread_id="x")])
    return world


def first_ticket(client) -> dict:
    return client.get("/api/tickets").json["tickets"][0]


def test_anonymous_requests_are_refused(app):
    response = app.test_client().get("/api/tickets")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_wrong_password_is_refused_without_saying_which_part(setup):
    client = setup.app.test_client()
    token = client.get("/api/session").json["csrf_token"]
    response = client.post(
        "/api/session",
        json={"email": "ana@example.com", "password": "nope"},
        headers={"X-CSRF-Token": token},
    )
    assert response.status_code == 401 and response.json["error"]["message"] == (
        "wrong e-mail or password"
    )


def test_unsafe_request_without_csrf_token_is_refused(setup):
    ana = setup.client("ana@example.com")
    ticket = first_ticket(ana)
    response = ana.client.post(f"/api/tickets/{ticket['id']}/take")
    assert response.status_code == 403 and response.json["error"]["field"] == "X-CSRF-Token"
    assert ana.get(f"/api/tickets/{ticket['id']}").json["assignee_id"] is None


def test_cm_sees_only_the_tickets_of_their_teams(setup):
    olga = setup.client("olga@example.com")
    rows = olga.get("/api/tickets").json["tickets"]
    assert len(rows) == 1
    ana_ticket = first_ticket(setup.client("ana@example.com"))
    assert olga.get(f"/api/tickets/{ana_ticket['id']}").status_code == 404
    assert olga.post(f"/api/tickets/{ana_ticket['id']}/take").status_code == 404


def test_keyset_pages_cover_every_ticket_once(setup):
    ana = setup.client("ana@example.com")
    seen, cursor = [], None
    while True:
        url = "/api/tickets?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = ana.get(url).json
        seen += [row["id"] for row in page["tickets"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 5


def test_forged_cursor_is_a_clear_400(setup):
    response = setup.client("ana@example.com").get("/api/tickets?cursor=bm9wZQ==")
    assert response.status_code == 400 and response.json["error"]["field"] == "cursor"


def test_filters_by_assignee_status_and_text(setup):
    ana = setup.client("ana@example.com")
    ticket = first_ticket(ana)
    ana.post(f"/api/tickets/{ticket['id']}/take")
    assert [r["id"] for r in ana.get("/api/tickets?assignee=me").json["tickets"]] == [ticket["id"]]
    assert len(ana.get("/api/tickets?assignee=none").json["tickets"]) == 4
    assert len(ana.get("/api/tickets?status=closed").json["tickets"]) == 0
    assert len(ana.get("/api/tickets?q=MESSAGE s3").json["tickets"]) == 1
    assert len(ana.get("/api/tickets?q=100%25").json["tickets"]) == 0


def test_ticket_detail_has_items_and_timeline(setup):
    ana = setup.client("ana@example.com")
    ticket = first_ticket(ana)
    ana.post(f"/api/tickets/{ticket['id']}/take")
    detail = ana.get(f"/api/tickets/{ticket['id']}").json
    assert [i["body"] for i in detail["items"]] == [ticket["preview"]]
    assert [e["type"] for e in detail["events"]] == ["ticket_created", "assigned"]


def test_stale_patch_gets_409_with_the_current_ticket(setup):
    ana, ben = setup.client("ana@example.com"), setup.client("ben@example.com")
    ticket = first_ticket(ana)
    first = ben.patch(
        f"/api/tickets/{ticket['id']}", json={"version": ticket["version"], "priority": "high"}
    )
    assert first.status_code == 200 and first.json["version"] == ticket["version"] + 1
    stale = ana.patch(
        f"/api/tickets/{ticket['id']}", json={"version": ticket["version"], "status": "closed"}
    )
    assert stale.status_code == 409
    assert stale.json["error"]["ticket"]["priority"] == "high"
    assert stale.json["error"]["ticket"]["status"] == "open"


def test_patch_closes_tags_and_records_events(setup):
    ana = setup.client("ana@example.com")
    ticket = first_ticket(ana)
    response = ana.patch(
        f"/api/tickets/{ticket['id']}",
        json={"version": ticket["version"], "status": "closed", "tags": ["billing", "vip"]},
    )
    assert response.status_code == 200
    assert response.json["status"] == "closed" and response.json["tags"] == ["billing", "vip"]
    assert len(ana.get("/api/tickets?tag=vip").json["tickets"]) == 1
    types = [e["type"] for e in ana.get(f"/api/tickets/{ticket['id']}").json["events"]]
    assert types[-2:] == ["status_changed", "tags_changed"]


def test_second_cm_cannot_take_an_assigned_ticket(setup):
    ana, ben = setup.client("ana@example.com"), setup.client("ben@example.com")
    ticket = first_ticket(ana)
    assert ana.post(f"/api/tickets/{ticket['id']}/take").status_code == 200
    response = ben.post(f"/api/tickets/{ticket['id']}/take")
    assert response.status_code == 409
    assert response.json["error"]["ticket"]["assignee_id"] == ana.get("/api/me").json["id"]


def test_agent_cannot_assign_a_colleague_but_a_manager_can(setup):
    ana, mia = setup.client("ana@example.com"), setup.client("mia@example.com")
    ben_id = next(u["id"] for u in mia.get("/api/users").json if u["email"] == "ben@example.com")
    ticket = first_ticket(ana)
    refused = ana.patch(
        f"/api/tickets/{ticket['id']}", json={"version": ticket["version"], "assignee_id": ben_id}
    )
    assert refused.status_code == 403
    done = mia.patch(
        f"/api/tickets/{ticket['id']}", json={"version": ticket["version"], "assignee_id": ben_id}
    )
    assert done.status_code == 200 and done.json["assignee_id"] == ben_id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"version": "one", "status": "closed"}, "version"),
        ({"version": 1, "status": "done"}, "status"),
        ({"version": 1, "status": "closed", "colour": "red"}, "colour"),
        ({"version": 1, "status": "snoozed"}, "snoozed_until"),
        ({"version": 1, "snoozed_until": "2026-12-01T10:00:00"}, "snoozed_until"),
        ({"status": "closed"}, "version"),
    ],
)
def test_bad_patch_gets_400_naming_the_field_and_changes_nothing(setup, body, field):
    ana = setup.client("ana@example.com")
    ticket = first_ticket(ana)
    events_before = count(Event)
    response = ana.patch(f"/api/tickets/{ticket['id']}", json=body)
    assert response.status_code == 400, response.json
    assert response.json["error"]["field"] == field and response.json["error"]["message"]
    assert ana.get(f"/api/tickets/{ticket['id']}").json["version"] == ticket["version"]
    assert count(Event) == events_before


def test_malformed_json_is_a_400(setup):
    ana = setup.client("ana@example.com")
    ticket = first_ticket(ana)
    response = ana.patch(
        f"/api/tickets/{ticket['id']}", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid"


def test_reply_is_queued_then_sent_once(world):
    world.user("ana@example.com")
    channel = world.channel(type_="demo", config={"backlog": 0})
    ingest.ingest_batch(channel.id, [make_item("d1", thread_id="conv")])
    ana = world.client("ana@example.com")
    ticket = first_ticket(ana)
    response = ana.post(f"/api/tickets/{ticket['id']}/replies", json={"text": "Bonjour Ana !"})
    assert response.status_code == 202 and response.json["state"] == "queued"
    detail = ana.get(f"/api/tickets/{ticket['id']}").json
    reply = detail["items"][-1]
    assert (reply["direction"], reply["body"], reply["delivery"]) == (
        "out",
        "Bonjour Ana !",
        "sent",
    )
    assert [e["type"] for e in detail["events"]][-2:] == ["reply_queued", "reply_sent"]
    from inbox.outbox import send

    assert send(response.json["id"]) == "skipped"  # a second run never posts it again


def test_reply_that_cannot_leave_fails_with_the_reason_shown(setup):
    ana = setup.client("ana@example.com")
    ticket = first_ticket(ana)
    ana.post(f"/api/tickets/{ticket['id']}/replies", json={"text": "Hello"})
    reply = ana.get(f"/api/tickets/{ticket['id']}").json["items"][-1]
    assert reply["delivery"] == "failed" and "reply URL" in reply["delivery_error"]


def test_unsupported_moderation_is_refused_before_anything_is_stored(setup):
    ana = setup.client("ana@example.com")
    ticket = ana.get(f"/api/tickets/{first_ticket(ana)['id']}").json
    item_id = ticket["items"][0]["id"]
    response = ana.post(f"/api/items/{item_id}/moderation", json={"action": "hide"})
    assert response.status_code == 400 and response.json["error"]["field"] == "action"
    assert count(Outbox) == 0


def test_notes_stay_internal(setup):
    ana = setup.client("ana@example.com")
    ticket = first_ticket(ana)
    response = ana.post(f"/api/tickets/{ticket['id']}/notes", json={"text": "VIP, be nice"})
    assert response.status_code == 201 and response.json["direction"] == "note"
    assert count(Outbox) == 0 and count(Item) == 7


def test_resync_returns_missed_events_of_visible_teams_only(setup):
    olga = setup.client("olga@example.com")
    page = olga.get("/api/events?after=0").json
    assert {e["type"] for e in page["events"]} == {"ticket_created", "item_added"}
    assert len(page["tickets"]) == 1 and page["more"] is False
    last = page["events"][-1]["id"]
    assert olga.get(f"/api/events?after={last}").json["events"] == []


def test_openapi_document_lists_the_api(app):
    paths = app.test_client().get("/api/openapi.json").json["paths"]
    assert {"/api/tickets", "/api/tickets/{ticket_id}/take", "/api/events"} <= set(paths)
    assert count(Ticket) == 0
