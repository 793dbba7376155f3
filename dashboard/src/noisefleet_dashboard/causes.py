"""What caused the noise, and when it is loud: the Site page's energy shares per label and its
hour × day heat map, from hourly roll-ups. Pure: rows in, rows out.

- The server keeps, per sensor and UTC hour, the share of the hour's A-weighted energy per
  label (``energy_shares_1h``, the classifier's labels plus ``background``) and the hour's
  LAeq and coverage (``levels_1h``).
- Shares over a longer bucket (a local day, the whole span) weigh each hour by its measured
  energy, E = 10^(LAeq/10) · coverage · 3600 s: a loud hour counts for more than a quiet one,
  exactly as the energy itself adds up. Shares of a bucket sum to 1 (what the classifier did
  not attribute stays ``background``).
- The heat map puts each hour at its local date and hour of day; two UTC hours that fall on
  the same local hour (the autumn clock change) are combined energy-correctly.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

OTHER = "other"
Bucket = Literal["hour", "day"]


@dataclass(frozen=True)
class ShareRow:
    start: datetime
    """UTC hour."""
    label: str
    share: float


@dataclass(frozen=True)
class HourLevel:
    start: datetime
    """UTC hour."""
    laeq_db: float | None
    coverage: float


def _energy(hour: HourLevel) -> float:
    if hour.laeq_db is None or hour.coverage <= 0:
        return 0.0
    return 10 ** (hour.laeq_db / 10) * hour.coverage * 3600.0


def bucket_shares(
    shares: Iterable[ShareRow], hours: Iterable[HourLevel], timezone: str, bucket: Bucket
) -> dict[datetime | date, dict[str, float]]:
    """Energy-weighted shares per label for each hour (``hour``: the UTC hour) or local day
    (``day``). Hours without measured energy do not count; buckets without any are left out."""
    energy = {h.start: _energy(h) for h in hours}
    zone = ZoneInfo(timezone)
    sums: dict[datetime | date, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    totals: dict[datetime | date, float] = defaultdict(float)
    seen: set[datetime] = set()
    for row in shares:
        weight = energy.get(row.start, 0.0)
        if weight <= 0:
            continue
        key: datetime | date = row.start if bucket == "hour" else row.start.astimezone(zone).date()
        sums[key][row.label] += row.share * weight
        if row.start not in seen:
            seen.add(row.start)
            totals[key] += weight
    return {
        key: {label: value / totals[key] for label, value in labels.items()}
        for key, labels in sums.items()
        if totals[key] > 0
    }


def span_shares(shares: Iterable[ShareRow], hours: Iterable[HourLevel]) -> dict[str, float]:
    """Energy-weighted shares per label over every hour given, largest first."""
    energy = {h.start: _energy(h) for h in hours}
    sums: dict[str, float] = defaultdict(float)
    total = 0.0
    seen: set[datetime] = set()
    for row in shares:
        weight = energy.get(row.start, 0.0)
        if weight <= 0:
            continue
        sums[row.label] += row.share * weight
        if row.start not in seen:
            seen.add(row.start)
            total += weight
    if total <= 0:
        return {}
    return dict(sorted(((k, v / total) for k, v in sums.items()), key=lambda kv: -kv[1]))


def top_labels(overall: dict[str, float], keep: int = 6) -> list[str]:
    """The labels shown by name (the largest ``keep``); the rest become ``other``."""
    return [label for label, _ in sorted(overall.items(), key=lambda kv: -kv[1])[:keep]]


def share_chart_rows(
    buckets: dict[datetime | date, dict[str, float]], shown: Sequence[str]
) -> list[dict[str, object]]:
    """One row per bucket and label for a stacked bar chart: share in percent."""
    rows: list[dict[str, object]] = []
    for key in sorted(buckets, key=lambda k: (str(type(k)), k)):
        labels = buckets[key]
        other = sum(v for label, v in labels.items() if label not in shown)
        for label in shown:
            if labels.get(label, 0.0) > 0:
                rows.append({"start": key, "label": label, "share": 100 * labels[label]})
        if other > 0:
            rows.append({"start": key, "label": OTHER, "share": 100 * other})
    return rows


def share_table(overall: dict[str, float]) -> list[dict[str, object]]:
    """The span's shares as table rows, largest first: label and percent to one decimal."""
    return [
        {"cause": label, "share of the energy": f"{100 * v:.1f} %"} for label, v in overall.items()
    ]


def heat_map_rows(hours: Iterable[HourLevel], timezone: str) -> list[dict[str, object]]:
    """One cell per local date and hour of day: the LAeq of that hour (energy mean when two
    UTC hours share a local hour), and the measured share."""
    zone = ZoneInfo(timezone)
    cells: dict[tuple[date, int], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for hour in hours:
        if hour.laeq_db is None or hour.coverage <= 0:
            continue
        local = hour.start.astimezone(zone)
        cell = cells[(local.date(), local.hour)]
        cell[0] += 10 ** (hour.laeq_db / 10) * hour.coverage
        cell[1] += hour.coverage
    return [
        {
            "day": day.isoformat(),
            "hour": hour,
            "LAeq": round(10 * math.log10(energy / measured), 1),
            "measured": round(min(measured, 1.0), 3),
        }
        for (day, hour), (energy, measured) in sorted(cells.items())
    ]
