"""Parity of the SQL decoder ``noisefleet_store.plane_value`` (inlined in migration 0007)
with the server's own ``decode_levels``: both level modes, nulls, odd and even record counts."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest

from noisefleet_server.ingest.minutes import PLANES, decode_levels, encode_levels

pytestmark = pytest.mark.integration


def _matrix(rng: np.random.Generator, count: int, spread_cdb: int) -> np.ndarray:
    values = rng.integers(32768 + 3000, 32768 + 3000 + spread_cdb, (PLANES, count))
    values[rng.random((PLANES, count)) < 0.1] = 0  # nulls
    values[3] = 0  # a level with no value at all
    return values.astype(np.uint16)


@pytest.mark.parametrize(
    ("count", "spread_cdb", "mode"),
    [(60, 800, 0), (59, 800, 0), (1, 100, 0), (60, 9000, 1), (7, 9000, 1), (600, 2500, 0)],
)
def test_sql_plane_value_decodes_like_decode_levels(
    db: psycopg.Connection, count: int, spread_cdb: int, mode: int
):
    """800 cdB fits the 4-bit steps (mode 0), 9000 cdB (90 dB) needs full high bytes (mode 1)."""
    matrix = _matrix(np.random.default_rng(count * 10 + spread_cdb), count, spread_cdb)
    data = encode_levels(matrix)
    assert np.array_equal(decode_levels(data, count), matrix)
    rows = db.execute(
        "SELECT k, i, noisefleet_store.plane_value(%(d)s, %(n)s, k, i)"
        " FROM generate_series(0, 7) AS k, generate_series(0, %(n)s - 1) AS i ORDER BY k, i",
        {"d": data, "n": count},
    ).fetchall()
    decoded = np.array([np.nan if v is None else v for _, _, v in rows]).reshape(PLANES, count)
    expected = np.where(matrix == 0, np.nan, matrix.astype(np.float64) - 32768)
    assert np.array_equal(decoded, expected, equal_nan=True)
    assert data[0] == mode  # the first level's mode: both layouts are covered
