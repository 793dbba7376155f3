-- Level records, one row per sensor-minute (plain PostgreSQL: native monthly range partitions,
-- created by the server ahead of the data; retention drops whole partitions).
-- Per record (arrays in start order): offset from the minute and duration in ms, levels in
-- centi-dB (smallint: the wire's two decimals exactly), coverage in 1/10000.
-- Per minute: the energy sum and measured seconds (so any longer Leq is exact), maxima, the
-- merged L_AF histogram (exact percentiles over any period) and energy per label.
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
) PARTITION BY RANGE (minute);
