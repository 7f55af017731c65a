"""The jobs facade on its real backends: RQ on Redis, and the embedded thread pool."""

from __future__ import annotations

import json
import threading

import pytest
import redis
from rq.registry import ScheduledJobRegistry

from inbox import create_app, jobs
from inbox.models import Item
from inbox.worker import run_worker
from tests.conftest import _settings, _truncate_all
from tests.inbox.test_hooks import item, post
from tests.support import World, count

REDIS_TEST_URL = "redis://127.0.0.1:6379/13"

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def rq_app(pg_database, tmp_path):
    redis.Redis.from_url(REDIS_TEST_URL).flushdb()
    app = create_app(
        _settings(
            pg_database, REDIS_URL=REDIS_TEST_URL, JOBS_BACKEND="rq", INSTANCE_PATH=str(tmp_path)
        ),
        serve_sockets=False,
    )
    _truncate_all(app)
    with app.app_context():
        yield app
    app.extensions["db_engine"].dispose()


def test_webhook_is_answered_at_once_and_ingested_by_an_rq_worker(rq_app):
    channel = World(rq_app).channel()
    response = post(rq_app, channel.id, {"items": [item("w1"), item("w2")]})
    assert response.status_code == 202
    assert count(Item) == 0  # queued, not yet ingested
    queue = rq_app.extensions["jobs"].queue("ingest")
    [queued] = queue.get_jobs()
    assert queued.func_name == "workers.jobs.ingest_webhook"
    assert json.loads(json.dumps(queued.args)) == queued.args  # JSON-serialized, ids and values
    assert queued.retries_left == len(jobs.RETRY_INTERVALS)
    run_worker(rq_app, ("ingest",), burst=True)
    assert count(Item) == 2


def test_delayed_job_waits_in_the_scheduled_registry(rq_app):
    jobs.enqueue("workers.jobs.send_outbox", 42, delay=30)
    queue = rq_app.extensions["jobs"].queue("outbox")
    assert queue.count == 0
    assert len(ScheduledJobRegistry(queue=queue)) == 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_embedded_pool_runs_jobs_off_the_request_thread_and_retries(
    database_url, tmp_path, monkeypatch
):
    app = create_app(_settings(database_url, JOBS_BACKEND="inprocess", INSTANCE_PATH=str(tmp_path)))
    monkeypatch.setattr(jobs, "RETRY_INTERVALS", [0.1])
    calls = []
    done = threading.Event()

    def flaky(value):
        calls.append((value, threading.current_thread().name))
        if len(calls) == 1:
            raise RuntimeError("first try fails")
        done.set()

    monkeypatch.setattr("workers.jobs.flaky", flaky, raising=False)
    with app.app_context():
        jobs.enqueue("workers.jobs.flaky", 7)
    assert done.wait(5)
    assert [value for value, _ in calls] == [7, 7]
    assert all(name.startswith("inbox-job") for _, name in calls)
    app.extensions["jobs"].pool.shutdown(wait=True)
