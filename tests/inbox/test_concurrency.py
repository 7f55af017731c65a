"""Racing CMs over real HTTP: simultaneous takes and edits end with one winner, never a 500."""

from __future__ import annotations

import threading

from inbox import ingest
from tests.inbox.test_realtime import login
from tests.support import LiveServer, World, make_item


def race(*calls):
    """Start the calls at the same instant in threads; return their responses in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_two_cms_taking_the_same_ticket_at_once_get_one_owner(live_app):
    with live_app.app_context():
        world = World(live_app)
        emails = [f"cm{i}@example.com" for i in range(4)]
        for email in emails:
            world.user(email)
        channel = world.channel()
        ingest.ingest_batch(channel.id, [make_item(f"m{i}", thread_id=f"c{i}") for i in range(5)])
    with LiveServer(live_app) as server:
        sessions = [login(server, email) for email in emails]
        for ticket_id in range(1, 6):
            url = f"{server.url}/api/tickets/{ticket_id}/take"
            responses = race(*[lambda s=s, url=url: s.post(url) for s in sessions])
            codes = sorted(r.status_code for r in responses)
            assert codes == [200, 409, 409, 409], [r.text for r in responses]
            winner = next(r for r in responses if r.status_code == 200).json()["assignee_id"]
            for loser in (r for r in responses if r.status_code == 409):
                assert loser.json()["error"]["ticket"]["assignee_id"] == winner


def test_simultaneous_edits_with_the_same_version_let_one_through(live_app):
    with live_app.app_context():
        world = World(live_app)
        world.user("ana@example.com")
        world.user("ben@example.com")
        ingest.ingest_batch(world.channel().id, [make_item("m1")])
    with LiveServer(live_app) as server:
        ana, ben = login(server, "ana@example.com"), login(server, "ben@example.com")
        url = f"{server.url}/api/tickets/1"
        responses = race(
            lambda: ana.patch(url, json={"version": 2, "status": "closed"}),
            lambda: ben.patch(url, json={"version": 2, "priority": "urgent"}),
        )
        assert sorted(r.status_code for r in responses) == [200, 409]
        final = ana.get(url).json()
        assert final["version"] == 3
        assert (final["status"] == "closed") != (final["priority"] == "urgent")
