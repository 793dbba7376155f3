"""Alerts: rules as data, their evaluation, lifecycle and regulation templates."""
