"""Settings from the environment (prefix ``CONVENTIONS_``), with the embedded SQLite default.

A PostgreSQL deployment sets one setting, ``CONVENTIONS_DATABASE_URL``
(``postgresql://user:password@host:port/dbname?schema=name``, docs/deployment.md); the ``store``
and ``postgres_*`` fields are derived from it, so everything that reads them (events, read models,
users, the scheduler lock) follows. The older separate ``CONVENTIONS_POSTGRES_*`` settings still
work. A bad URL stops the process with a message naming the setting, never its password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

URL_SETTING = "CONVENTIONS_DATABASE_URL"
URL_SCHEMES = ("postgresql", "postgres")
URL_SHAPE = "postgresql://utilisateur:mot-de-passe@hôte:5432/base?schema=nom"
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
"""A PostgreSQL schema as the code names it unquoted: lowercase, so every layer means the same one."""


class DatabaseUrlError(ValueError):
    """A ``CONVENTIONS_DATABASE_URL`` that cannot be used; the message never holds the password."""

    def __init__(self, why: str) -> None:
        super().__init__(f"{URL_SETTING} invalide : {why} (attendu : {URL_SHAPE}).")


@dataclass(frozen=True)
class DatabaseUrl:
    """The parts of a PostgreSQL URL (percent-decoded)."""

    host: str
    port: int
    user: str
    password: str
    dbname: str
    schema: str = ""

    def __repr__(self) -> str:
        return f"DatabaseUrl({self.redacted()!r})"

    def redacted(self) -> str:
        """The URL with the password masked: what may appear in logs and messages."""
        secret = ":***" if self.password else ""
        query = f"?schema={self.schema}" if self.schema else ""
        return f"postgresql://{self.user}{secret}@{self.host}:{self.port}/{self.dbname}{query}"


def parse_database_url(url: str) -> DatabaseUrl:
    """``postgresql://user:password@host:port/dbname?schema=name`` (``postgres://`` too; port 5432
    when absent). Any other scheme, a missing part or an unknown parameter is a ``DatabaseUrlError``."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or 5432
    except ValueError:
        raise DatabaseUrlError("URL illisible (port non numérique ou crochets mal formés)") from None
    if parts.scheme.lower() not in URL_SCHEMES:
        shown = parts.scheme if re.fullmatch(r"[a-z][a-z0-9+.-]*", parts.scheme or "-") else "?"
        raise DatabaseUrlError(f"protocole « {shown}:// » non pris en charge, seul postgresql:// l'est")
    if not parts.hostname:
        raise DatabaseUrlError("hôte manquant")
    if not parts.username:
        raise DatabaseUrlError("utilisateur manquant")
    dbname = unquote(parts.path.removeprefix("/"))
    if not dbname or "/" in dbname:
        raise DatabaseUrlError("nom de base manquant ou invalide après l'hôte")
    if parts.fragment:
        raise DatabaseUrlError("fragment « # » inattendu")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise DatabaseUrlError("paramètres illisibles après « ? »") from None
    unknown = sorted(set(query) - {"schema"})
    if unknown:
        raise DatabaseUrlError(f"paramètre(s) inconnu(s) : {', '.join(unknown)} ; seul « schema » est accepté")
    schema = query.get("schema", [""])[-1]
    if schema and not SCHEMA_NAME.fullmatch(schema):
        raise DatabaseUrlError(f"schema « {schema} » : minuscules, chiffres et _ (63 au plus)")
    return DatabaseUrl(
        host=parts.hostname, port=port, user=unquote(parts.username),
        password=unquote(parts.password or ""), dbname=dbname, schema=schema,
    )  # fmt: skip


