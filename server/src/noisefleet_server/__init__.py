"""noisefleet server: ingest, roll-ups and alerts (built by later issues).

The energy-correct helpers it will use live in ``noisefleet_core.acoustics.combine``.
"""
