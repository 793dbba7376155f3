"""Passwords, sign-in throttling and session tokens: pure functions, no database, no clock.

- Passwords are argon2id hashes (argon2-cffi's RFC 9106 low-memory profile); ``verify_password``
  never raises for a wrong or malformed hash, it answers False.
- An unknown user costs the same as a known one: ``verify_password(None, pw)`` checks against
  a dummy hash, so response times do not tell which usernames exist.
- Throttling: ``after_failure`` counts failed sign-ins; ``max_failed`` of them in a row lock
  the account for ``lock_s`` (``is_locked``); a success resets the count.
- Sessions: a token of 32 random bytes for the browser session, stored as its SHA-256 only
  (a leaked table gives no usable token); a session is valid until ``expires_at``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 10


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, RFC 9106 low-memory parameters


@cache
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def check_password_strength(password: str) -> str | None:
    """Why a new password is refused, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
    if password.strip() != password:
        return "the password must not begin or end with spaces"
    return None


def hash_password(password: str) -> str:
    """An argon2id hash (``$argon2id$…``) of the password, with a fresh salt."""
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches; ``None`` (an unknown user) costs one verification too."""
    try:
        return _hasher().verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's (rehash on success)."""
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@dataclass(frozen=True)
class Throttle:
    """The failed sign-ins of one account."""

    failed_count: int
    locked_until: datetime | None


def is_locked(throttle: Throttle, now: datetime) -> bool:
    return throttle.locked_until is not None and now < throttle.locked_until


def after_failure(throttle: Throttle, now: datetime, max_failed: int, lock_s: float) -> Throttle:
    """The state after one more failed sign-in: locked for ``lock_s`` at ``max_failed``.

    A lock that has run out starts a fresh count, so the next lock needs ``max_failed`` again.
    """
    count = throttle.failed_count
    if throttle.locked_until is not None and now >= throttle.locked_until:
        count = 0
    count += 1
    if count >= max_failed:
        return Throttle(count, now + timedelta(seconds=lock_s))
    return Throttle(count, None)


def after_success() -> Throttle:
    return Throttle(0, None)


def new_token() -> str:
    """A session token for the browser session (256 random bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    """What the database keeps of a token."""
    return hashlib.sha256(token.encode()).digest()


def session_expiry(created_at: datetime, ttl_s: float) -> datetime:
    return created_at + timedelta(seconds=ttl_s)


def session_valid(expires_at: datetime, now: datetime) -> bool:
    return now < expires_at
