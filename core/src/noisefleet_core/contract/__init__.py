"""The wire contract shared by edge, server and tests: record names, units and time format."""
