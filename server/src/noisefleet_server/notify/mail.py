"""E-mail notifications: one plain-text mail per notification with the JSON attached, sent
with smtplib in a thread (bounded by ``timeout_s``).

The subject is ``[noisefleet] <event>: <message>``; the text lists the alert's fields; the
attachment ``notification.json`` is the exact body a webhook gets. ``Message-ID`` is derived
from the notification id, so a mail sent twice (at-least-once) has the same id both times.
SMTP answers 5xx are failures (not retried), 4xx and connection problems retries.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from noisefleet_mqtt import one_line
from noisefleet_server.notify.config import EmailSettings
from noisefleet_server.notify.deliver import Delivered, Failed, Outcome, Retry
from noisefleet_server.notify.queue_sql import Claimed

SUBJECT_CHARS = 200
# The fields the text shows, in this order (all are in the attached JSON).
_FIELDS = (
    ("event", "event"),
    ("severity", "severity"),
    ("rule", "rule_id"),
    ("rule name", "rule_name"),
    ("kind", "kind"),
    ("tier", "tier"),
    ("value", "value"),
    ("limit", "limit"),
    ("peak", "peak"),
    ("peak at", "peak_at"),
    ("pending since", "pending_since"),
    ("fired at", "fired_at"),
    ("ended at", "ended_at"),
    ("resolved at", "resolved_at"),
    ("late", "late"),
    ("alert id", "alert_id"),
    ("notification id", "notification_id"),
    ("queued at", "sent_at"),
)


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def build_message(settings: EmailSettings, claimed: Claimed) -> EmailMessage:
    """The mail of one notification (pure)."""
    data = json.loads(claimed.body)
    message = str(data.get("message") or f"alert {data.get('alert_id')}")
    where = "/".join(str(data[k]) for k in ("site", "sensor") if data.get(k))
    mail = EmailMessage()
    mail["Subject"] = _one_line(f"[noisefleet] {claimed.event}: {message}", SUBJECT_CHARS)
    mail["From"] = settings.sender
    mail["To"] = ", ".join(settings.to)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = f"<{claimed.notification_id}@noisefleet>"
    mail["X-Noisefleet-Notification-Id"] = str(claimed.notification_id)
    mail["X-Noisefleet-Event"] = claimed.event
    lines = [message, ""]
    if where:
        lines.append(f"sensor: {where}")
    for label, key in _FIELDS:
        if data.get(key) is not None:
            lines.append(f"{label}: {data[key]}")
    lines += ["", "The notification as JSON is attached (notification.json)."]
    mail.set_content("\n".join(lines) + "\n")
    mail.add_attachment(
        claimed.body.encode(), maintype="application", subtype="json", filename="notification.json"
    )
    return mail


def _send(settings: EmailSettings, mail: EmailMessage) -> dict[str, tuple[int, bytes]]:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.ssl:
        smtp = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout_s, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
    with smtp:
        if settings.starttls:
            smtp.starttls(context=context)
        if settings.username:
            smtp.login(settings.username, settings.password)
        return smtp.send_message(mail)


def _by_code(code: int, error: str) -> Outcome:
    return Failed(error) if code >= 500 else Retry(error)


async def send_email(settings: EmailSettings, claimed: Claimed) -> Outcome:
    """Send the notification's mail (see the module docstring)."""
    mail = build_message(settings, claimed)
    server = f"{settings.host}:{settings.port}"
    try:
        async with asyncio.timeout(settings.timeout_s):
            refused = await asyncio.to_thread(_send, settings, mail)
    except TimeoutError:
        return Retry(f"{server}: no answer within {settings.timeout_s:g} s")
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        text = f"{server} refused every recipient: {_refusals(error.recipients)}"
        return Failed(text) if all(code >= 500 for code in codes) else Retry(text)
    except smtplib.SMTPResponseException as error:
        return _by_code(
            error.smtp_code, f"{server} answered {error.smtp_code} {_text(error.smtp_error)}"
        )
    except smtplib.SMTPNotSupportedError as error:
        return Failed(f"{server}: {one_line(error)} (check starttls/ssl and the port)")
    except (smtplib.SMTPException, OSError) as error:  # disconnects, refused connections, TLS
        return Retry(f"{server}: {one_line(error)}")
    if refused:
        return Delivered(f"some recipients refused: {_refusals(refused)}")
    return Delivered()


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())[:200]


def _refusals(recipients: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address} ({code} {_text(reply)})"
        for address, (code, reply) in sorted(recipients.items())
    )
