"""Background jobs behind one facade: RQ when scaled, threads when embedded, eager in tests."""

from __future__ import annotations

import logging
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from flask import Flask, current_app, g, has_request_context
from werkzeug.utils import import_string

from inbox import db

log = logging.getLogger(__name__)

QUEUE_OF = {
    "workers.jobs.ingest_webhook": "ingest",
    "workers.jobs.poll_channel": "poll",
    "workers.jobs.poll_due_channels": "poll",
    "workers.jobs.send_outbox": "outbox",
}
QUEUES = ("outbox", "ingest", "poll", "default")
RETRY_INTERVALS = [10, 60, 300]


def enqueue(job: str, *args: Any, delay: float | None = None) -> None:
    """Run `job` (a dotted path taking ids and JSON values) in the background."""
    current_app.extensions["jobs"].enqueue(job, args, delay)


def run_job(app: Flask, job: str, args: tuple | list) -> Any:
    """Run one job in a fresh app context, so each job has its own database session."""
    with app.app_context():
        g.in_job = True  # eager jobs run after a request, still inside its context
        return import_string(job)(*args)


class EagerBackend:
    """Runs jobs at once, in order, in the caller's thread; delayed ones wait for `run_delayed`."""

    def __init__(self, app: Flask):
        self.app = app
        self.local = threading.local()
        self.delayed: list[tuple[str, tuple, float]] = []
        app.teardown_request(self._after_request)

    def enqueue(self, job: str, args: tuple, delay: float | None) -> None:
        if delay:
            self.delayed.append((job, tuple(args), delay))
            return
        if getattr(self.local, "pending", None) is not None:  # enqueued by a running job
            self.local.pending.append((job, args))
            return
        if has_request_context():  # like a real queue, the job runs after the response
            db.scope().setdefault("eager_jobs", []).append((job, args))
            return
        self.run(job, args)

    def _after_request(self, _exc) -> None:
        state = db.scope()
        pending = state.pop("eager_jobs", [])
        db.close_scope(state)  # release the request's database session before the jobs run
        for job, args in pending:
            self.run(job, args)

    def run(self, job: str, args: tuple) -> None:
        self.local.pending = deque([(job, args)])
        try:
            while self.local.pending:
                run_job(self.app, *self.local.pending.popleft())
        finally:
            self.local.pending = None

    def run_delayed(self) -> int:
        jobs, self.delayed = self.delayed, []
        for job, args, _delay in jobs:
            self.run(job, args)
        return len(jobs)


class InProcessBackend:
    """Embedded mode: a thread pool for jobs, timers for delays, a thread for the schedule."""

    def __init__(self, app: Flask, workers: int = 4):
        self.app = app
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="inbox-job")
        self.stopping = threading.Event()

    def enqueue(self, job: str, args: tuple, delay: float | None, attempt: int = 0) -> None:
        if delay:
            timer = threading.Timer(delay, self.enqueue, (job, args, None, attempt))
            timer.daemon = True
            timer.start()
            return
        try:
            self.pool.submit(self._run, job, args, attempt)
        except RuntimeError:  # the pool was shut down (the app is stopping): nothing to run on
            log.info("job %s%r dropped: the app is stopping", job, args)

    def _run(self, job: str, args: tuple, attempt: int) -> None:
        try:
            run_job(self.app, job, args)
        except Exception:
            log.exception("job %s%r failed (attempt %d)", job, args, attempt + 1)
            if attempt < len(RETRY_INTERVALS):
                self.enqueue(job, args, RETRY_INTERVALS[attempt], attempt + 1)

    def start_schedule(self) -> threading.Thread:
        """Start the thread that enqueues the periodic jobs of workers.schedule."""
        from workers.schedule import SCHEDULE

        def loop() -> None:
            next_run = {entry.id: 0.0 for entry in SCHEDULE}
            while not self.stopping.is_set():
                now = _monotonic()
                for entry in SCHEDULE:
                    if now >= next_run[entry.id]:
                        next_run[entry.id] = now + entry.every
                        self.enqueue(entry.job, (), None)
                self.stopping.wait(1.0)

        thread = threading.Thread(target=loop, name="inbox-schedule", daemon=True)
        thread.start()
        return thread


class RQBackend:
    """Scaled mode: RQ queues named by purpose, JSON serializer, retries with backoff."""

    def __init__(self, app: Flask):
        from redis import Redis

        self.redis = Redis.from_url(app.config["REDIS_URL"])  # connects on first command

    def queue(self, name: str):
        from rq import Queue
        from rq.serializers import JSONSerializer

        return Queue(name, connection=self.redis, serializer=JSONSerializer)

    def enqueue(self, job: str, args: tuple, delay: float | None) -> None:
        from rq import Retry

        queue = self.queue(QUEUE_OF.get(job, "default"))
        options = {
            "retry": Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
            "result_ttl": 600,
            "failure_ttl": 7 * 86400,
        }
        if delay:
            queue.enqueue_in(timedelta(seconds=delay), job, *args, **options)
        else:
            queue.enqueue(job, *args, **options)


def _monotonic() -> float:
    import time

    return time.monotonic()


def init_app(app: Flask) -> None:
    """Pick the backend once, from config: rq, inprocess or eager."""
    backends = {"rq": RQBackend, "inprocess": InProcessBackend, "eager": EagerBackend}
    app.extensions["jobs"] = backends[app.config["JOBS_BACKEND"]](app)
