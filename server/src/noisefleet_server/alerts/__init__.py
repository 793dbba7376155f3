"""Alerts on the server: rules from file and database, evaluation of stored data (live and as
replay), alert lifecycle in PostgreSQL, notifications queued with each change."""
