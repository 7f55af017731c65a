"""Encryption at rest for channel configurations (tokens, webhook secrets)."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"community-inbox", info=b"channel-config"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_json(value: Any, secret_key: str | None = None) -> str:
    """Encrypt a JSON-ready value with a key derived from the app's secret."""
    fernet = _fernet(secret_key or current_app.config["SECRET_KEY"])
    return fernet.encrypt(json.dumps(value).encode()).decode()


def decrypt_json(token: str, secret_key: str | None = None) -> Any:
    """Decrypt what encrypt_json produced; a wrong key raises ValueError."""
    if not token:
        return {}
    fernet = _fernet(secret_key or current_app.config["SECRET_KEY"])
    try:
        return json.loads(fernet.decrypt(token.encode()))
    except InvalidToken as exc:
        raise ValueError("channel configuration cannot be decrypted with this SECRET_KEY") from exc
