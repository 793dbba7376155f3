"""A tiny stand-in for the Grafana HTTP API endpoints ``grafana provision`` uses.

It keeps state (so a second run sees what the first created), records every request
(method, path, Authorization header, JSON body) and can answer 401, 403, non-JSON, or hold a
request until released (a slow server)."""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    authorization: str | None
    body: Any


@dataclass
class FakeGrafana:
    token: str
    basic: str | None = None
    """Also accepted: ``Basic <base64 of basic>`` (user:password)."""
    mode: str = "ok"
    """ok, 401, 403, notjson or slow."""
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def accepted(self) -> set[str]:
        allowed = {f"Bearer {self.token}"}
        if self.basic is not None:
            allowed.add("Basic " + base64.b64encode(self.basic.encode()).decode())
        return allowed

    def writes(self) -> list[Request]:
        return [r for r in self.requests if r.method != "GET"]

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        routes: list[tuple[str, str, Any]] = [
            ("GET", r"/api/datasources/uid/([\w-]+)", self._get_ds),
            ("POST", r"/api/datasources", self._post_ds),
            ("PUT", r"/api/datasources/uid/([\w-]+)", self._put_ds),
            ("GET", r"/api/folders/([\w-]+)", self._get_folder),
            ("POST", r"/api/folders", self._post_folder),
            ("PUT", r"/api/folders/([\w-]+)", self._put_folder),
            ("GET", r"/api/dashboards/uid/([\w-]+)", self._get_dash),
            ("POST", r"/api/dashboards/db", self._post_dash),
            ("GET", r"/api/v1/provisioning/alert-rules/([\w-]+)", self._get_rule),
            ("POST", r"/api/v1/provisioning/alert-rules", self._post_rule),
            ("PUT", r"/api/v1/provisioning/alert-rules/([\w-]+)", self._put_rule),
        ]
        for verb, pattern, action in routes:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                return action(body, *match.groups())  # type: ignore[no-any-return]
        return 404, {"message": f"no route {method} {path}"}

    # Datasources: Grafana never returns the password, only that it has one.
    def _get_ds(self, _body: Any, uid: str) -> tuple[int, Any]:
        if uid not in self.datasources:
            return 404, {"message": "Data source not found"}
        stored = dict(self.datasources[uid])
        secure = stored.pop("secureJsonData", {})
        return 200, {
            **stored,
            "id": 7,
            "orgId": 1,
            "version": 1,
            "readOnly": False,
            "secureJsonFields": dict.fromkeys(secure, True),
        }

    def _post_ds(self, body: Any) -> tuple[int, Any]:
        self.datasources[body["uid"]] = body
        return 200, {"message": "Datasource added", "id": 7, "datasource": body}

    def _put_ds(self, body: Any, uid: str) -> tuple[int, Any]:
        old = self.datasources.get(uid, {})
        self.datasources[uid] = {"secureJsonData": old.get("secureJsonData", {}), **body}
        return 200, {"message": "Datasource updated"}

    def _get_folder(self, _body: Any, uid: str) -> tuple[int, Any]:
        if uid not in self.folders:
            return 404, {"message": "folder not found"}
        return 200, {**self.folders[uid], "id": 3, "version": 1}

    def _post_folder(self, body: Any) -> tuple[int, Any]:
        self.folders[body["uid"]] = body
        return 200, body

    def _put_folder(self, body: Any, uid: str) -> tuple[int, Any]:
        self.folders[uid] = {"uid": uid, "title": body["title"]}
        return 200, self.folders[uid]

    def _get_dash(self, _body: Any, uid: str) -> tuple[int, Any]:
        if uid not in self.dashboards:
            return 404, {"message": "Dashboard not found"}
        stored = self.dashboards[uid]
        return 200, {
            "dashboard": {**stored["dashboard"], "id": 11, "version": 2},
            "meta": {"folderUid": stored["folderUid"], "slug": uid},
        }

    def _post_dash(self, body: Any) -> tuple[int, Any]:
        self.dashboards[body["dashboard"]["uid"]] = body
        return 200, {"status": "success", "uid": body["dashboard"]["uid"], "version": 2}

    def _get_rule(self, _body: Any, uid: str) -> tuple[int, Any]:
        if uid not in self.rules:
            return 404, {"message": "rule not found"}
        return 200, {**self.rules[uid], "id": 5, "orgID": 1, "provenance": "api"}

    def _post_rule(self, body: Any) -> tuple[int, Any]:
        self.rules[body["uid"]] = body
        return 201, body

    def _put_rule(self, body: Any, uid: str) -> tuple[int, Any]:
        self.rules[uid] = body
        return 200, body


def serve(fake: FakeGrafana) -> tuple[ThreadingHTTPServer, str]:
    """Start ``fake`` on a free loopback port; returns the server and its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            fake.requests.append(
                Request(self.command, self.path, self.headers.get("Authorization"), body)
            )
            if fake.mode == "slow":
                fake.release.wait(30)
                return
            if fake.mode == "notjson":
                self._send(200, b"<html>proxy login</html>", "application/json")
                return
            if fake.mode in ("401", "403"):
                status, answer = int(fake.mode), {"message": "Forbidden"}
            elif self.headers.get("Authorization") not in fake.accepted():
                status, answer = 401, {"message": "Unauthorized"}
            else:
                status, answer = fake.handle(self.command, self.path, body)
            self._send(status, json.dumps(answer).encode(), "application/json")

        def _send(self, status: int, data: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
