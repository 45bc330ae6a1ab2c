"""Settings from the environment (prefix ``CONVENTIONS_``), with the embedded SQLite default."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONVENTIONS_", extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Where the SQLite files live.")
    store: Literal["sqlite", "postgres", "memory"] = "sqlite"

    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_user: str = "postgres"
    postgres_password: str = ""
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

    def events_sqlite_path(self) -> Path:
        return self.data_dir / "events.sqlite"

    def projections_sqlite_path(self) -> Path:
        return self.data_dir / "projections.sqlite"
