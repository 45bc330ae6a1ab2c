"""API users: a name, a role, the CPAMs it may see, and a bearer token stored only as its hash.

The token is printed once by ``conventions users add`` and never stored: only its sha256 is, so a
copy of the table gives nobody access. Users live in ``data_dir/users.sqlite`` (SQLite and memory
stores) or in the ``conventions_users`` table of the PostgreSQL schema (``store=postgres``), so
every API process of a deployment sees the same users and a revocation applies at the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from adapters.settings import Settings
from domain.errors import ForbiddenTransition, InvalidInput, NotFound
from projections.scope import sees as in_scope

if TYPE_CHECKING:
    from adapters.token_cache import TokenCache

TOKEN_PREFIX = "cpam_"
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
CPAM_PATTERN = re.compile(r"[0-9]{3}")


class Role(StrEnum):
    """What a user may do (see docs/api.md, « Rôles »)."""

    OPERATOR = "operator"  # commands and reads for its CPAMs
    AUDITOR = "auditor"  # reads and history, no writes
    MANAGER = "manager"  # lists, state, dashboards, ledger, work queue; no history, no writes
    ADMIN = "admin"  # everything, everywhere


class Permission(StrEnum):
    READ = "read"  # a convention's state and instalments, the list
    HISTORY = "history"  # the audit trail (actors, reasons, notes)
    WRITE = "write"  # every command
    REPORTS = "reports"  # dashboard, ledger, work queue


PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: frozenset({Permission.READ, Permission.HISTORY, Permission.WRITE, Permission.REPORTS}),
    Role.AUDITOR: frozenset({Permission.READ, Permission.HISTORY, Permission.REPORTS}),
    Role.MANAGER: frozenset({Permission.READ, Permission.REPORTS}),
    Role.ADMIN: frozenset(Permission),
}


@dataclass(frozen=True)
class User:
    """An authenticated caller. ``cpams`` empty means every CPAM (never for an operator)."""

    name: str
    role: Role
    cpams: frozenset[str] = field(default_factory=frozenset)
    created_at: str = ""
    revoked_at: str | None = None

    def can(self, permission: Permission) -> bool:
        return permission in PERMISSIONS[self.role]

    @property
    def everywhere(self) -> bool:
        return self.role is Role.ADMIN or not self.cpams

    def sees(self, cpam_code: str) -> bool:
        """Whether a convention of this CPAM exists for this user."""
        return in_scope(self.scope(), cpam_code)

    def scope(self) -> frozenset[str] | None:
        """The CPAMs a query must be limited to (None: no limit)."""
        return None if self.everywhere else self.cpams

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "role": self.role.value, "cpams": sorted(self.cpams),
            "created_at": self.created_at, "revoked_at": self.revoked_at,
        }  # fmt: skip


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def check_user(name: str, role: str, cpams: Iterable[str]) -> tuple[str, Role, frozenset[str]]:
    """Validate a new user's fields; an operator must name at least one CPAM."""
    name = name.strip().lower()
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidInput("invalid_user_name", f"Nom « {name} » : 1 à 64 caractères a-z 0-9 . _ @ -.", "name")
    try:
        role_ = Role(role)
    except ValueError:
        raise InvalidInput(
            "invalid_role", f"Rôle « {role} » inconnu ; attendu : {', '.join(r.value for r in Role)}.", "role"
        ) from None
    codes = frozenset(c.strip() for c in cpams)
    for code in codes:
        if not CPAM_PATTERN.fullmatch(code):
            raise InvalidInput("invalid_cpam", f"Code CPAM « {code} » : 3 chiffres.", "cpam")
    if role_ is Role.OPERATOR and not codes:
        raise InvalidInput("cpam_required", "Un opérateur doit être rattaché à au moins une CPAM (--cpam).", "cpam")
    return name, role_, codes


