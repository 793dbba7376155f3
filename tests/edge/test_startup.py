"""Start-up: the command line loads nothing heavy before a subcommand needs it, measuring never
loads scipy, and the entry point limits OpenBLAS to one thread whatever the environment says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("numpy", "scipy", "soundfile", "sounddevice", "aiomqtt", "ai_edge_litert")


def _python(code: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env=env,
    )
    return result.stdout.strip().splitlines()[-1]


def _environment_without_thread_limits() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(name, None)
    return env


def _heavy_modules_after(statements: str) -> list[str]:
    code = (
        f"import json, sys\n{statements}\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    return list(json.loads(_python(code)))


def test_the_command_line_module_loads_nothing_heavy() -> None:
    assert _heavy_modules_after("import noisefleet_edge.cli") == []


def test_help_answers_without_loading_numpy() -> None:
    statements = (
        "from noisefleet_edge.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as end:\n    assert end.code == 0"
    )
    assert _heavy_modules_after(statements) == []


def test_measuring_and_the_agent_never_import_scipy() -> None:
    code = (
        "import sys\n"
        "import numpy as np\n"
        "import noisefleet_edge.agent.main, noisefleet_edge.analyze_command\n"
        "import noisefleet_edge.calibrate_command, noisefleet_edge.levels_command\n"
        "from noisefleet_core.acoustics.meter import MeterSettings, SoundLevelMeter\n"
        "from noisefleet_core.features.resample import resample\n"
        "for fs in (16000, 44100, 48000):\n"
        "    meter = SoundLevelMeter(MeterSettings(fs, frame_s=0.1))\n"
        "    records = meter.process(np.ones(fs) * 0.1)\n"
        "    assert len(records) == 1\n"
        "    resample(np.ones(fs), fs, 16000)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy'))"
    )
    assert _python(code) == "[]"


_THREADS = (
    "import threadpoolctl\n"
    "pools = [p for p in threadpoolctl.threadpool_info() if p['internal_api'] == 'openblas']\n"
    "print(pools[0]['num_threads'])"
)


def test_the_entry_point_limits_openblas_to_one_thread(tmp_path: Path) -> None:
    env = _environment_without_thread_limits()
    # Control: without the entry point numpy's OpenBLAS takes every core.
    uncontrolled = int(_python("import numpy\n" + _THREADS, env))
    if (os.cpu_count() or 1) > 1:
        assert uncontrolled > 1
    code = (
        "from noisefleet_edge.cli import main\n"
        f"status = main(['analyze', {str(tmp_path / 'missing.wav')!r}])\n"
        "assert status == 1, status\n"
        "import numpy\n" + _THREADS
    )
    assert int(_python(code, env)) == 1
