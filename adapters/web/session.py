"""Web sessions: the API's users sign in with their name and personal token and get a signed,
expiring cookie; every form carries the session's CSRF token.

The cookie holds only the user's name, a random CSRF token and (in its signature) when it was
issued: it is signed (itsdangerous, with ``CONVENTIONS_WEB_SECRET``), HttpOnly, SameSite=Strict,
Secure over HTTPS (or always: ``CONVENTIONS_WEB_SECURE_COOKIES``), and refused after
``CONVENTIONS_WEB_SESSION_MINUTES``. The user is looked up on every request, so a revoked user is
signed out at the next click, as with the API's tokens.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from adapters.users import User, UserStore, hash_token

COOKIE = "cpam_session"
SIGN_IN_COOKIE = "cpam_sign_in"  # the sign-in form's own CSRF token, before any session exists


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str


class Sessions:
    """Issues and reads the session cookie."""

    def __init__(self, secret: str | None, minutes: int, secure: bool | None = None) -> None:
        self.serializer = URLSafeTimedSerializer(secret or secrets.token_urlsafe(32), salt="cpam-web-session")
        self.max_age = minutes * 60
        self.secure = secure  # None: Secure when the request came over HTTPS

    def _set(self, request: Request, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name, value, max_age=max_age, path="/", httponly=True, samesite="strict",
            secure=request.url.scheme == "https" if self.secure is None else self.secure,
        )  # fmt: skip

    def sign_in(self, request: Request, response: Response, user: User, token: str) -> None:
        # "k": a fingerprint of the token signed in with: a user given a new token (revoked, then
        # added again under the same name) does not inherit the sessions opened with the old one.
        key = hash_token(token)[:16]
        value = self.serializer.dumps({"u": user.name, "c": secrets.token_urlsafe(24), "k": key})
        self._set(request, response, COOKIE, value, self.max_age)
        response.delete_cookie(SIGN_IN_COOKIE, path="/")

    def sign_out(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path="/")

    def _load(self, value: str | None, max_age: int) -> dict[str, Any] | None:
        if not value:
            return None
        try:
            data = self.serializer.loads(value, max_age=max_age)
        except BadSignature:  # includes SignatureExpired
            return None
        return data if isinstance(data, dict) else None

    def current(self, request: Request, users: UserStore) -> Session | None:
        """The signed-in, still active user; None when signed out, expired, forged or revoked."""
        data = self._load(request.cookies.get(COOKIE), self.max_age)
        if data is None or not isinstance(data.get("u"), str) or not isinstance(data.get("c"), str):
            return None
        held = users.credential(data["u"])
        if held is None or not hmac.compare_digest(held[:16], str(data.get("k", ""))):
            return None  # revoked, or a new token since this session was opened
        user = next((u for u in users.list() if u.name == data["u"]), None)
        return None if user is None else Session(user, data["c"])

    def sign_in_token(self) -> tuple[str, str]:
        """The sign-in form's CSRF token, and the signed value of the short-lived cookie that keeps it."""
        token = secrets.token_urlsafe(24)
        return token, self.serializer.dumps({"s": token})

    def remember_sign_in_token(self, request: Request, response: Response, signed: str) -> None:
        self._set(request, response, SIGN_IN_COOKIE, signed, 3600)

    def sign_in_token_ok(self, request: Request, sent: str) -> bool:
        data = self._load(request.cookies.get(SIGN_IN_COOKIE), 3600)
        return data is not None and same(str(data.get("s", "")), sent)


def same(expected: str, sent: str) -> bool:
    """Constant-time comparison of a CSRF token (an empty one never matches)."""
    return bool(expected) and hmac.compare_digest(expected.encode(), sent.encode())


def authenticate(users: UserStore, name: str, token: str) -> User | None:
    """The active user with this name and token; None otherwise (which one was wrong is not said)."""
    user = users.authenticate(token.strip()) if token.strip() else None
    if user is None or user.name != name.strip().lower():
        return None
    return user
