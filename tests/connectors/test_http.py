"""The shared HTTP client: retries only what is safe to retry, maps errors, stays on its host."""

from __future__ import annotations

import threading
import time

import pytest
from flask import Flask, jsonify, request
from marshmallow import Schema
from werkzeug.serving import make_server

from connectors.base import (
    AuthExpired,
    ConnectorError,
    NotAllowed,
    PermissionDenied,
    RateLimited,
    Transient,
)
from connectors.http import DeliveryUnknown, HttpConnector, seconds_until_iso
from tests.support import free_port


class Probe(HttpConnector):
    type = "probe"
    label = "Probe"
    config_schema = Schema
    retry_wait_max = 0.05
    timeout = 1.0


@pytest.fixture
def server():
    app = Flask("probe")
    hits: list[str] = []
    script: dict[str, list[tuple[int, dict]]] = {}

    @app.route("/<path:name>", methods=["GET", "POST", "PUT", "DELETE"])
    def answer(name):
        hits.append(f"{request.method} /{name}")
        if name == "slow":
            time.sleep(1.5)
        queue = script.get(name) or [(200, {})]
        status, headers = queue.pop(0) if len(queue) > 1 else queue[0]
        return jsonify({"name": name}), status, headers

    port = free_port()
    srv = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{port}", hits, script
    srv.shutdown()


def test_reads_are_retried_on_server_errors(server):
    base, hits, script = server
    script["items"] = [(503, {}), (502, {}), (200, {})]
    assert Probe({"api_base": base}).get_json("items") == {"name": "items"}
    assert hits == ["GET /items"] * 3


def test_writes_are_not_posted_twice_after_a_server_error(server):
    base, hits, script = server
    script["reply"] = [(500, {})]
    with pytest.raises(Transient):
        Probe({"api_base": base}).call("POST", "reply", json={"text": "bonjour"})
    assert hits == ["POST /reply"]


def test_a_write_with_no_answer_is_reported_as_unknown_not_retried(server):
    base, hits, _ = server
    with pytest.raises(DeliveryUnknown, match="may have been posted"):
        Probe({"api_base": base}).call("POST", "slow", json={})
    assert hits == ["POST /slow"]


def test_a_refused_connection_is_retried_then_transient():
    port = free_port()  # nothing listens there
    with pytest.raises(Transient, match="cannot reach"):
        Probe({"api_base": f"http://127.0.0.1:{port}"}).call("POST", "reply", json={})


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, AuthExpired), (403, PermissionDenied), (404, NotAllowed), (418, ConnectorError)],
)
def test_generic_statuses_map_to_our_errors(server, status, error):
    base, _, script = server
    script["x"] = [(status, {})]
    with pytest.raises(error):
        Probe({"api_base": base}).get_json("x")


def test_429_waits_for_retry_after(server):
    base, hits, script = server
    script["x"] = [(429, {"Retry-After": "7"})]
    with pytest.raises(RateLimited) as caught:
        Probe({"api_base": base}).get_json("x")
    assert caught.value.retry_after == 7 and hits == ["GET /x"], "a rate limit is not hammered"


def test_links_to_another_host_are_not_followed(server):
    base, hits, _ = server
    with pytest.raises(ConnectorError, match="outside"):
        Probe({"api_base": base}).get_json("https://evil.example/steal?page=2")
    assert hits == []


def test_iso_reset_times_become_seconds():
    assert seconds_until_iso("2000-01-01T00:00:00Z") == 1.0
    assert seconds_until_iso("not a date", default=9) == 9
