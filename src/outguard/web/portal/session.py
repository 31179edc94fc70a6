"""Portal sessions: a signed, HttpOnly, SameSite=Strict cookie that never holds the API key.

Signing in checks the key once (`ApiKeyService.open_session`); the cookie then keeps the key's id,
a fingerprint bound to the key's stored hash, a per-session CSRF token and the time it was issued,
signed with HMAC-SHA256 under a secret generated into `data_dir` on first start. Every request
re-reads the key by id and checks the fingerprint, so revoking the key ends its sessions at once,
and a stolen cookie is worth nothing once the key is revoked or the session is 12 hours old.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from fastapi import Request, Response

COOKIE = "outguard_session"
FLASH_COOKIE = "outguard_flash"
MAX_AGE = 12 * 3600
SECRET_FILE = "web-secret"


def load_secret(data_dir: Path) -> bytes:
    """The signing secret, created (0600) on first use; every web node sharing sessions needs the same file."""
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """`payload.signature`: URL-safe base64 JSON, HMAC-SHA256 over it (the purpose is part of the MAC,
    so a flash cookie can never pass as a session)."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def _mac(self, purpose: str, payload: str) -> str:
        return _b64(hmac.new(self.secret, f"{purpose}.{payload}".encode(), hashlib.sha256).digest())

    def dumps(self, purpose: str, data: dict[str, Any]) -> str:
        payload = _b64(json.dumps(data, separators=(",", ":")).encode())
        return f"{payload}.{self._mac(purpose, payload)}"

    def loads(self, purpose: str, token: str | None, max_age: int) -> dict[str, Any] | None:
        if not token or token.count(".") != 1:
            return None
        payload, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(purpose, payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
        except ValueError:
            return None
        if not isinstance(data, dict) or time.time() - float(data.get("t", 0)) > max_age:
            return None
        return data


def signer(request: Request) -> Signer:
    return request.app.state.signer  # type: ignore[no-any-return]


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def start(request: Request, response: Response, opened: dict[str, Any]) -> None:
    data = {
        "k": opened["key_id"],
        "f": opened["fingerprint"],
        "p": opened["prefix"],
        "c": secrets.token_urlsafe(24),
        "t": time.time(),
    }
    _cookie(response, request, COOKIE, signer(request).dumps("session", data), MAX_AGE)


def read(request: Request) -> dict[str, Any] | None:
    return signer(request).loads("session", request.cookies.get(COOKIE), MAX_AGE)


def end(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


def flash(request: Request, response: Response, kind: str, text: str) -> None:
    """A one-time notice for the next page (after a form's redirect)."""
    token = signer(request).dumps("flash", {"k": kind, "m": text[:500], "t": time.time()})
    _cookie(response, request, FLASH_COOKIE, token, 120)


def take_flash(request: Request) -> dict[str, str] | None:
    data = signer(request).loads("flash", request.cookies.get(FLASH_COOKIE), 120)
    return {"kind": data["k"], "text": data["m"]} if data else None