class Settings(BaseSettings):
    # hide_input_in_errors: a validation error must not echo the URL (and its password).
    model_config = SettingsConfigDict(env_prefix="CONVENTIONS_", extra="ignore", hide_input_in_errors=True)

    data_dir: Path = Field(default=Path("data"), description="Where the SQLite files live.")
    store: Literal["sqlite", "postgres", "memory"] = "sqlite"
    database_url: str | None = Field(
        default=None,
        repr=False,
        description="The PostgreSQL database of the deployment, "
        "postgresql://user:password@host:port/dbname?schema=name: sets store and the postgres_* settings.",
    )

    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_user: str = "postgres"
    postgres_password: str = Field(default="", repr=False)
    postgres_dbname: str = "conventions"
    postgres_schema: str = ""
    postgres_pool_size: int = 5

    cipher_key: str | None = Field(default=None, description="AES key: encrypts event payloads at rest.")
    snapshot_interval: int = Field(
        default=20,
        ge=0,
        description="Snapshot a convention every this many versions, so a command's cost stays flat however long "
        "its history (docs/events.md); 0 = no snapshot written nor read.",
    )

    log_format: Literal["console", "json"] = "console"
    log_level: str = "INFO"

    timezone: str = "Europe/Paris"
    today: date | None = Field(
        default=None,
        description="A virtual today (YYYY-MM-DD) for demos, tests and replaying a backlog; real time when unset.",
    )

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    http_workers: int = 1
    http_threads: int = Field(
        default=4,
        ge=1,
        le=200,
        description="Per API process: how many requests run their blocking work (database, rules) at once; "
        "the others wait their turn, first come, first served.",
    )
    ready_max_lag: int = Field(
        default=1000,
        ge=0,
        description="/ready answers 503 when the read models are more than this many events behind the log.",
    )

    web_secret: str | None = Field(
        default=None,
        description="Signs the web pages' session cookies; a random one per process when unset (sessions then "
        "end when the process restarts, and several workers need it set).",
    )
    web_session_minutes: int = Field(default=480, ge=1, description="A web session expires after this long.")
    web_secure_cookies: bool | None = Field(
        default=None,
        description="Mark the session cookies Secure always (true) or never (false); unset: when the request "
        "came over HTTPS. Set it to true behind a proxy that terminates TLS and forwards plain HTTP.",
    )

    projections: Literal["inline", "follower"] | None = Field(
        default=None,
        description="Who writes the read models. inline: `serve` does (a follower thread, one per deployment, and "
        "requests catch up when a little behind); follower: only `conventions project --follow` does, the API "
        "only reads. Unset: inline on SQLite and memory, follower on PostgreSQL (docs/processes.md).",
    )

    def projections_mode(self) -> Literal["inline", "follower"]:
        """The ``projections`` setting, or its default for this store."""
        return self.projections or ("follower" if self.store == "postgres" else "inline")

    @field_validator("postgres_schema")
    @classmethod
    def _schema_name(cls, value: str) -> str:
        if value and not SCHEMA_NAME.fullmatch(value):
            raise ValueError(f"CONVENTIONS_POSTGRES_SCHEMA « {value} » : minuscules, chiffres et _ (63 au plus).")
        return value

    @model_validator(mode="after")
    def _from_database_url(self) -> Settings:
        """The URL, when set, decides the store and every ``postgres_*`` connection field; one set
        apart with another value is a contradiction, not something to guess about."""
        if not self.database_url:
            return self
        url = parse_database_url(self.database_url)
        if "store" in self.model_fields_set and self.store != "postgres":
            raise ValueError(f"{URL_SETTING} désigne PostgreSQL mais CONVENTIONS_STORE vaut « {self.store} ».")
        derived = {
            "postgres_host": url.host, "postgres_port": url.port, "postgres_user": url.user,
            "postgres_password": url.password, "postgres_dbname": url.dbname, "postgres_schema": url.schema,
        }  # fmt: skip
        clash = sorted(k for k, v in derived.items() if k in self.model_fields_set and getattr(self, k) != v)
        if clash:
            names = ", ".join(f"CONVENTIONS_{k.upper()}" for k in clash)
            raise ValueError(f"{URL_SETTING} et {names} se contredisent : ne garder que {URL_SETTING}.")
        for key, value in derived.items():
            object.__setattr__(self, key, value)
        object.__setattr__(self, "store", "postgres")
        return self

    def database(self) -> str:
        """Where the events are, for logs and messages (no password)."""
        if self.store == "postgres":
            return DatabaseUrl(
                self.postgres_host, self.postgres_port, self.postgres_user, self.postgres_password,
                self.postgres_dbname, self.postgres_schema,
            ).redacted()  # fmt: skip
        return "memory" if self.store == "memory" else str(self.events_sqlite_path())

    def postgres_connect_kwargs(self, *, search_path: bool = True) -> dict[str, str | int]:
        """``psycopg.connect`` arguments for this PostgreSQL database (its schema first on the search
        path unless ``search_path`` is False)."""
        kwargs: dict[str, str | int] = {
            "host": self.postgres_host, "port": self.postgres_port, "user": self.postgres_user,
            "dbname": self.postgres_dbname,
        }  # fmt: skip
        if self.postgres_password:
            kwargs["password"] = self.postgres_password
        if search_path and self.postgres_schema:
            kwargs["options"] = f"-c search_path={self.postgres_schema}"
        return kwargs

    def events_sqlite_path(self) -> Path:
        return self.data_dir / "events.sqlite"

    def projections_sqlite_path(self) -> Path:
        return self.data_dir / "projections.sqlite"
