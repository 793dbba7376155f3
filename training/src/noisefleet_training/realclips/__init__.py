"""Recorded clips from Debian packages: catalogue (what and which split), containers (.rcc and
.pk3 readers), build (``noisefleet-train real-clips``)."""
