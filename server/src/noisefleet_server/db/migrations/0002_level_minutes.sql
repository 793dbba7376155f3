-- Level records, one row per sensor-minute (plain PostgreSQL: native monthly range partitions,
-- created by the server ahead of the data; retention drops whole partitions).
-- Per record, in start order: eight levels (LAeq, LAFmax, LAFmin, LAF10, LAF50, LAF90, LCeq,
-- LCpeak) in centi-dB, the wire's two decimals exactly, as unsigned 16-bit numbers (value + 32768;
-- 0 is NULL) in ``levels``: a plane of high bytes then a plane of low bytes, decoded by
-- plane_value(). What is the same for every record of the minute is stored once: offsets
-- (NULL when records follow each other at one duration), the duration, full coverage (NULL
-- coverage array), calibrated. The minute's histogram is zlib-compressed int32 counts, read only
-- by the server's roll-ups; the minute's own levels are centi-dB too (*_cdb). About 1.3 kB per
-- minute of 1-s records, six rows to a page: see bench/bench_ingest.py.
CREATE TABLE noisefleet_store.level_minutes (
    sensor_id        integer NOT NULL,
    minute           timestamptz NOT NULL,
    record_count     smallint NOT NULL,
    offsets_ms       integer[],
    duration_ms      integer,
    durations_ms     integer[],
    levels           bytea NOT NULL,
    coverage         smallint[],
    calibrated       boolean,
    calibrated_each  boolean[],
    energy           double precision NOT NULL,
    measured_s       double precision NOT NULL,
    laeq_cdb         smallint,
    lafmax_cdb       smallint,
    lcpeak_cdb       smallint,
    laf10_cdb        smallint,
    laf50_cdb        smallint,
    laf90_cdb        smallint,
    hist_width       real,
    hist_first       integer,
    hist             bytea,
    share_labels     text[] NOT NULL,
    share_energy     real[] NOT NULL,
    clipped_samples  integer NOT NULL,
    invalid_samples  integer NOT NULL,
    PRIMARY KEY (sensor_id, minute)
) PARTITION BY RANGE (minute);

-- Level k (0..7) of record i (0-based) of a minute row of n records, in centi-dB; NULL for a
-- null. The layout is encode_levels' in noisefleet_server/ingest/minutes.py: a header of 8 × 4
-- bytes (mode, base, offset of the high bytes), the high bytes (mode 0: 4-bit steps above base,
-- 15 = null; mode 1: whole bytes), then the low bytes of every level.
CREATE FUNCTION noisefleet_store.plane_value(levels bytea, n integer, k integer, i integer)
RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN h.mode = 0 THEN
            CASE WHEN h.step = 15 THEN NULL
                 ELSE (((h.base + h.step) << 8) | h.low) - 32768 END
        ELSE nullif((get_byte(levels, h.off + i) << 8) | h.low, 0) - 32768
    END
    FROM (
        SELECT o.mode, o.base, o.off,
               get_byte(levels, length(levels) - 8 * n + k * n + i) AS low,
               (get_byte(levels, o.off + i / 2) >> ((i % 2) * 4)) & 15 AS step
        FROM (
            SELECT get_byte(levels, 4 * k) AS mode, get_byte(levels, 4 * k + 1) AS base,
                   (get_byte(levels, 4 * k + 2) << 8) | get_byte(levels, 4 * k + 3) AS off
        ) AS o
    ) AS h
$$;
