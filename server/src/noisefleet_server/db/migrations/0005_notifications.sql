-- The durable notification queue (issue 10): one row per (alert change, notifier), written in
-- the alert engine's transaction, delivered by the notification worker (notify/worker.py).
-- No foreign key to the alerts: the queue stands alone and keeps its history when alerts go.

CREATE TABLE noisefleet_store.notifications (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- the receivers' idempotency key (X-Noisefleet-Notification-Id), the same on every retry
    notification_id  uuid NOT NULL UNIQUE,
    notifier         text NOT NULL,
    alert_id         bigint,
    event            text NOT NULL,
    site             text,
    sensor           text,
    -- the exact JSON sent (the HMAC is over these bytes, UTF-8)
    body             text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    state            text NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'delivering', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    -- queued: when the next attempt is due; delivering: when the lease ends (= lease_until),
    -- after which another worker takes the row over (the first one crashed)
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_until      timestamptz,
    claimed_by       text,
    delivered_at     timestamptz,
    last_error       text
);

-- Claiming: the due rows of the open states.
CREATE INDEX notifications_due ON noisefleet_store.notifications (state, next_attempt_at);
-- Per (notifier, alert) order: a row waits while an earlier one of its alert is open.
CREATE INDEX notifications_open_by_alert ON noisefleet_store.notifications (notifier, alert_id, id)
    WHERE state IN ('queued', 'delivering');
CREATE INDEX notifications_created_at ON noisefleet_store.notifications (created_at);

-- The public surface: the queue and its outcome, without the bodies.
CREATE VIEW noisefleet.notifications AS
SELECT notification_id, notifier, alert_id, event, site, sensor, created_at, state, attempts,
       next_attempt_at, lease_until, delivered_at, last_error
FROM noisefleet_store.notifications;
