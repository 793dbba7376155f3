"""Sound event detection evaluation: the sensor pipeline on labelled recordings, DCASE metrics.

Modules:
- ``metrics``: event-based (collar) and segment-based metrics through sed_eval, as a plain dict;
- ``files``: the evaluation folder (recordings with same-stem Audacity label tracks);
- ``run``: the edge's ``SensorPipeline`` over one recording, its events in seconds, and its frames
  for replaying the detector at other thresholds;
- ``tune``: per-class onset thresholds tuned on a validation folder, stored beside the model;
- ``generate``: synthetic evaluation folders at a chosen SNR range;
- ``command``: the ``noisefleet-train evaluate-events`` subcommand and its table.
"""