class UserStore:
    """Users in one SQL table; SQLite (file or memory) or PostgreSQL, same statements."""

    TABLE = "conventions_users"

    def __init__(
        self, connect: Any, placeholder: str = "?", shared: bool = False, release: Any = None, close: Any = None
    ) -> None:
        self.cache: TokenCache | None = None  # PostgreSQL API processes: users by token (``build_user_store``)
        self._connect = connect
        self._release = release or (lambda conn: conn.close())
        self._close = close
        self._ph = placeholder
        self._lock = threading.Lock()
        self._shared = connect() if shared else None
        with self._cursor() as cur:
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.TABLE} (name TEXT PRIMARY KEY, role TEXT NOT NULL, "
                "cpams TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, revoked_at TEXT)"
            )

    @contextmanager
    def _cursor(self, atomic: bool = False) -> Iterator[Any]:
        with self._lock if self._shared is not None else _nolock():
            conn = self._shared if self._shared is not None else self._connect()
            try:
                # PostgreSQL's pooled connections are in autocommit, so that a read (a token, on
                # every request) is one round trip, not three (BEGIN, SELECT, COMMIT); ``atomic``
                # statements still run in one transaction. (``is True``: sqlite3's own ``autocommit``,
                # Python 3.12, is -1 by default, and SQLite opens its transactions itself.)
                with conn.transaction() if atomic and getattr(conn, "autocommit", False) is True else nullcontext():
                    cur = conn.cursor()
                    yield cur
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                if self._shared is None:
                    self._release(conn)

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self._ph)

    def add(self, name: str, role: str, cpams: Iterable[str] = ()) -> tuple[User, str]:
        """Create a user (or give a revoked one a new life); returns it and its token, shown once."""
        name, role_, codes = check_user(name, role, cpams)
        token = new_token()
        now = _now()
        with self._cursor(atomic=True) as cur:
            cur.execute(self._sql(f"SELECT revoked_at FROM {self.TABLE} WHERE name = ?"), (name,))
            row = cur.fetchone()
            if row is not None and row[0] is None:
                raise ForbiddenTransition("user_exists", f"L'utilisateur « {name} » existe déjà (le révoquer d'abord).")
            if row is not None:
                cur.execute(self._sql(f"DELETE FROM {self.TABLE} WHERE name = ?"), (name,))
            cur.execute(
                self._sql(f"INSERT INTO {self.TABLE} VALUES (?, ?, ?, ?, ?, NULL)"),
                (name, role_.value, ",".join(sorted(codes)), hash_token(token), now),
            )
        return User(name, role_, codes, now), token

    def revoke(self, name: str) -> User:
        name = name.strip().lower()
        with self._cursor() as cur:
            cur.execute(
                self._sql(f"UPDATE {self.TABLE} SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL"),
                (_now(), name),
            )
            if cur.rowcount != 1:
                raise NotFound("unknown_user", f"Aucun utilisateur actif « {name} ».", "name")
        return next(u for u in self.list(include_revoked=True) if u.name == name)

    def list(self, include_revoked: bool = False) -> list[User]:
        with self._cursor() as cur:
            cur.execute(f"SELECT name, role, cpams, created_at, revoked_at FROM {self.TABLE} ORDER BY name")
            rows = cur.fetchall()
        users = [_user(r) for r in rows]
        return [u for u in users if include_revoked or u.revoked_at is None]

    def cached(self, token: str) -> User | None:
        """The token's user if this process saw it lately and the users table has not changed since
        (no I/O, see ``adapters.token_cache``); None: ask ``authenticate``."""
        return None if self.cache is None else self.cache.get(hash_token(token))

    def authenticate(self, token: str) -> User | None:
        """The active user holding this token, or None. The stored hash is compared in constant time."""
        digest = hash_token(token)
        generation = None if self.cache is None else self.cache.generation()
        with self._cursor() as cur:
            cur.execute(
                self._sql(
                    f"SELECT name, role, cpams, created_at, revoked_at, token_hash FROM {self.TABLE} "
                    "WHERE token_hash = ? AND revoked_at IS NULL"
                ),
                (digest,),
            )
            row = cur.fetchone()
        if row is None or not hmac.compare_digest(row[5], digest):
            return None
        user = _user(row[:5])
        if self.cache is not None:
            self.cache.put(digest, user, generation)
        return user

    def credential(self, name: str) -> str | None:
        """The hash of the active user's token (None: unknown or revoked): what a web session was
        opened with must still be what the user holds."""
        with self._cursor() as cur:
            cur.execute(
                self._sql(f"SELECT token_hash FROM {self.TABLE} WHERE name = ? AND revoked_at IS NULL"), (name,)
            )
            row = cur.fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
        if self._close is not None:
            self._close()
        if self._shared is not None:
            self._shared.close()

    def ping(self) -> None:
        with self._cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {self.TABLE}")
            cur.fetchone()


@contextmanager
def _nolock() -> Iterator[None]:
    yield


def _user(row: Any) -> User:
    name, role, cpams, created_at, revoked_at = row
    return User(name, Role(role), frozenset(c for c in cpams.split(",") if c), created_at, revoked_at)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def build_user_store(settings: Settings, *, cache: bool = False) -> UserStore:
    """The user store of this deployment, next to its events; ``cache``: an API process's, which
    remembers the tokens it saw until the table changes (PostgreSQL, ``adapters.token_cache``)."""
    if settings.store == "postgres":
        import psycopg
        from psycopg_pool import ConnectionPool

        from adapters.token_cache import TokenCache, install_trigger

        conninfo = settings.postgres_connect_kwargs()
        # A small pool: every authenticated request reads one row, a connection each time would cost more.
        pool = ConnectionPool(
            kwargs=conninfo | {"application_name": "conventions-users", "autocommit": True}, min_size=1, max_size=4,
            open=True,
            name="conventions-users", timeout=5,  # database away: a 503 in seconds, not a request held 30 s
        )  # fmt: skip
        store = UserStore(pool.getconn, placeholder="%s", release=pool.putconn, close=pool.close)
        with pool.connection() as conn:
            install_trigger(conn)
        if cache:
            # The listening connection notices a dead server within seconds (TCP keepalives).
            listen = conninfo | {
                "autocommit": True, "application_name": "conventions-users-listener", "connect_timeout": 5,
                "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
            }  # fmt: skip
            store.cache = TokenCache(lambda: psycopg.connect(**listen))
        return store
    if settings.store == "memory":
        return UserStore(lambda: sqlite3.connect(":memory:", check_same_thread=False), shared=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / "users.sqlite"

    def connect_sqlite() -> sqlite3.Connection:
        return sqlite3.connect(path, timeout=30)

    return UserStore(connect_sqlite)
