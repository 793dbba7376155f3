"""Bring Grafana to the state the package describes, through grafana-client (the shell).

Steps of ``provision``, each object read first and written only when it differs:
1. the PostgreSQL datasource (uid ``noisefleet-pg``);
2. the folder;
3. the dashboards, into the folder;
4. the alert rules (Grafana's provisioning API), into the folder.
Each object gives one ``Outcome`` (created, updated, unchanged; "would …" in a dry run). Every
failure of Grafana or of the way to it becomes one ``GrafanaError`` line without the token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import niquests.exceptions
from grafana_client.api import GrafanaApi
from grafana_client.client import (
    GrafanaClientError,
    GrafanaException,
    GrafanaTimeoutError,
    GrafanaUnauthorizedError,
)

from noisefleet_server.grafana.objects import (
    AlertRule,
    Dashboard,
    GrafanaError,
    differs,
)

T = TypeVar("T")
_MESSAGE = "noisefleet-server grafana provision"


@dataclass(frozen=True)
class Plan:
    """What to provision (validated by the CLI)."""

    datasource: dict[str, Any]
    folder_uid: str
    folder_title: str
    dashboards: list[Dashboard]
    alert_rules: list[AlertRule]
    rotate_password: bool = False
    """Send the password even when Grafana already has one (it never shows us which)."""


@dataclass(frozen=True)
class Outcome:
    kind: str
    uid: str
    title: str
    action: str

    def line(self) -> str:
        return f"{self.kind} {self.uid} ({self.title}): {self.action}"


def connect(url: str, token: str | tuple[str, str], timeout_s: float) -> Any:
    """A client for ``url`` with a bearer token or (user, password) (no I/O yet). ``Any``:
    grafana-client's methods are unannotated, so its answers are checked here instead
    (``_object``)."""
    api: Any = GrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    return api


class _Calls:
    """Runs client calls, turning every failure into one line (never with the token)."""

    def __init__(self, url: str, token: str, timeout_s: float) -> None:
        self.url = url
        self.token = token
        self.timeout_s = timeout_s

    def _fail(self, what: str, detail: str) -> GrafanaError:
        text = " ".join(detail.split())
        if self.token:
            text = text.replace(self.token, "***")
        return GrafanaError(f"grafana {self.url}: {what}: {text}")

    def __call__(self, what: str, call: Callable[[], T], *, missing_ok: bool = False) -> T | None:
        try:
            return call()
        except GrafanaUnauthorizedError:
            raise self._fail(what, "401 unauthorized: check the token") from None
        except GrafanaTimeoutError:
            raise self._fail(what, f"no answer within {self.timeout_s:g} s") from None
        except GrafanaClientError as error:
            if error.status_code == 404 and missing_ok:
                return None
            if error.status_code == 403:
                raise self._fail(
                    what, "403 forbidden: the token needs the Admin role (or the RBAC writes)"
                ) from None
            raise self._fail(what, str(error.message)) from None
        except GrafanaException as error:
            raise self._fail(what, str(error.message)) from None
        except niquests.exceptions.Timeout:
            raise self._fail(what, f"no answer within {self.timeout_s:g} s") from None
        except ValueError:  # before RequestException: niquests' JSONDecodeError is both
            raise self._fail(what, "the answer is not JSON (is this Grafana?)") from None
        except niquests.exceptions.RequestException as error:
            raise self._fail(what, f"cannot reach Grafana ({type(error).__name__})") from None


def _object(what: str, answer: Any, calls: _Calls) -> dict[str, Any] | None:
    if answer is None:
        return None
    if not isinstance(answer, dict):
        raise calls._fail(what, f"unexpected answer {type(answer).__name__}, expected an object")
    return answer


def _decide(exists: bool, changed: bool, dry_run: bool) -> str:
    action = "unchanged" if exists and not changed else ("updated" if exists else "created")
    if dry_run and action != "unchanged":
        return "would be " + action
    return action


def provision(
    api: Any, plan: Plan, *, url: str, token: str, timeout_s: float, dry_run: bool
) -> list[Outcome]:
    """Make Grafana match ``plan``; what happened to each object, in order."""
    calls = _Calls(url, token, timeout_s)
    outcomes = [_datasource(api, plan, calls, dry_run), _folder(api, plan, calls, dry_run)]
    outcomes += [_dashboard(api, d, plan.folder_uid, calls, dry_run) for d in plan.dashboards]
    outcomes += [_alert_rule(api, r, calls, dry_run) for r in plan.alert_rules]
    return outcomes


def _datasource(api: Any, plan: Plan, calls: _Calls, dry_run: bool) -> Outcome:
    wanted = plan.datasource
    uid = wanted["uid"]
    what = f"datasource {uid}"
    current = _object(
        what, calls(what, lambda: api.datasource.get_datasource_by_uid(uid), missing_ok=True), calls
    )
    plain = {k: v for k, v in wanted.items() if k != "secureJsonData"}
    changed = current is None or differs(plain, current)
    has_password = True
    if current is not None and "secureJsonData" in wanted:
        has_password = bool((current.get("secureJsonFields") or {}).get("password"))
        changed = changed or plan.rotate_password or not has_password
    action = _decide(current is not None, changed, dry_run)
    if changed and not dry_run:
        if current is None:
            calls(what, lambda: api.datasource.create_datasource(wanted))
        else:
            # Without secureJsonData Grafana keeps the password it has.
            body = wanted if (plan.rotate_password or not has_password) else plain
            calls(what, lambda: api.datasource.update_datasource_by_uid(uid, body))
    return Outcome("datasource", uid, wanted["name"], action)


def _folder(api: Any, plan: Plan, calls: _Calls, dry_run: bool) -> Outcome:
    uid, title = plan.folder_uid, plan.folder_title
    what = f"folder {uid}"
    current = _object(what, calls(what, lambda: api.folder.get_folder(uid), missing_ok=True), calls)
    changed = current is None or current.get("title") != title
    action = _decide(current is not None, changed, dry_run)
    if changed and not dry_run:
        if current is None:
            calls(what, lambda: api.folder.create_folder(title, uid=uid))
        else:
            calls(what, lambda: api.folder.update_folder(uid, title=title, overwrite=True))
    return Outcome("folder", uid, title, action)


def _dashboard(
    api: Any, dashboard: Dashboard, folder_uid: str, calls: _Calls, dry_run: bool
) -> Outcome:
    what = f"dashboard {dashboard.uid}"
    current = _object(
        what,
        calls(what, lambda: api.dashboard.get_dashboard(dashboard.uid), missing_ok=True),
        calls,
    )
    if current is None:
        changed = True
    else:
        meta = current.get("meta")
        meta = meta if isinstance(meta, dict) else {}
        changed = (
            differs(dashboard.body, current.get("dashboard")) or meta.get("folderUid") != folder_uid
        )
    action = _decide(current is not None, changed, dry_run)
    if changed and not dry_run:
        body = {
            "dashboard": dashboard.body,
            "folderUid": folder_uid,
            "overwrite": True,
            "message": _MESSAGE,
        }
        calls(what, lambda: api.dashboard.update_dashboard(body))
    return Outcome("dashboard", dashboard.uid, dashboard.title, action)


def _alert_rule(api: Any, rule: AlertRule, calls: _Calls, dry_run: bool) -> Outcome:
    what = f"alert rule {rule.uid}"
    current = _object(
        what,
        calls(what, lambda: api.alertingprovisioning.get_alertrule(rule.uid), missing_ok=True),
        calls,
    )
    changed = current is None or differs(rule.body, current)
    action = _decide(current is not None, changed, dry_run)
    if changed and not dry_run:
        if current is None:
            calls(what, lambda: api.alertingprovisioning.create_alertrule(rule.body))
        else:
            calls(what, lambda: api.alertingprovisioning.update_alertrule(rule.uid, rule.body))
    return Outcome("alert rule", rule.uid, rule.title, action)
