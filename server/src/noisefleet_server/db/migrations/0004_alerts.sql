-- Alerts (docs/alerts.md): rules kept in the database (merged with the config file's), the
-- alerts themselves, the evaluator's resumable state per (rule, sensor), and the sensors whose
-- data changed since they were last evaluated (written by ingest in its transaction).

-- Rules edited in the database (the dashboard's rule editor); the body is the rule in the
-- documented format and is validated, with the file's rules, as a whole before use.
CREATE TABLE noisefleet_store.alert_rules (
    rule_id     text PRIMARY KEY,
    body        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text
);

-- pending → firing → resolved. A pending alert that lapses before it fires is deleted (it was
-- never notified). `late`: the change was evaluated from data that arrived late (replays after
-- an outage); such changes are notified marked late, never as live. `withdrawn`: data that
-- arrived later showed the condition never held.
CREATE TABLE noisefleet_store.alerts (
    alert_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id          text NOT NULL,
    sensor_id        integer NOT NULL REFERENCES noisefleet_store.sensors,
    state            text NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    kind             text NOT NULL,
    severity         text NOT NULL,
    tier             text,
    tier_index       integer NOT NULL DEFAULT 0,
    limit_value      double precision,
    value            double precision,
    peak             double precision,
    peak_at          timestamptz,
    pending_since    timestamptz NOT NULL,
    fired_at         timestamptz,
    ended_at         timestamptz,
    resolved_at      timestamptz,
    late             boolean NOT NULL DEFAULT false,
    withdrawn        boolean NOT NULL DEFAULT false,
    suppressed       integer NOT NULL DEFAULT 0,
    message          text NOT NULL,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    ack_comment      text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- One open alert per (rule, sensor).
CREATE UNIQUE INDEX alerts_one_open ON noisefleet_store.alerts (rule_id, sensor_id)
    WHERE state IN ('pending', 'firing');
CREATE INDEX alerts_rule_sensor_since ON noisefleet_store.alerts (rule_id, sensor_id, pending_since);
CREATE INDEX alerts_fired_at ON noisefleet_store.alerts (fired_at);

-- Where evaluation of a rule for a sensor stands: samples up to evaluated_to were consumed;
-- state is the lifecycle state (noisefleet_core.alerts.lifecycle.RuleState) as JSON.
CREATE TABLE noisefleet_store.alert_state (
    rule_id       text NOT NULL,
    sensor_id     integer NOT NULL REFERENCES noisefleet_store.sensors,
    rule_hash     text NOT NULL,
    evaluated_to  timestamptz NOT NULL,
    state         jsonb NOT NULL,
    PRIMARY KEY (rule_id, sensor_id)
);

-- Sensors with data the evaluator has not seen: per kind (level records, events) the earliest
-- and latest time touched. generation changes with every mark, so the evaluator deletes only
-- what it evaluated. health: a status message arrived (offline, degraded …): the sensor's health
-- rules are evaluated at once rather than at the next clock pass.
CREATE TABLE noisefleet_store.alert_dirty (
    sensor_id    integer PRIMARY KEY REFERENCES noisefleet_store.sensors,
    levels_from  timestamptz,
    levels_to    timestamptz,
    events_from  timestamptz,
    events_to    timestamptz,
    health       boolean NOT NULL DEFAULT false,
    generation   bigint NOT NULL DEFAULT 1,
    marked_at    timestamptz NOT NULL DEFAULT now()
);

-- The heartbeat's reason why a sensor does not measure (health rule "degraded").
ALTER TABLE noisefleet_store.heartbeats ADD COLUMN source_error text;

CREATE VIEW noisefleet.alerts AS
SELECT a.alert_id, a.rule_id, s.site, s.sensor, a.state, a.kind, a.severity, a.tier,
       a.limit_value, a.value, a.peak, a.peak_at, a.pending_since, a.fired_at, a.ended_at,
       a.resolved_at, a.late, a.withdrawn, a.suppressed, a.message, a.acknowledged_at,
       a.acknowledged_by, a.ack_comment, a.updated_at
FROM noisefleet_store.alerts a
JOIN noisefleet_store.sensors s USING (sensor_id);

CREATE VIEW noisefleet.alert_rules AS
SELECT rule_id, body, updated_at, updated_by FROM noisefleet_store.alert_rules;
