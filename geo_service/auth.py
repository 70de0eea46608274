"""API keys: created and revoked with the CLI, stored only as hashes, checked per request."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

KEY_PREFIX = "qk"
ROLES = ("editor", "admin")


@dataclass(frozen=True)
class Principal:
    """Who is writing: an API key and what it is granted."""

    key_id: int
    prefix: str
    role: str
    layers: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    organisation: str | None = None
    label: str | None = None

    @property
    def admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> str:
        """How the key appears in history: its public prefix and label, never the secret."""
        return f"key:{self.prefix}" + (f" ({self.label})" if self.label else "")

    def may_edit(self, layer_id: str) -> bool:
        return self.admin or layer_id in self.layers

    @property
    def narrowed(self) -> bool:
        return not self.admin and bool(self.districts or self.organisation)


def _hash(secret: str) -> str:
    # Keys carry 32 random bytes: a plain SHA-256 cannot be brute-forced, and it is cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(token: str) -> tuple[str, str] | None:
    """``qk_<prefix>_<secret>`` -> (prefix, secret)."""
    parts = token.strip().split("_", 2)  # the secret itself may contain "_"
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    if not parts[1].isalnum() or len(parts[1]) > 32 or len(parts[2]) > 128:
        return None
    return parts[1], parts[2]


@dataclass
class NewKey:
    token: str
    prefix: str
    role: str
    layers: list[str] = field(default_factory=list)


def create_key(url: str, *, role: str, layers: list[str], districts: list[str],
               organisation: str | None, label: str | None) -> NewKey:
    """Create a key; the token is returned once and never stored."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    token = f"{KEY_PREFIX}_{prefix}_{secret}"
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO api_keys (prefix, secret_hash, role, layers, districts, organisation, label) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (prefix, _hash(secret), role, layers, districts, organisation, label),
        )
    return NewKey(token, prefix, role, layers)


def revoke_key(url: str, prefix: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE prefix = %s AND revoked_at IS NULL "
            "RETURNING id", (prefix.removeprefix(f"{KEY_PREFIX}_").split("_")[0],),
        ).fetchone()
    return row is not None


def list_keys(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(
            "SELECT prefix, role, layers, districts, organisation, label, created_at, revoked_at "
            "FROM api_keys ORDER BY id"
        ))


async def authenticate(conn: AsyncConnection, token: str) -> Principal | None:
    """The principal for a bearer token, or None if it is unknown or revoked."""
    parts = split_key(token)
    if parts is None:
        return None
    prefix, secret = parts
    row = (await conn.execute(
        text("SELECT id, secret_hash, role, layers, districts, organisation, label FROM api_keys "
             "WHERE prefix = :prefix AND revoked_at IS NULL"),
        {"prefix": prefix},
    )).one_or_none()
    if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
        return None
    return Principal(int(row.id), prefix, row.role, tuple(row.layers or ()),
                     tuple(row.districts or ()), row.organisation, row.label)
