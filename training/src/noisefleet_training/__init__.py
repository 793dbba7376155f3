"""noisefleet training: classifier training and export (built by the classifier issue)."""
