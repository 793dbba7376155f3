r"""Audacity label tracks over long recordings: the layout of people who label their own audio.

An Audacity label track exported as text has one label per line, tab-separated::

    12.500000<TAB>15.250000<TAB>dog bark
    \<TAB>250.000000<TAB>4000.000000        (frequency range of the label above; ignored)
    30.000000<TAB>30.000000<TAB>door        (a point label: start == end)

Layout for ``load_audacity_recordings``: a recording ``X.wav`` (or .flac, .ogg; suffix in any
case) with its label track ``X.txt`` beside it, anywhere under ``root``.

Steps:
1. pair each label track with the recording of the same stem in the same folder; a label track
   without its recording is a missing file (an error naming the first few and the count, or left
   out and counted with ``skip_missing``); a recording without a label track is left out and
   counted, it is simply not labelled yet;
2. read each label track (errors name the file and line) and the recording's duration (header
   only); a label starting at or after the end of its recording is an error, a label running past
   the end is cut at the end and counted;
3. every label with a duration becomes a segment; point labels mark an instant, hold no audio to
   learn from, and are counted;
4. optionally, gaps between labels of at least ``min_background_s`` become ``background_label``
   segments;
5. every segment of a recording gets the recording's fold (``stable_fold`` of its path relative
   to ``root``, without suffix): labels of one recording are near neighbours in time, sound alike
   and share the site's background, so a recording is never split across folds.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from .base import (
    AUDIO_SUFFIXES,
    Dataset,
    DatasetError,
    LabelledSegment,
    audio_duration_s,
    one_line,
    require_directory,
    stable_fold,
)

DEFAULT_FOLDS = 5
DEFAULT_MIN_BACKGROUND_S = 1.0
"""Shorter gaps between labels are the edges of events, not background."""
LABEL_TRACK_SUFFIX = ".txt"
FREQUENCY_LINE_PREFIX = "\\"
MISSING_EXAMPLES = 3


class LabelEvent(NamedTuple):
    """One label of a track: a stretch (or, when start == end, an instant) and its label."""

    start_s: float
    end_s: float
    label: str


class _NumberedEvent(NamedTuple):
    line: int
    event: LabelEvent


def read_label_track(path: str | os.PathLike[str]) -> list[LabelEvent]:
    """The labels of an Audacity label track, in file order.

    Blank lines and Audacity's frequency lines (starting with a backslash) are skipped; labels
    keep inner spaces and lose surrounding whitespace. A line that is not
    ``start<TAB>end<TAB>label`` with times >= 0, end >= start and a non-empty label raises a
    ``DatasetError`` naming the file and line.
    """
    return [numbered.event for numbered in _parse_label_track(Path(path))]


def write_label_track(
    path: str | os.PathLike[str], events: Iterable[tuple[float, float, str]]
) -> None:
    """Write ``events`` as an Audacity label track (times to the microsecond, as Audacity does)."""
    file_path = Path(path)
    lines = []
    for index, (start_s, end_s, label) in enumerate(events, start=1):
        problem = _event_problem(start_s, end_s, label)
        if problem is None and any(c in label for c in "\t\r\n"):
            problem = "label holds a tab or line break"
        if problem is None and label.startswith(FREQUENCY_LINE_PREFIX):
            problem = "label starts with a backslash (read back as a frequency line)"
        if problem is not None:
            raise DatasetError(
                f"{file_path}: event {index} ({start_s}, {end_s}, {label!r}): {problem}"
            )
        lines.append(f"{start_s:.6f}\t{end_s:.6f}\t{label}\n")
    try:
        file_path.write_text("".join(lines), encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"{file_path}: cannot write ({one_line(exc)})") from exc


def load_audacity_recordings(
    root: str | os.PathLike[str],
    folds: int = DEFAULT_FOLDS,
    *,
    background_label: str | None = None,
    min_background_s: float = DEFAULT_MIN_BACKGROUND_S,
    skip_missing: bool = False,
) -> Dataset:
    """Load labelled stretches of the recordings under ``root``, a fold per recording.

    Labels are sorted; ``background_label``, when given, is one of them even if no gap is long
    enough to give it a segment, so the label list depends only on the labels and the options.
    """
    root_path = require_directory(root)
    if folds < 2:
        raise DatasetError(f"{root_path}: cross-validation needs at least 2 folds, got {folds}")
    if background_label is not None and not background_label.strip():
        raise DatasetError("background_label must not be empty")
    pairs, unlabelled, skipped = _pair_recordings(root_path, skip_missing)

    segments: list[LabelledSegment] = []
    point_labels = clamped = empty_tracks = 0
    for audio_path, track_path in pairs:
        fold = stable_fold(
            f"recording:{audio_path.relative_to(root_path).with_suffix('').as_posix()}", folds
        )
        duration_s = audio_duration_s(audio_path)
        events = _parse_label_track(track_path)
        empty_tracks += not events
        stretches: list[tuple[float, float]] = []
        for line, event in events:
            if event.start_s >= duration_s:
                raise DatasetError(
                    f"{track_path} line {line}: label starts at {event.start_s} s, after the end "
                    f"of {audio_path.name} ({duration_s:.3f} s)"
                )
            if event.end_s == event.start_s:
                point_labels += 1
                continue
            end_s = min(event.end_s, duration_s)
            clamped += end_s < event.end_s
            stretches.append((event.start_s, end_s))
            segments.append(LabelledSegment(audio_path, event.label, fold, event.start_s, end_s))
        if background_label is not None:
            segments.extend(
                LabelledSegment(audio_path, background_label, fold, start_s, end_s)
                for start_s, end_s in background_gaps(stretches, duration_s, min_background_s)
            )

    if not segments:
        raise DatasetError(f"{root_path}: the label tracks hold no labelled stretches")
    labels = {s.label for s in segments}
    if background_label is not None:
        labels.add(background_label)
    for count, what in (
        (unlabelled, "recordings without a label track"),
        (point_labels, "point labels (start == end) holding no audio"),
        (clamped, "labels running past the end of their recording, cut at the end"),
        (empty_tracks, "label tracks holding no labels"),
    ):
        if count:
            skipped.append(f"{count} {what}")
    segments.sort(key=lambda s: (s.path, s.start_s, s.end_s or 0.0, s.label))
    return Dataset(
        name=f"audacity:{root_path.name}",
        labels=tuple(sorted(labels)),
        segments=tuple(segments),
        folds=tuple(sorted({s.fold for s in segments if s.fold is not None})),
        skipped=tuple(skipped),
    )


def background_gaps(
    stretches: Sequence[tuple[float, float]], duration_s: float, min_gap_s: float
) -> list[tuple[float, float]]:
    """The parts of ``[0, duration_s]`` no stretch covers, each at least ``min_gap_s`` long."""
    gaps = []
    covered_until = 0.0
    for start_s, end_s in sorted(stretches):
        if start_s - covered_until >= min_gap_s and start_s > covered_until:
            gaps.append((covered_until, start_s))
        covered_until = max(covered_until, end_s)
    if duration_s - covered_until >= min_gap_s and duration_s > covered_until:
        gaps.append((covered_until, duration_s))
    return gaps


def _pair_recordings(
    root: Path, skip_missing: bool
) -> tuple[list[tuple[Path, Path]], int, list[str]]:
    """(recording, label track) pairs, the count of unlabelled recordings, and skip notes."""
    recordings: dict[Path, Path] = {}
    tracks: list[Path] = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or any(p.startswith(".") for p in path.relative_to(root).parts):
            continue
        suffix = path.suffix.lower()
        if suffix == LABEL_TRACK_SUFFIX:
            tracks.append(path)
        elif suffix in AUDIO_SUFFIXES:
            stem = path.with_suffix("")
            if stem in recordings:
                raise DatasetError(
                    f"{path}: {recordings[stem].name} has the same stem; which recording does "
                    f"{stem.name}{LABEL_TRACK_SUFFIX} label?"
                )
            recordings[stem] = path

    pairs = [(recordings[t.with_suffix("")], t) for t in tracks if t.with_suffix("") in recordings]
    missing = [t for t in tracks if t.with_suffix("") not in recordings]
    unlabelled = len(recordings) - len(pairs)
    skipped: list[str] = []
    if missing:
        examples = ", ".join(t.relative_to(root).as_posix() for t in missing[:MISSING_EXAMPLES])
        more = ", ..." if len(missing) > MISSING_EXAMPLES else ""
        summary = f"{len(missing)} label tracks have no recording (wav/flac/ogg of the same stem)"
        if not skip_missing:
            raise DatasetError(
                f"{root}: {summary}: {examples}{more} (pass skip_missing=True to load the rest)"
            )
        skipped.append(f"{summary}: {examples}{more}")
    if not pairs:
        raise DatasetError(
            f"{root}: no recording with a label track (expected X.wav next to its labels X.txt)"
        )
    return pairs, unlabelled, skipped


def _parse_label_track(path: Path) -> list[_NumberedEvent]:
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({one_line(exc)})") from exc
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({one_line(exc)})") from exc

    events = []
    # Split on newlines only: str.splitlines would also split inside labels at other separators.
    for line_number, raw_line in enumerate(text.split("\n"), start=1):
        line = raw_line.rstrip("\r")
        if not line.strip() or line.startswith(FREQUENCY_LINE_PREFIX):
            continue
        fields = line.split("\t", 2)
        where = f"{path} line {line_number}"
        if len(fields) < 3:
            raise DatasetError(f"{where}: expected start<TAB>end<TAB>label, found {_excerpt(line)}")
        start_s = _parse_time(where, "start", fields[0])
        end_s = _parse_time(where, "end", fields[1])
        label = fields[2].strip()
        problem = _event_problem(start_s, end_s, label)
        if problem is not None:
            raise DatasetError(f"{where}: {problem}")
        events.append(_NumberedEvent(line_number, LabelEvent(start_s, end_s, label)))
    return events


def _parse_time(where: str, name: str, text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise DatasetError(f"{where}: {name} {_excerpt(text)} is not a number") from None
    return value


def _event_problem(start_s: float, end_s: float, label: str) -> str | None:
    """Why an event is invalid, or None."""
    if not (math.isfinite(start_s) and start_s >= 0):
        return f"start {start_s} is not a time >= 0"
    if not math.isfinite(end_s):
        return f"end {end_s} is not a finite time"
    if end_s < start_s:
        return f"end {end_s} s is before start {start_s} s"
    if not label.strip():
        return "empty label"
    return None


def _excerpt(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
