-- Faster reads of 1-s levels (bench/bench_dashboard.py, docs/dashboard.md "Performance").
--
-- plane_value had nested sub-selects, so PostgreSQL ran it through the SQL function executor
-- once per value: 8 calls per record, about 40 µs a record, 75 ms for the Site page's 30 min
-- of 1-s levels. The same decoding as one expression (no FROM) is inlined into the calling
-- query by the planner. Results are unchanged (same layout: see 0002).
CREATE OR REPLACE FUNCTION noisefleet_store.plane_value(levels bytea, n integer, k integer, i integer)
RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN get_byte(levels, 4 * k) = 0 THEN
            CASE WHEN (get_byte(levels, ((get_byte(levels, 4 * k + 2) << 8)
                                         | get_byte(levels, 4 * k + 3)) + i / 2)
                       >> ((i % 2) * 4)) & 15 = 15 THEN NULL
                 ELSE (((get_byte(levels, 4 * k + 1)
                         + ((get_byte(levels, ((get_byte(levels, 4 * k + 2) << 8)
                                               | get_byte(levels, 4 * k + 3)) + i / 2)
                             >> ((i % 2) * 4)) & 15)) << 8)
                       | get_byte(levels, length(levels) - 8 * n + k * n + i)) - 32768
            END
        ELSE nullif((get_byte(levels, ((get_byte(levels, 4 * k + 2) << 8)
                                       | get_byte(levels, 4 * k + 3)) + i) << 8)
                    | get_byte(levels, length(levels) - 8 * n + k * n + i), 0) - 32768
    END
$$;
