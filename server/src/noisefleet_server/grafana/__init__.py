"""Grafana provisioning: the PostgreSQL datasource, a folder, dashboards and alert rules, all
kept as JSON in this package and written through Grafana's HTTP API (``grafana provision``)."""
