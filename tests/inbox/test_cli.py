"""The `inbox` command: users, channels, schema upgrades."""

from __future__ import annotations

import json

import pytest
from flask.cli import ScriptInfo

from inbox.cli import main
from inbox.crypto import decrypt_json
from inbox.models import Channel

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def invoke(app):
    runner = app.test_cli_runner()

    def run(*args, input=None):
        return runner.invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app), input=input)

    return run


def test_users_create_then_sign_in(invoke, app):
    result = invoke(
        "users", "create", "zoe@example.com", "--name", "Zoé", "--role", "manager",
        "--team", "Support", input="pass-phrase-1\npass-phrase-1\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "(manager)" in result.output
    client = app.test_client()
    token = client.get("/api/session").json["csrf_token"]
    login = client.post(
        "/api/session",
        json={"email": "zoe@example.com", "password": "pass-phrase-1"},
        headers={"X-CSRF-Token": token},
    )
    assert login.status_code == 200 and login.json["user"]["role"] == "manager"


def test_channels_add_encrypts_secrets_and_never_prints_them(invoke, app):
    result = invoke(
        "channels", "add", "webhook", "--name", "Forum", "--team", "Support",
        "--set", "secret=a-long-enough-secret",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["config"]["secret"] == "(set)" and shown["webhook_url"] == "/hooks/1"
    from inbox import db

    stored = db.session().get(Channel, shown["id"])
    assert "a-long-enough-secret" not in stored.config_encrypted
    assert decrypt_json(stored.config_encrypted)["secret"] == "a-long-enough-secret"
    listing = invoke("channels", "list")
    assert "webhook" in listing.output and "Forum" in listing.output


def test_channels_add_explains_a_bad_config(invoke):
    result = invoke("channels", "add", "webhook", "--name", "F", "--team", "T", "--set", "secret=x")
    assert result.exit_code == 2
    assert "config.secret" in result.output
    unknown = invoke("channels", "add", "myspace", "--name", "F", "--team", "T")
    assert unknown.exit_code == 2 and "known:" in unknown.output


def test_db_upgrade_is_idempotent(invoke):
    assert invoke("db", "upgrade").exit_code == 0
    assert "up to date" in invoke("db", "upgrade").output
