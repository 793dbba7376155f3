"""Benchmark: the edge agent serving 1 and 8 real-time 48 kHz sensors (levels + classifier +
events) into a local mosquitto.

For each sensor count the script:
1. writes a configuration with N file sensors playing a generated street minute in real time,
   in a loop (calibrated, so the level gate behaves as in the field);
2. starts ``noisefleet-edge run`` and lets it warm up (model loading, first windows);
3. samples the agent's CPU time (user + system, all threads, from /proc) over the measuring
   window and reports it as a share of one core and of the machine, plus the peak RSS (VmHWM);
4. stops it with SIGTERM and checks it shut down cleanly.
A subscriber counts the messages that reached the broker, so the figures are for an agent
that really publishes. The street's traffic bed (about 52 dB(A)) is above the default gate
(45 dB), so the classifier runs on every window: the worst case for CPU.

Run: ``.venv/bin/python bench/bench_agent.py [--seconds 60] [--sensors 1 8]`` (Linux only).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import asyncio
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiomqtt
import numpy as np
import soundfile as sf

from noisefleet_edge.demo import SAMPLE_RATE_HZ, street_recording

EDGE = Path(sys.executable).parent / "noisefleet-edge"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CALIBRATION_OFFSET_DB = 120.0  # the demo's virtual microphone: -26 dBFS for 94 dB SPL


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _config(work: Path, port: int, sensors: int, wav: Path) -> Path:
    lines = [
        "[agent]",
        'site = "bench"',
        f'state_dir = "{work / "state"}"',
        "heartbeat_s = 10",
        "[mqtt]",
        'host = "127.0.0.1"',
        f"port = {port}",
    ]
    for i in range(sensors):
        lines += [
            "[[sensors]]",
            f'id = "s{i:02d}"',
            f"calibration_offset_db = {CALIBRATION_OFFSET_DB}",
            f'source = {{ type = "file", path = "{wav}", speed = 1.0, loop = true }}',
        ]
    path = work / f"edge-{sensors}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def _count_messages(port: int, stop: asyncio.Event, counts: dict[str, int]) -> None:
    async with aiomqtt.Client("127.0.0.1", port, identifier="bench-subscriber") as client:
        await client.subscribe("noisefleet/v1/#", qos=1)
        async for message in client.messages:
            kind = str(message.topic).rsplit("/", 1)[-1]
            counts[kind] = counts.get(kind, 0) + 1
            if stop.is_set():
                return


async def _measure(config: Path, port: int, warmup_s: float, seconds: float) -> dict[str, float]:
    counts: dict[str, int] = {}
    stop = asyncio.Event()
    subscriber = asyncio.create_task(_count_messages(port, stop, counts))
    await asyncio.sleep(0.5)
    agent = subprocess.Popen(
        [str(EDGE), "run", "--config", str(config), "--log-level", "warning"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        await asyncio.sleep(warmup_s)
        cpu0, wall0 = _cpu_seconds(agent.pid), time.monotonic()
        samples = []
        while time.monotonic() - wall0 < seconds:
            await asyncio.sleep(min(5.0, seconds))
            cpu1, wall1 = _cpu_seconds(agent.pid), time.monotonic()
            samples.append((cpu1 - cpu0) / (wall1 - wall0))
        cpu_share = (_cpu_seconds(agent.pid) - cpu0) / (time.monotonic() - wall0)
        rss = _peak_rss_mb(agent.pid)
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            _, err = await asyncio.to_thread(agent.communicate, timeout=60)
        except subprocess.TimeoutExpired:
            agent.kill()
            _, err = agent.communicate()
        stop.set()
        subscriber.cancel()
    if agent.returncode != 0:
        raise SystemExit(f"the agent exited with {agent.returncode}: {err.strip()[-500:]}")
    return {
        "cpu_share": cpu_share,
        "cpu_share_median_5s": statistics.median(samples),
        "rss_mb": rss,
        "levels_messages": counts.get("levels", 0),
        "events_messages": counts.get("events", 0),
        "heartbeats": counts.get("heartbeat", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measuring window")
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--sensors", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(mosquitto).exists():
        raise SystemExit("mosquitto is not installed: run make setup")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        wav = work / "street.wav"
        sf.write(wav, street_recording(np.random.default_rng(2026)), SAMPLE_RATE_HZ, "PCM_16")
        port = _free_port()
        conf = work / "mosquitto.conf"
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            + ("user root\n" if os.geteuid() == 0 else "")
        )
        broker = subprocess.Popen(
            [mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(0.5)
        try:
            print(
                f"edge agent, {SAMPLE_RATE_HZ} Hz file sensors in real time (levels + int8 "
                f"classifier + events), {os.cpu_count()} cores, measured over {args.seconds:.0f} s "
                f"after {args.warmup:.0f} s warm-up"
            )
            for n in args.sensors:
                config = _config(work, port, n, wav)
                result = asyncio.run(_measure(config, port, args.warmup, args.seconds))
                print(
                    f"{n} sensor(s): CPU {100 * result['cpu_share']:.1f} % of one core "
                    f"(median of 5 s samples {100 * result['cpu_share_median_5s']:.1f} %, "
                    f"{100 * result['cpu_share'] / (os.cpu_count() or 1):.1f} % of the machine), "
                    f"{100 * result['cpu_share'] / n:.2f} % per sensor; peak RSS "
                    f"{result['rss_mb']:.0f} MB; published {result['levels_messages']} levels, "
                    f"{result['events_messages']} events, {result['heartbeats']} heartbeat "
                    "messages"
                )
        finally:
            broker.terminate()
            broker.wait(10)


if __name__ == "__main__":
    main()
