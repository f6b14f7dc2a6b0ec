"""One Settings object, read from the environment at start-up (never at import time)."""

from __future__ import annotations

import base64
import binascii
from ipaddress import ip_network
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SALT_BYTES = 16  # as `projections.parties.PartyKeys` requires


class Settings(BaseSettings):
    """Deployment configuration; every field reads `MEDIATION_<FIELD>` from the environment."""

    model_config = SettingsConfigDict(env_prefix="MEDIATION_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///mediation.db",
        description="sqlite:///PATH (default: mediation.db here) or postgresql://USER@HOST/DB",
    )
    workflows_dir: Path | None = Field(
        default=None,
        description="Extra folder of workflow definition files (*.toml), beside the built-in ones",
    )
    holidays_file: Path | None = Field(
        default=None,
        description="Holiday calendar (TOML) for working-day deadlines; default: the built-in one",
    )
    snapshot_interval: int = Field(
        default=50, ge=2, description="Take a snapshot of a case every N events"
    )
    log_level: str = Field(default="INFO", description="Python logging level name")
    party_hash_salt: SecretStr | None = Field(
        default=None,
        description=(
            "Salt for matching parties across cases (re-disputes); keep it out of the database. "
            "Unset: one made on first start and kept in the database. Changing it needs "
            "`mediation projections rebuild stats`"
        ),
    )
    background_workers: bool = Field(
        default=True,
        description=(
            "`serve` keeps the views and runs the escalation rules itself; set false when "
            "`mediation projections run` and `mediation rules run` workers do (several API processes)"
        ),
    )
    request_threads: int | None = Field(
        default=None,
        ge=1,
        le=200,
        description=(
            "Threads answering requests in one `serve` process; unset: 2 on SQLite (one writer "
            "at a time: more threads only fight over the interpreter), 40 on PostgreSQL"
        ),
    )
    rules_interval: float = Field(
        default=30.0, ge=1.0, description="Seconds between two passes of the escalation rules"
    )
    webhooks_allow_private: bool = Field(
        default=False,
        description=(
            "Let webhooks go to internal addresses (loopback, private, link-local, ...), for a "
            "receiver on this network; refused by default: a webhook could reach internal services"
        ),
    )
    trusted_proxies: str = Field(
        default="127.0.0.1,::1",
        description=(
            "Reverse proxies (addresses or networks, comma-separated; * for any) whose "
            "X-Forwarded-For and X-Forwarded-Proto `serve` believes: the client's address for "
            "the sign-in throttle, https for the pages' links"
        ),
    )
    cipher_key: SecretStr | None = Field(
        default=None,
        description=(
            "Encrypts every stored event and snapshot, and seals the secrets kept beside them "
            "(AES-GCM); `mediation keygen` makes one"
        ),
    )

    session_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Signs the web pages' session cookies: at least 32 random characters "
            "(`mediation keygen` makes one); unset: one made on first start, kept in the database"
        ),
    )
    secure_cookies: bool = Field(
        default=False, description="Send the web pages' cookies over HTTPS only (behind TLS)"
    )

    @field_validator("session_secret")
    @classmethod
    def _strong_session_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        secret = value.get_secret_value()
        if len(secret) < 32 or len(set(secret)) < 8:
            msg = "must be at least 32 random characters (make one with `mediation keygen`)"
            raise ValueError(msg)
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_addresses(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",") if item.strip()]
        if not items:
            msg = "must name at least one address or network (127.0.0.1 for a local proxy)"
            raise ValueError(msg)
        if "*" in items:
            if len(items) > 1:
                msg = "* (any address) stands alone"
                raise ValueError(msg)
            return "*"
        trusted = []
        for item in items:
            try:
                network = ip_network(item, strict=False)
            except ValueError:
                msg = f"{item!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)"
                raise ValueError(msg) from None
            # as uvicorn reads them: an address alone, a network by its first address
            trusted.append(item if "/" not in item else str(network))
        return ",".join(trusted)

    @field_validator("cipher_key")
    @classmethod
    def _aes_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            key = base64.b64decode(value.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            msg = "must be base64 (make one with `mediation keygen`)"
            raise ValueError(msg) from None
        if len(key) not in (16, 24, 32):
            msg = "must decode to 16, 24 or 32 bytes (make one with `mediation keygen`)"
            raise ValueError(msg)
        return value

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            msg = "must start with sqlite:/// or postgresql://"
            raise ValueError(msg)
        if value.startswith("postgresql"):
            query = value.partition("?")[2]
            others = sorted(
                {part.partition("=")[0] for part in query.split("&") if part} - {"schema"}
            )
            if others:
                msg = (
                    f"takes no option but schema (found: {', '.join(others)}): the event store "
                    "would not see them; set libpq's environment variables instead (PGSSLMODE, "
                    "PGSSLROOTCERT, PGCONNECT_TIMEOUT...), which every connection reads"
                )
                raise ValueError(msg)
        if value.startswith("sqlite://"):
            path = value.removeprefix("sqlite://").lstrip("/").split("?")[0]
            if path in ("", ":memory:"):
                msg = "must name a database file, e.g. sqlite:///mediation.db (an in-memory one keeps nothing)"
                raise ValueError(msg)
        return value

    @field_validator("workflows_dir", mode="before")
    @classmethod
    def _existing_folder(cls, value: object) -> object:
        if value in ("", None):
            return None  # set but empty: as unset (not the current folder)
        if not Path(str(value)).is_dir():
            msg = f"no folder {value} (definitions there would never be deployed)"
            raise ValueError(msg)
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in LOG_LEVELS:
            msg = f"must be one of {', '.join(LOG_LEVELS)}"
            raise ValueError(msg)
        return level

    @field_validator("party_hash_salt")
    @classmethod
    def _long_salt(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < SALT_BYTES:
            msg = f"must be at least {SALT_BYTES} bytes (make one with `mediation keygen`)"
            raise ValueError(msg)
        return value

    def threads_for_requests(self) -> int:
        """`request_threads`, or the default for the database (bench/results.md measured it)."""
        if self.request_threads is not None:
            return self.request_threads
        sqlite = self.database_url.startswith("sqlite")
        return SQLITE_REQUEST_THREADS if sqlite else POSTGRES_REQUEST_THREADS


SQLITE_REQUEST_THREADS = 2
POSTGRES_REQUEST_THREADS = 40  # anyio's own default
