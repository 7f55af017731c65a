"""The scaled topology for real: two gunicorn web processes, an RQ worker and the clock."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import requests
import socketio

from connectors.webhook import sign
from inbox import create_app, db
from tests.support import WEBHOOK_SECRET, World, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(90)]

ROOT = Path(__file__).resolve().parent.parent
REDIS_SERVER = os.environ.get("INBOX_TEST_REDIS", "redis://127.0.0.1:6379")
REDIS_DB = 13  # flushed before the run: keep it apart from anything a developer keeps in Redis
SECRET_KEY = "scaled-test-secret-key"
PASSWORD = "password-123"
TEAM = "Support"


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Topology:
    """The running processes, their URLs and the environment they share."""

    env: dict[str, str]
    web1: str
    web2: str
    webhook_channel_id: int
    processes: list[Process] = field(default_factory=list)

    def start(self, name: str, *args: str, logs: Path) -> Process:
        log = logs / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, *args],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def check_alive(self) -> None:
        for process in self.processes:
            if process.popen.poll() is not None:
                raise AssertionError(f"{process.name} exited with {process.popen.returncode}")

    def stop(self) -> None:
        """Terminate each process with its children (the worker forks its scheduler)."""
        for process in self.processes:
            _signal_group(process.popen, signal.SIGTERM)
        for process in self.processes:
            try:
                process.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(process.popen, signal.SIGKILL)
                process.popen.wait()

    def dump_logs(self) -> None:
        for process in self.processes:
            print(f"\n===== {process.name} (exit {process.popen.returncode}) =====")
            print(process.output()[-6000:])


def _signal_group(popen: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(popen.pid, sig)  # started with its own session, so the group is its own


def process_env(database_url: str, redis_url: str) -> dict[str, str]:
    """The environment every process of the topology gets: the same settings for all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INBOX_")}
    return env | {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": SECRET_KEY,
        "INBOX_SOCKETIO_CHANNEL": f"inbox-scaled-{uuid.uuid4().hex[:8]}",
        "PYTHONUNBUFFERED": "1",
    }


def seed(database_url: str, redis_url: str, tmp_path: Path) -> int:
    """Start from empty tables; create the team, two agents and a webhook channel."""
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": SECRET_KEY,
            "INSTANCE_PATH": str(tmp_path),
            "JOBS_BACKEND": "eager",
        },
        serve_sockets=False,
    )
    try:
        tables = ", ".join(t.name for t in db.Base.metadata.sorted_tables)
        with app.extensions["db_engine"].begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        with app.app_context():
            world = World(app)
            world.user("ana@example.com", teams=(TEAM,))
            world.user("ben@example.com", teams=(TEAM,))
            return world.channel(TEAM).id
    finally:
        app.extensions["db_engine"].dispose()


