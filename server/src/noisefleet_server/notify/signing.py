"""The webhook signature, pure: receivers use the same two functions (docs/notifications.md).

``X-Noisefleet-Signature: sha256=<hex>`` where hex = HMAC-SHA256(secret, f"{timestamp}." + body)
over the exact body bytes, ``timestamp`` being ``X-Noisefleet-Timestamp`` (unix seconds, the
time of this attempt). Signing the timestamp lets a receiver refuse replays of old requests.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_PREFIX = "sha256="


def sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Noisefleet-Signature`` header value of ``body`` sent at ``timestamp``."""
    key = secret.encode() if isinstance(secret, str) else secret
    message = str(int(timestamp)).encode() + b"." + body
    return SIGNATURE_PREFIX + hmac.new(key, message, hashlib.sha256).hexdigest()


def verify(
    secret: str | bytes,
    timestamp: str | int,
    body: bytes,
    signature: str,
    *,
    now: float,
    tolerance_s: float = 300.0,
) -> bool:
    """Whether ``signature`` (the header) is ours for ``body`` and ``timestamp`` (the header,
    as received) is within ``tolerance_s`` of ``now`` (the receiver's clock, unix seconds).
    Compares in constant time."""
    try:
        moment = int(timestamp)
    except ValueError:
        return False
    if abs(now - moment) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, moment, body), signature)
