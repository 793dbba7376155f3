"""Run one sensor's link until killed (the Last Will test SIGKILLs this process).

``python -m tests.edge.agent.link_process PORT OUTBOX_PATH`` prints ``connected`` once up.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from noisefleet_edge.agent.mqtt_link import LinkSettings, SensorLink
from noisefleet_edge.agent.outbox import Outbox

from .helpers import SITE, clock


async def main(port: int, path: Path) -> None:
    with Outbox(path, 1 << 20) as outbox:
        settings = LinkSettings("127.0.0.1", "park.s01", port=port, tls=False, keepalive_s=5)
        link = SensorLink(settings, SITE, "s01", outbox, None, clock)
        task = asyncio.create_task(link.run(asyncio.Event()))
        while not link.stats.connected:
            await asyncio.sleep(0.01)
        print("connected", flush=True)
        await task


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), Path(sys.argv[2])))
