"""Alerts: rules as data, validated once, evaluated by pure functions over numpy arrays.

``rules`` holds the rule model (frozen dataclasses) and its validation (``parse_rules``,
``load_rules_toml``); ``timewindows`` turns local time windows into UTC intervals; ``describe``
writes the one-line messages of notifications. Nothing here reads a clock, a file or a database:
the server passes data in and stores what comes out.
"""
