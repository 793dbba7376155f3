-- Commands sent to sensors and the agents' answers, and the heartbeat fields the Sensor page
-- charts (migration 0001 kept only part of the heartbeat).
--
-- A command (a `set` of settings or a model transfer) is stored `pending` when it is sent; the
-- agent's `state` report with the same request id turns it `applied` or `refused` (with the
-- agent's one-line reason). A report that answers nothing we sent only updates the sensor's
-- reported settings.

CREATE TABLE noisefleet_store.sensor_commands (
    request_id    uuid PRIMARY KEY,
    sensor_id     integer NOT NULL REFERENCES noisefleet_store.sensors,
    kind          text NOT NULL CHECK (kind IN ('set', 'model')),
    -- `set`: the changes; `model`: {"folder": …, "name": …, "bytes": …}
    body          jsonb NOT NULL,
    requested_by  text NOT NULL,
    requested_at  timestamptz NOT NULL,
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'applied', 'refused')),
    reason        text,
    answered_at   timestamptz
);
CREATE INDEX sensor_commands_sensor ON noisefleet_store.sensor_commands (sensor_id, requested_at);

ALTER TABLE noisefleet_store.heartbeats ADD COLUMN source_failures integer;
ALTER TABLE noisefleet_store.heartbeats ADD COLUMN last_audio_at timestamptz;

CREATE VIEW noisefleet.heartbeats AS
SELECT s.site, s.sensor, h.sent_at, h.uptime_s, h.cpu_percent, h.temperature_c,
       h.disk_free_bytes, h.outbox_depth, h.outbox_dropped, h.dropped_frames, h.clock_synced,
       h.model_sha256, h.source_error, h.source_failures, h.last_audio_at
FROM noisefleet_store.heartbeats h
JOIN noisefleet_store.sensors s USING (sensor_id);

CREATE VIEW noisefleet.sensor_commands AS
SELECT c.request_id, s.site, s.sensor, c.kind, c.body, c.requested_by, c.requested_at,
       c.state, c.reason, c.answered_at
FROM noisefleet_store.sensor_commands c
JOIN noisefleet_store.sensors s USING (sensor_id);
