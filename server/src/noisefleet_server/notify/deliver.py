"""One delivery attempt per channel, as an ``Outcome``; the webhook's HTTP client.

Outcomes: ``Delivered`` (the receiver took it), ``Retry`` (try again after a back-off: the
receiver is down, slow or overloaded) and ``Failed`` (it refused this notification: retrying
cannot help). Foreign errors (sockets, TLS, HTTP) become outcomes here, never exceptions.

The webhook client is a small HTTP/1.1 client on asyncio streams rather than urllib: one
``asyncio.timeout`` bounds the whole attempt (DNS, connect, TLS, send, response head), so a
receiver that hangs or trickles bytes cannot hold a thread or a delivery slot for longer than
``timeout_s``; it reads at most ``HEAD_LIMIT`` bytes of the response head and ``SNIPPET_BYTES``
of an error body (a 1 GB answer costs nothing), and never the body of a 2xx. Steps of
``post_webhook``:
1. sign the body with this attempt's timestamp (``signing.sign``);
2. POST it with ``Connection: close``; read the status line and headers;
3. 307/308 to the same scheme, host and port: POST again there (at most ``MAX_REDIRECTS``);
   any other redirect, or one to another host, is a failure (never followed: the body would
   go somewhere the operator did not configure, and 301-303 would turn it into a GET);
4. 2xx: delivered; 408, 425, 429 and 5xx, timeouts and connection errors: retry (honouring a
   ``Retry-After`` in seconds); any other status: failed, with one line of the answer.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from noisefleet_mqtt import one_line
from noisefleet_server.notify.config import WebhookSettings
from noisefleet_server.notify.errors import NotifyError
from noisefleet_server.notify.queue_sql import Claimed
from noisefleet_server.notify.signing import sign

HEAD_LIMIT = 16 * 1024
SNIPPET_BYTES = 200
MAX_REDIRECTS = 3
USER_AGENT = "noisefleet-notify/1"
TRANSIENT_STATUS = frozenset({408, 425, 429})
_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3})(?: ([^\r\n]*))?\r\n")


@dataclass(frozen=True)
class Delivered:
    note: str | None = None
    """Something the receiver said besides yes (refused recipients, no subscribers)."""


@dataclass(frozen=True)
class Retry:
    error: str
    after_s: float | None = None
    """The receiver's Retry-After, when it gave one."""


@dataclass(frozen=True)
class Failed:
    error: str


Outcome = Delivered | Retry | Failed


class HttpProtocolError(NotifyError):
    """The receiver's answer is not HTTP/1.x (or its head is too large)."""


@dataclass(frozen=True)
class _Response:
    status: int
    reason: str
    headers: dict[str, str]
    snippet: str


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    match = _STATUS_LINE.match(head)
    if match is None:
        raise HttpProtocolError(f"not an HTTP/1.x answer: {head[:60]!r}")
    headers: dict[str, str] = {}
    for line in head[match.end() :].split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
    reason = (match[2] or b"").decode("latin-1")
    return int(match[1]), reason, headers


async def _exchange(url: str, headers: list[tuple[str, str]], body: bytes) -> _Response:
    parts = urlsplit(url)
    scheme, host, port = _origin(url)
    context = ssl.create_default_context() if scheme == "https" else None
    reader, writer = await asyncio.open_connection(
        host, port, ssl=context, server_hostname=host if context else None, limit=HEAD_LIMIT
    )
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"POST {target} HTTP/1.1", f"Host: {parts.netloc}"]
        lines += [f"{name}: {value}" for name, value in headers]
        lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
        writer.write("\r\n".join(lines).encode("latin-1") + body)
        await writer.drain()
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                raise HttpProtocolError(
                    "the receiver closed the connection without an answer"
                ) from None
            except asyncio.LimitOverrunError:
                raise HttpProtocolError(f"response head larger than {HEAD_LIMIT} bytes") from None
            status, reason, response_headers = _parse_head(head)
            if status >= 200:
                break  # 1xx: an interim answer, the real one follows
        snippet = ""
        if not 200 <= status < 300:
            try:
                data = await asyncio.wait_for(reader.read(SNIPPET_BYTES), 1.0)
            except (TimeoutError, OSError):
                data = b""
            snippet = " ".join(data.decode("utf-8", "replace").split())
        return _Response(status, reason, response_headers, snippet)
    finally:
        writer.close()


def _retry_after(headers: dict[str, str]) -> float | None:
    value = headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


def _outcome(response: _Response, url: str) -> Outcome:
    status = response.status
    said = f"HTTP {status} {response.reason}".strip()
    if response.snippet:
        said += f": {response.snippet}"
    if 200 <= status < 300:
        return Delivered()
    if status in TRANSIENT_STATUS or status >= 500:
        return Retry(f"{_origin(url)[1]} answered {said}", _retry_after(response.headers))
    if 300 <= status < 400:
        return Failed(f"{_origin(url)[1]} answered {said} (redirects are not followed)")
    return Failed(f"{_origin(url)[1]} refused the notification: {said}")


def describe_connection_error(error: BaseException) -> str:
    """One line for a failed connection (asyncio's texts name the call, not the problem)."""
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the receiver running?)"
    if isinstance(error, socket.gaierror):
        return f"cannot resolve the host name ({one_line(error)})"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted ({error.verify_message or one_line(error)})"
    if isinstance(error, ConnectionResetError | BrokenPipeError):
        return "the receiver closed the connection"
    return one_line(error)


def webhook_headers(
    settings: WebhookSettings, claimed: Claimed, body: bytes, timestamp: int
) -> list[tuple[str, str]]:
    """The request headers of one attempt (the signature covers this attempt's timestamp)."""
    return [
        ("User-Agent", USER_AGENT),
        ("Content-Type", "application/json"),
        *settings.headers,
        ("X-Noisefleet-Timestamp", str(timestamp)),
        ("X-Noisefleet-Signature", sign(settings.secret, timestamp, body)),
        ("X-Noisefleet-Notification-Id", str(claimed.notification_id)),
        ("X-Noisefleet-Event", claimed.event),
    ]


async def post_webhook(settings: WebhookSettings, claimed: Claimed) -> Outcome:
    """One signed POST of the notification (see the module docstring)."""
    body = claimed.body.encode()
    headers = webhook_headers(settings, claimed, body, int(time.time()))
    url = settings.url
    try:
        async with asyncio.timeout(settings.timeout_s):
            for _ in range(MAX_REDIRECTS + 1):
                response = await _exchange(url, headers, body)
                location = response.headers.get("location")
                if response.status not in (307, 308) or not location:
                    return _outcome(response, url)
                target = urljoin(url, location)
                if _origin(target) != _origin(url):
                    scheme, host, port = _origin(target)
                    return Failed(
                        f"{_origin(url)[1]} redirected to {scheme}://{host}:{port}, "
                        "another host: not followed (configure that URL if it is right)"
                    )
                url = target
            return Failed(f"more than {MAX_REDIRECTS} redirects from {_origin(settings.url)[1]}")
    except TimeoutError:
        return Retry(f"{_origin(url)[1]}: no answer within {settings.timeout_s:g} s")
    except (OSError, HttpProtocolError) as error:  # ssl.SSLError is an OSError
        return Retry(f"{_origin(url)[1]}: {describe_connection_error(error)}")
