-- noisefleet storage, part 1: the fleet registry, ingest bookkeeping, events and roll-ups.
-- Internal tables live in schema noisefleet_store; the public, stable surface (views) in
-- schema noisefleet (0003). Levels are stored per sensor-minute (0002).

CREATE SCHEMA IF NOT EXISTS noisefleet_store;
CREATE SCHEMA IF NOT EXISTS noisefleet;

CREATE TABLE noisefleet_store.sites (
    site        text PRIMARY KEY,
    name        text,
    kind        text NOT NULL CHECK (kind IN ('real_estate', 'city')),
    address     text,
    lat         double precision CHECK (lat BETWEEN -90 AND 90),
    lon         double precision CHECK (lon BETWEEN -180 AND 180),
    timezone    text NOT NULL,
    -- limits per period in dB(A), e.g. {"day": 55, "evening": 50, "night": 45}
    limits      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE noisefleet_store.sensors (
    sensor_id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site                 text NOT NULL,
    sensor               text NOT NULL,
    pending              boolean NOT NULL DEFAULT true,
    description          text,
    location             text,
    calibration_offset_db double precision,
    calibration_date     date,
    model_name           text,
    model_sha256         text,
    feature_params_hash  text,
    first_seen           timestamptz NOT NULL DEFAULT now(),
    last_seen            timestamptz,
    status               text,
    status_reason        text,
    status_at            timestamptz,
    outbox_depth         integer,
    heartbeat_at         timestamptz,
    desired_settings     jsonb NOT NULL DEFAULT '{}'::jsonb,
    reported_settings    jsonb,
    reported_at          timestamptz,
    UNIQUE (site, sensor)
);

-- Exactly once: every accepted message id, whatever its kind.
CREATE TABLE noisefleet_store.messages (
    message_id   uuid PRIMARY KEY,
    sensor_id    integer NOT NULL REFERENCES noisefleet_store.sensors,
    kind         text NOT NULL,
    sequence     bigint NOT NULL,
    sent_at      timestamptz NOT NULL,
    replayed     boolean NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_received_at ON noisefleet_store.messages (received_at);

-- The highest data sequence seen per sensor, and the holes below it.
CREATE TABLE noisefleet_store.sequences (
    sensor_id     integer PRIMARY KEY REFERENCES noisefleet_store.sensors,
    max_sequence  bigint NOT NULL
);
CREATE TABLE noisefleet_store.sequence_gaps (
    sensor_id      integer NOT NULL REFERENCES noisefleet_store.sensors,
    first_missing  bigint NOT NULL,
    last_missing   bigint NOT NULL,
    detected_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sensor_id, first_missing),
    CHECK (last_missing >= first_missing)
);

CREATE TABLE noisefleet_store.dead_letters (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at    timestamptz NOT NULL DEFAULT now(),
    topic          text NOT NULL,
    reason         text NOT NULL,
    payload        text NOT NULL,
    payload_bytes  integer NOT NULL
);
CREATE INDEX dead_letters_received_at ON noisefleet_store.dead_letters (received_at);

CREATE TABLE noisefleet_store.status_log (
    sensor_id  integer NOT NULL REFERENCES noisefleet_store.sensors,
    at         timestamptz NOT NULL,
    state      text NOT NULL,
    reason     text,
    PRIMARY KEY (sensor_id, at, state)
);

CREATE TABLE noisefleet_store.heartbeats (
    sensor_id         integer NOT NULL REFERENCES noisefleet_store.sensors,
    sent_at           timestamptz NOT NULL,
    uptime_s          double precision NOT NULL,
    cpu_percent       double precision NOT NULL,
    temperature_c     double precision,
    disk_free_bytes   bigint NOT NULL,
    outbox_depth      integer NOT NULL,
    outbox_dropped    integer NOT NULL,
    dropped_frames    bigint NOT NULL,
    clock_synced      boolean NOT NULL,
    model_sha256      text NOT NULL,
    PRIMARY KEY (sensor_id, sent_at)
);

-- One row per event id; later parts and the end report replace earlier reports.
CREATE TABLE noisefleet_store.events (
    event_id         text PRIMARY KEY,
    sensor_id        integer NOT NULL REFERENCES noisefleet_store.sensors,
    label            text NOT NULL,
    start            timestamptz NOT NULL,
    "end"            timestamptz NOT NULL,
    laeq_db          double precision NOT NULL,
    lafmax_db        double precision NOT NULL,
    lae_db           double precision NOT NULL,
    confidence_peak  double precision,
    confidence_mean  double precision,
    runner_up        jsonb NOT NULL,
    part             integer NOT NULL,
    final            boolean NOT NULL,
    phase            text NOT NULL,
    rank             integer NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_sensor_start ON noisefleet_store.events (sensor_id, start);

-- Roll-ups, recomputed by the server from the minute rows (never averaged dB).
CREATE TABLE noisefleet_store.rollup_1h (
    sensor_id    integer NOT NULL,
    start        timestamptz NOT NULL,
    energy       double precision NOT NULL,
    measured_s   double precision NOT NULL,
    laeq_db      double precision,
    lafmax_db    double precision,
    lcpeak_db    double precision,
    laf10_db     double precision,
    laf50_db     double precision,
    laf90_db     double precision,
    coverage     double precision NOT NULL,
    event_count  integer NOT NULL,
    hist_width   double precision,
    hist_first   integer,
    hist_counts  integer[],
    PRIMARY KEY (sensor_id, start)
);
CREATE TABLE noisefleet_store.rollup_1d (LIKE noisefleet_store.rollup_1h INCLUDING ALL);

CREATE TABLE noisefleet_store.energy_shares_1h (
    sensor_id  integer NOT NULL,
    start      timestamptz NOT NULL,
    label      text NOT NULL,
    share      double precision NOT NULL,
    PRIMARY KEY (sensor_id, start, label)
);

CREATE TABLE noisefleet_store.lden_daily (
    sensor_id    integer NOT NULL,
    day          date NOT NULL,
    lday_db      double precision,
    levening_db  double precision,
    lnight_db    double precision,
    lden_db      double precision,
    coverage     double precision NOT NULL,
    PRIMARY KEY (sensor_id, day)
);

-- Hours whose roll-ups must be recomputed (written by ingest, drained by maintenance).
CREATE TABLE noisefleet_store.dirty_hours (
    sensor_id  integer NOT NULL,
    hour       timestamptz NOT NULL,
    PRIMARY KEY (sensor_id, hour)
);
