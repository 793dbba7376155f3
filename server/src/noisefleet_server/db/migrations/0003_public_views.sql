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
       m.minute + r.off * interval '1 millisecond' AS start,
       (r.dur / 1000.0)::double precision AS duration_s,
       (r.laeq / 100.0)::double precision AS laeq_db,
       (r.lafmax / 100.0)::double precision AS lafmax_db,
       (r.lafmin / 100.0)::double precision AS lafmin_db,
       (r.laf10 / 100.0)::double precision AS laf10_db,
       (r.laf50 / 100.0)::double precision AS laf50_db,
       (r.laf90 / 100.0)::double precision AS laf90_db,
       (r.lceq / 100.0)::double precision AS lceq_db,
       (r.lcpeak / 100.0)::double precision AS lcpeak_db,
       (r.cov / 10000.0)::double precision AS coverage,
       r.cal AS calibrated
FROM noisefleet_store.level_minutes m
JOIN noisefleet_store.sensors s USING (sensor_id)
CROSS JOIN LATERAL unnest(m.offsets_ms, m.durations_ms, m.laeq, m.lafmax, m.lafmin, m.laf10,
                          m.laf50, m.laf90, m.lceq, m.lcpeak, m.coverage, m.calibrated)
    AS r(off, dur, laeq, lafmax, lafmin, laf10, laf50, laf90, lceq, lcpeak, cov, cal);

CREATE FUNCTION noisefleet.levels_between(from_ts timestamptz, to_ts timestamptz)
RETURNS SETOF noisefleet.levels
LANGUAGE sql STABLE AS $$
    SELECT s.site, s.sensor,
           m.minute + r.off * interval '1 millisecond',
           (r.dur / 1000.0)::double precision,
           (r.laeq / 100.0)::double precision, (r.lafmax / 100.0)::double precision,
           (r.lafmin / 100.0)::double precision, (r.laf10 / 100.0)::double precision,
           (r.laf50 / 100.0)::double precision, (r.laf90 / 100.0)::double precision,
           (r.lceq / 100.0)::double precision, (r.lcpeak / 100.0)::double precision,
           (r.cov / 10000.0)::double precision, r.cal
    FROM noisefleet_store.level_minutes m
    JOIN noisefleet_store.sensors s USING (sensor_id)
    CROSS JOIN LATERAL unnest(m.offsets_ms, m.durations_ms, m.laeq, m.lafmax, m.lafmin,
                              m.laf10, m.laf50, m.laf90, m.lceq, m.lcpeak, m.coverage,
                              m.calibrated)
        AS r(off, dur, laeq, lafmax, lafmin, laf10, laf50, laf90, lceq, lcpeak, cov, cal)
    WHERE m.minute > date_trunc('minute', from_ts) - interval '1 minute'
      AND m.minute < to_ts
      AND m.minute + r.off * interval '1 millisecond' >= from_ts
      AND m.minute + r.off * interval '1 millisecond' < to_ts
$$;

CREATE VIEW noisefleet.levels_1m AS
SELECT s.site, s.sensor, m.minute AS start, m.laeq_db, m.lafmax_db, m.lcpeak_db,
       m.laf10_db, m.laf50_db, m.laf90_db,
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
