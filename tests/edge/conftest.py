"""Fixtures for the edge CLI tests."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from noisefleet_edge.cli import main

from .helpers import CliResult

RunCli = Callable[..., CliResult]


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """Run ``main`` in-process; records go to a StringIO, messages to the captured stderr."""

    def run(*args: object) -> CliResult:
        capsys.readouterr()
        buf = io.StringIO()
        code = main([str(a) for a in args], out=buf)
        captured = capsys.readouterr()
        assert captured.out == "", "everything meant for stdout must go to the given stream"
        return CliResult(code, buf.getvalue(), captured.err)

    return run
