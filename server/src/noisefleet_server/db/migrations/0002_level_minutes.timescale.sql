-- Level records per sensor-minute on TimescaleDB: a hypertable (7-day chunks) with native
-- compression segmented by sensor; retention is a Timescale policy set by the server.
-- Same columns as the plain PostgreSQL variant of this migration.
CREATE TABLE noisefleet_store.level_minutes (
    sensor_id        integer NOT NULL,
    minute           timestamptz NOT NULL,
    offsets_ms       integer[] NOT NULL,
    durations_ms     integer[] NOT NULL,
    laeq             smallint[] NOT NULL,
    lafmax           smallint[] NOT NULL,
    lafmin           smallint[] NOT NULL,
    laf10            smallint[] NOT NULL,
    laf50            smallint[] NOT NULL,
    laf90            smallint[] NOT NULL,
    lceq             smallint[] NOT NULL,
    lcpeak           smallint[] NOT NULL,
    coverage         smallint[] NOT NULL,
    calibrated       boolean[] NOT NULL,
    energy           double precision NOT NULL,
    measured_s       double precision NOT NULL,
    laeq_db          double precision,
    lafmax_db        double precision,
    lcpeak_db        double precision,
    laf10_db         double precision,
    laf50_db         double precision,
    laf90_db         double precision,
    hist_width       double precision,
    hist_first       integer,
    hist_counts      integer[],
    share_labels     text[] NOT NULL,
    share_energy     double precision[] NOT NULL,
    clipped_samples  bigint NOT NULL,
    invalid_samples  bigint NOT NULL,
    PRIMARY KEY (sensor_id, minute)
);
SELECT create_hypertable('noisefleet_store.level_minutes', 'minute',
                         chunk_time_interval => INTERVAL '7 days');
ALTER TABLE noisefleet_store.level_minutes SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'sensor_id',
    timescaledb.compress_orderby = 'minute'
);
SELECT add_compression_policy('noisefleet_store.level_minutes', INTERVAL '14 days');
