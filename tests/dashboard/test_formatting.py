"""How values are shown, and the level chart's specification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from noisefleet_dashboard import charts, formatting
from noisefleet_dashboard.queries import LevelPoint

T = datetime(2026, 11, 24, 17, 59, tzinfo=UTC)  # 18:59 in Berlin: the day's last minute


def test_values():
    assert formatting.db(None) == "—"
    assert formatting.db(57.396) == "57.4 dB"
    assert formatting.percent(0.0476) == "5 %"
    assert formatting.age(timedelta(seconds=42)) == "42 s"
    assert formatting.age(timedelta(minutes=20)) == "20 min"
    assert formatting.age(timedelta(hours=5)) == "5 h"
    assert formatting.age(timedelta(days=12)) == "12 d"
    assert formatting.model_version(None, None) == "—"
    assert formatting.model_version("urban", "9f86d081884c") == "urban (9f86d081)"
    assert formatting.limits_text({"night": 45, "day": 55}) == "day 55 dB, night 45 dB"
    assert formatting.limits_text({}).startswith("no limits set")


def test_level_series_carries_the_limit_in_force():
    points = [
        LevelPoint(T, 50.0, 55.0, 52.0, 47.0, 1.0),
        LevelPoint(T + timedelta(minutes=1), 60.0, 65.0, 62.0, 57.0, 1.0),
    ]
    series = formatting.level_series(points, {"day": 55, "evening": 50}, "Europe/Berlin")
    assert [row["limit"] for row in series] == [55.0, 50.0]
    spec = charts.level_chart(series, "tower / roof").to_dict()
    assert len(spec["layer"]) == 2  # the band, then the folded lines
    (dataset,) = spec["datasets"].values()
    assert len(dataset) == 2  # one row per bucket, not one per line
    assert spec["layer"][1]["transform"][0]["fold"] == ["LAeq", "LAFmax", "limit"]
