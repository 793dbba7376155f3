"""Models shipped with the edge package (the default classifier lives in default/)."""
