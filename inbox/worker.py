"""Scaled-mode processes: the RQ worker and the clock that enqueues the schedule."""

from __future__ import annotations

import logging
import signal
import time

from flask import Flask
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from inbox.jobs import QUEUES
from workers.schedule import SCHEDULE

log = logging.getLogger(__name__)


class AppWorker(SimpleWorker):
    """Runs each job in its own app context, so each job has its own database session."""

    app: Flask

    def execute_job(self, job, queue):
        with self.app.app_context():
            return super().execute_job(job, queue)


def run_worker(app: Flask, queues: tuple[str, ...] = (), burst: bool = False) -> None:
    """Work the named queues (all by default), with the scheduler for delayed jobs and retries."""
    backend = app.extensions["jobs"]
    worker = AppWorker(
        [backend.queue(name) for name in (queues or QUEUES)],
        connection=backend.redis,
        serializer=JSONSerializer,
    )
    worker.app = app
    logging.basicConfig(level=logging.INFO)
    if not queues or "ingest" in queues:
        from inbox import analysis

        analysis.warm_up()  # before registering: the first item is not kept waiting
    worker.work(burst=burst, with_scheduler=True)


def run_clock(app: Flask, tick: float = 1.0) -> None:
    """Enqueue each periodic job at its interval; a Redis key per slot keeps one clock in charge."""
    backend = app.extensions["jobs"]
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    logging.basicConfig(level=logging.INFO)
    log.info("clock started with %d periodic jobs", len(SCHEDULE))
    while not stop:
        now = time.time()
        for entry in SCHEDULE:
            slot = int(now // entry.every)
            key = f"inbox:clock:{entry.id}:{slot}"
            if backend.redis.set(key, "1", nx=True, ex=entry.every * 2):
                with app.app_context():
                    backend.enqueue(entry.job, (), None)
        time.sleep(tick)