def wait_until_serving(topology: Topology, url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        topology.check_alive()
        try:
            if requests.get(f"{url}/api/session", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in time")


def wait_for_worker(redis_url: str, topology: Topology, deadline: float) -> None:
    connection = redis.Redis.from_url(redis_url)
    while time.monotonic() < deadline:
        topology.check_alive()
        if connection.keys("rq:worker:*"):
            return
        time.sleep(0.1)
    raise AssertionError("the RQ worker did not register in time")


@pytest.fixture(scope="module")
def topology(pg_database, tmp_path_factory):
    """Seed the database, then run web 1, web 2, the worker and the clock until the tests end."""
    redis_url = f"{REDIS_SERVER}/{REDIS_DB}"
    redis.Redis.from_url(redis_url).flushdb()  # raises, failing the tests, when Redis is down
    tmp = tmp_path_factory.mktemp("scaled")
    channel_id = seed(pg_database, redis_url, tmp)
    ports = free_port(), free_port()
    topo = Topology(
        env=process_env(pg_database, redis_url),
        web1=f"http://127.0.0.1:{ports[0]}",
        web2=f"http://127.0.0.1:{ports[1]}",
        webhook_channel_id=channel_id,
    )
    gunicorn = ("-m", "gunicorn", "--worker-class", "gthread", "--workers", "1")
    # several instances on one host would share gunicorn's default control socket path
    gunicorn += ("--threads", "100", "--graceful-timeout", "2", "--no-control-socket")
    failed = True
    try:
        for name, port in zip(("web1", "web2"), ports, strict=True):
            topo.start(name, *gunicorn, "--bind", f"127.0.0.1:{port}", "inbox.wsgi:app", logs=tmp)
        topo.start("worker", "-m", "inbox", "worker", logs=tmp)
        topo.start("clock", "-m", "inbox", "clock", logs=tmp)
        deadline = time.monotonic() + 20
        wait_until_serving(topo, topo.web1, deadline)
        wait_until_serving(topo, topo.web2, deadline)
        wait_for_worker(redis_url, topo, deadline)
        yield topo
        failed = False
    finally:
        topo.stop()
        if failed:
            topo.dump_logs()


@pytest.fixture
def show_logs_on_failure(topology, request):
    """Print the processes' output when the test using this fixture fails."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        topology.dump_logs()


def login(url: str, email: str) -> requests.Session:
    http = requests.Session()
    token = http.get(f"{url}/api/session", timeout=5).json()["csrf_token"]
    response = http.post(
        f"{url}/api/session",
        json={"email": email, "password": PASSWORD},
        headers={"X-CSRF-Token": token},
        timeout=5,
    )
    response.raise_for_status()
    http.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return http


class Listener:
    """A socket client that timestamps every "events" payload it receives."""

    def __init__(self, url: str, http: requests.Session | None, origin: str | None = None):
        self.url, self.received, self.refusals = url, queue.Queue(), []
        # websocket-client adds its own Origin header unless given one this way: an Origin in
        # `headers` would be sent twice and read by the server as "a,b"
        self.client = socketio.Client(
            reconnection=False, websocket_extra_options={"origin": origin or url}
        )
        self.client.on("events", lambda payload: self.received.put((time.time(), payload)))
        self.client.on("connect_error", self.refusals.append)
        self.headers = {}
        if http is not None:
            self.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in http.cookies.items())

    def connect(self) -> Listener:
        self.client.connect(
            self.url, headers=self.headers, transports=["websocket"], wait_timeout=5
        )
        return self

    def wait_for(self, predicate, timeout: float) -> tuple[float, dict, dict]:
        """Return (arrival time, event, payload) of the first event matching `predicate`."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                arrived, payload = self.received.get(timeout=left)
            except queue.Empty:
                break
            for event in payload["events"]:
                if predicate(event, payload):
                    return arrived, event, payload
        raise AssertionError(f"no matching event within {timeout} s")


def committed_at(event: dict) -> float:
    """The event row's creation time, taken just before the worker's commit."""
    return datetime.fromisoformat(event["created_at"]).timestamp()


def signed_post(url: str, channel_id: int, items: list[dict]) -> requests.Response:
    body = json.dumps({"items": items}).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Inbox-Timestamp": str(timestamp),
        "X-Inbox-Signature": sign(WEBHOOK_SECRET, timestamp, body),
    }
    return requests.post(f"{url}/hooks/{channel_id}", data=body, headers=headers, timeout=5)


def add_demo_channel(topology: Topology) -> int:
    """Connect a demo channel through the CLI, as an operator would."""
    command = ("-m", "inbox", "channels", "add", "demo", "--name", "Demo", "--team", TEAM)
    done = subprocess.run(
        [sys.executable, *command, "--set", "backlog=5", "--poll-interval", "5"],
        cwd=ROOT,
        env=topology.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["id"]


@pytest.fixture
def ana_socket(topology, show_logs_on_failure):
    """Ana signed in on web 1, listening on a socket to web 1."""
    listener = Listener(topology.web1, login(topology.web1, "ana@example.com")).connect()
    yield listener
    listener.client.disconnect()


def push_dm(topology: Topology, listener: Listener, thread_id: str) -> tuple[dict, dict, float]:
    """POST a signed DM to web 2; return the ticket_created event, its payload and latencies."""
    item = {
        "external_id": f"w-{uuid.uuid4().hex[:8]}",
        "kind": "dm",
        "thread_id": thread_id,
        "author": {"id": f"u-{thread_id}", "handle": "@lou", "name": "Lou"},
        "body": "Bonjour, ma commande n'est pas arrivée",
        "created_at": datetime.now(UTC).isoformat(),
    }
    posted = time.time()
    response = signed_post(topology.web2, topology.webhook_channel_id, [item])
    assert response.status_code == 202, response.text
    arrived, created, payload = listener.wait_for(
        lambda e, _p: (
            e["type"] == "ticket_created" and e["channel_id"] == topology.webhook_channel_id
        ),
        timeout=5,
    )
    return created, payload, (arrived - posted, arrived - committed_at(created))


def test_webhook_on_web2_reaches_a_socket_on_web1(topology, ana_socket, record_property):
    created, payload, (from_post, from_commit) = push_dm(topology, ana_socket, "conv-push")
    ticket_id = created["ticket_id"]
    types = {e["type"] for e in payload["events"] if e["ticket_id"] == ticket_id}
    assert {"ticket_created", "item_added"} <= types
    assert payload["tickets"][str(ticket_id)]["subject"].startswith("Bonjour")
    record_property("webhook_post_to_socket_s", round(from_post, 3))
    record_property("webhook_commit_to_socket_s", round(from_commit, 3))
    print(f"\nwebhook: POST->socket {from_post:.3f} s, commit->socket {from_commit:.3f} s")
    assert from_post < 3
    assert from_commit < 1


def test_take_on_web2_reaches_a_socket_on_web1(topology, ana_socket, record_property):
    created, _payload, _latency = push_dm(topology, ana_socket, "conv-take")
    ticket_id = created["ticket_id"]
    ben = login(topology.web2, "ben@example.com")
    sent = time.time()
    taken = ben.post(f"{topology.web2}/api/tickets/{ticket_id}/take", timeout=5)
    assert taken.status_code == 200, taken.text
    arrived, assigned, payload = ana_socket.wait_for(
        lambda e, _p: e["type"] == "assigned" and e["ticket_id"] == ticket_id, timeout=3
    )
    ben_id = taken.json()["assignee_id"]
    assert assigned["actor_id"] == ben_id
    assert payload["tickets"][str(ticket_id)]["assignee_id"] == ben_id
    record_property("take_to_socket_s", round(arrived - sent, 3))
    print(f"\ntake: request->socket {arrived - sent:.3f} s")
    assert arrived - sent < 1


def test_clock_and_worker_poll_a_demo_channel_into_a_socket(topology, ana_socket, record_property):
    demo_id = add_demo_channel(topology)
    added = time.time()
    seen: set[int] = set()

    def demo_item(event: dict, _payload: dict) -> bool:
        if event["channel_id"] == demo_id and event["type"] == "item_added":
            seen.add(event["data"]["item_id"])
        return len(seen) == 5  # the whole backlog

    # the clock enqueues poll_due_channels every 5 s; that job enqueues this channel's poll
    arrived, _event, _payload = ana_socket.wait_for(demo_item, timeout=12)
    record_property("demo_added_to_socket_s", round(arrived - added, 3))
    print(f"\ndemo poll: channel added->backlog on socket {arrived - added:.3f} s")
    topology.check_alive()


def test_socket_without_a_session_is_refused(topology, show_logs_on_failure):
    listener = Listener(topology.web1, None)
    with pytest.raises(socketio.exceptions.ConnectionError):
        listener.connect()
    # refused by the connect handler, after the handshake; the reason is lost while
    # inbox/realtime.py raises the builtin ConnectionRefusedError instead of Socket.IO's
    [refusal] = listener.refusals
    assert refusal["message"] in {"sign in first", "Connection refused by server"}


def test_socket_from_a_foreign_origin_is_refused(topology, show_logs_on_failure):
    ana = login(topology.web1, "ana@example.com")
    listener = Listener(topology.web1, ana, origin="https://evil.example")
    with pytest.raises(socketio.exceptions.ConnectionError):
        listener.connect()
    # refused at the handshake (HTTP 400), before any handler runs
    assert listener.refusals == ["Connection error"]
