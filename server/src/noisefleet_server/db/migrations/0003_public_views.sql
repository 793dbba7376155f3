-- The public SQL surface (schema noisefleet): stable views with the wire contract's column
-- names, times as timestamptz ("end" is reserved: intervals are start + duration_s).
-- Dashboards, Grafana and users read these, never noisefleet_store directly.

CREATE VIEW noisefleet.sites AS
SELECT site, name, kind, address, lat, lon, timezone, limits, created_at
FROM noisefleet_store.sites;

CREATE VIEW noisefleet.sensors AS
SELECT site, sensor, pending, description, location, calibration_offset_db, calibration_date,
       model_name, model_sha256, feature_params_hash, first_seen, last_seen,
       status, status_reason, status_at, outbox_depth, heartbeat_at,
       desired_settings, reported_settings, reported_at
FROM noisefleet_store.sensors;

-- Every 1-s (or whatever the sensor's interval is) level record. For a time range, prefer
-- noisefleet.levels_between(from, to), which reads only the minutes it needs.
CREATE VIEW noisefleet.levels AS
SELECT s.site, s.sensor,
       m.minute + coalesce(m.offsets_ms[r.i + 1], r.i * m.duration_ms)
           * interval '1 millisecond' AS start,
       (coalesce(m.durations_ms[r.i + 1], m.duration_ms) / 1000.0)::double precision AS duration_s,
       (noisefleet_store.plane_value(m.levels, r.n, 0, r.i) / 100.0)::double precision AS laeq_db,
       (noisefleet_store.plane_value(m.levels, r.n, 1, r.i) / 100.0)::double precision AS lafmax_db,
       (noisefleet_store.plane_value(m.levels, r.n, 2, r.i) / 100.0)::double precision AS lafmin_db,
       (noisefleet_store.plane_value(m.levels, r.n, 3, r.i) / 100.0)::double precision AS laf10_db,
       (noisefleet_store.plane_value(m.levels, r.n, 4, r.i) / 100.0)::double precision AS laf50_db,
       (noisefleet_store.plane_value(m.levels, r.n, 5, r.i) / 100.0)::double precision AS laf90_db,
       (noisefleet_store.plane_value(m.levels, r.n, 6, r.i) / 100.0)::double precision AS lceq_db,
       (noisefleet_store.plane_value(m.levels, r.n, 7, r.i) / 100.0)::double precision AS lcpeak_db,
       (coalesce(m.coverage[r.i + 1], 10000) / 10000.0)::double precision AS coverage,
       coalesce(m.calibrated_each[r.i + 1], m.calibrated) AS calibrated
FROM noisefleet_store.level_minutes m
JOIN noisefleet_store.sensors s USING (sensor_id)
CROSS JOIN LATERAL (
    SELECT i, m.record_count::integer AS n
    FROM generate_series(0, m.record_count - 1) AS i
) AS r;

CREATE FUNCTION noisefleet.levels_between(from_ts timestamptz, to_ts timestamptz)
RETURNS SETOF noisefleet.levels
LANGUAGE sql STABLE AS $$
    SELECT * FROM (
        SELECT s.site, s.sensor,
               m.minute + coalesce(m.offsets_ms[r.i + 1], r.i * m.duration_ms)
                   * interval '1 millisecond' AS start,
               (coalesce(m.durations_ms[r.i + 1], m.duration_ms) / 1000.0)::double precision,
               (noisefleet_store.plane_value(m.levels, r.n, 0, r.i) / 100.0)::double precision,
               (noisefleet_store.plane_value(m.levels, r.n, 1, r.i) / 100.0)::double precision,
               (noisefleet_store.plane_value(m.levels, r.n, 2, r.i) / 100.0)::double precision,
               (noisefleet_store.plane_value(m.levels, r.n, 3, r.i) / 100.0)::double precision,
               (noisefleet_store.plane_value(m.levels, r.n, 4, r.i) / 100.0)::double precision,
               (noisefleet_store.plane_value(m.levels, r.n, 5, r.i) / 100.0)::double precision,
               (noisefleet_store.plane_value(m.levels, r.n, 6, r.i) / 100.0)::double precision,
               (noisefleet_store.plane_value(m.levels, r.n, 7, r.i) / 100.0)::double precision,
               (coalesce(m.coverage[r.i + 1], 10000) / 10000.0)::double precision,
               coalesce(m.calibrated_each[r.i + 1], m.calibrated)
        FROM noisefleet_store.level_minutes m
        JOIN noisefleet_store.sensors s USING (sensor_id)
        CROSS JOIN LATERAL (
            SELECT i, m.record_count::integer AS n
            FROM generate_series(0, m.record_count - 1) AS i
        ) AS r
        WHERE m.minute >= date_trunc('minute', from_ts)
          AND m.minute < to_ts
    ) AS l
    WHERE l.start >= from_ts AND l.start < to_ts
$$;

CREATE VIEW noisefleet.levels_1m AS
SELECT s.site, s.sensor, m.minute AS start,
       (m.laeq_cdb / 100.0)::double precision AS laeq_db,
       (m.lafmax_cdb / 100.0)::double precision AS lafmax_db,
       (m.lcpeak_cdb / 100.0)::double precision AS lcpeak_db,
       (m.laf10_cdb / 100.0)::double precision AS laf10_db,
       (m.laf50_cdb / 100.0)::double precision AS laf50_db,
       (m.laf90_cdb / 100.0)::double precision AS laf90_db,
       (m.measured_s / 60.0)::double precision AS coverage,
       (SELECT count(*)::integer FROM noisefleet_store.events e
         WHERE e.sensor_id = m.sensor_id AND e.start >= m.minute
           AND e.start < m.minute + interval '1 minute') AS event_count
FROM noisefleet_store.level_minutes m
JOIN noisefleet_store.sensors s USING (sensor_id);

CREATE VIEW noisefleet.levels_1h AS
SELECT s.site, s.sensor, r.start, r.laeq_db, r.lafmax_db, r.lcpeak_db,
       r.laf10_db, r.laf50_db, r.laf90_db, r.coverage, r.event_count
FROM noisefleet_store.rollup_1h r
JOIN noisefleet_store.sensors s USING (sensor_id);

-- Days are local days of the site's time zone (UTC for a sensor of an unregistered site).
CREATE VIEW noisefleet.levels_1d AS
SELECT s.site, s.sensor, r.start, r.laeq_db, r.lafmax_db, r.lcpeak_db,
       r.laf10_db, r.laf50_db, r.laf90_db, r.coverage, r.event_count
FROM noisefleet_store.rollup_1d r
JOIN noisefleet_store.sensors s USING (sensor_id);

CREATE VIEW noisefleet.energy_shares_1h AS
SELECT s.site, s.sensor, e.start, e.label, e.share
FROM noisefleet_store.energy_shares_1h e
JOIN noisefleet_store.sensors s USING (sensor_id);

CREATE VIEW noisefleet.lden_daily AS
SELECT s.site, s.sensor, d.day, d.lday_db, d.levening_db, d.lnight_db, d.lden_db, d.coverage
FROM noisefleet_store.lden_daily d
JOIN noisefleet_store.sensors s USING (sensor_id);

CREATE VIEW noisefleet.events AS
SELECT e.event_id, s.site, s.sensor, e.label, e.start,
       extract(epoch FROM e."end" - e.start)::double precision AS duration_s,
       e.laeq_db, e.lafmax_db, e.lae_db, e.confidence_peak, e.final
FROM noisefleet_store.events e
JOIN noisefleet_store.sensors s USING (sensor_id);

CREATE VIEW noisefleet.dead_letters AS
SELECT received_at, topic, reason, payload
FROM noisefleet_store.dead_letters;

CREATE VIEW noisefleet.sequence_gaps AS
SELECT s.site, s.sensor, g.first_missing, g.last_missing, g.detected_at
FROM noisefleet_store.sequence_gaps g
JOIN noisefleet_store.sensors s USING (sensor_id);
