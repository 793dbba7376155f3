"""Audacity label tracks: the text format, both ways."""

from __future__ import annotations

import pytest

from noisefleet_training.synth.audacity import (
    LabelFormatError,
    SoundEvent,
    format_labels,
    parse_labels,
)


def test_format_is_tab_separated_with_six_decimals() -> None:
    text = format_labels([SoundEvent(1.5, 2.25, "dog_bark"), SoundEvent(10.0, 10.1234567, "siren")])
    assert text == "1.500000\t2.250000\tdog_bark\n10.000000\t10.123457\tsiren\n"


def test_round_trip() -> None:
    events = [SoundEvent(0.0, 0.5, "gun_shot"), SoundEvent(3.25, 7.75, "street_music")]
    assert parse_labels(format_labels(events)) == events


def test_parser_reads_what_audacity_writes() -> None:
    text = (
        "0.100000\t0.900000\tcar horn\r\n"
        "\\\t100.000000\t4000.000000\r\n"  # frequency range line under a spectral label
        "\r\n"
        "2.000000\t2.000000\t\r\n"  # a point label with no text
    )
    assert parse_labels(text) == [SoundEvent(0.1, 0.9, "car horn"), SoundEvent(2.0, 2.0, "")]


@pytest.mark.parametrize("line", ["1.0", "a\tb\tdog", "2.0\t1.0\tdog", "-1\t1\tdog"])
def test_bad_lines_are_reported_with_their_number(line: str) -> None:
    with pytest.raises(LabelFormatError, match="line 2"):
        parse_labels("0\t1\tok\n" + line + "\n")


def test_events_refuse_inverted_times_and_tabs() -> None:
    with pytest.raises(ValueError, match="onset"):
        SoundEvent(2.0, 1.0, "x")
    with pytest.raises(ValueError, match="tabs"):
        SoundEvent(0.0, 1.0, "a\tb")
