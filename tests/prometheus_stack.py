"""Debian's real `prometheus` for tests, and the queries Grafana sends it for a dashboard panel.

`PrometheusServer` runs the binary with a temporary copy of the shipped prometheus.yml and rules:
only the scrape target, the scrape and evaluation intervals and (optionally) the alerts' `for`
durations are rewritten; storage is a temporary directory, the API listens on 127.0.0.1.

`grafana_request()` turns a dashboard target into the request Grafana's Prometheus data source
(pkg/promlib, Grafana 10-12) sends, so a test evaluates exactly what a browser would show:
- the panel's interval: the frontend's `intervalMs` is the time range / max data points (the panel's
  `maxDataPoints`, else its width in pixels), rounded like Grafana rounds intervals, and at least the
  panel's min interval or the data source's `timeInterval`; the backend's step is that (or the
  target's own `interval`), at least range / 11000;
- built-in variables: `$__interval`, `$__interval_ms`, `$__range`, `$__range_s`, `$__range_ms`,
  `$__rate_interval` (max(interval + scrape interval, 4 x scrape interval)), and the dashboard's own
  variables (their "All" value);
- a range query's start and end are rounded down to a multiple of the step (UTC); an instant query
  runs at the end of the time range, unaligned.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DASHBOARD_WIDTH_PX = 1920  # a 1920-pixel screen: 24 grid columns of 80 px
SAFE_RESOLUTION = 11000


# --- Prometheus ------------------------------------------------------------------------------------


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


def shorten_for(duration: str, factor: float) -> str:
    """A `for:` duration (`15m`, `30s`, `1h`) times `factor`, in whole seconds (at least 1 s)."""
    seconds = sum(
        float(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[u]
        for n, u in re.findall(r"(\d+)(ms|s|m|h|d)", duration)
    )
    return f"{max(1, round(seconds * factor))}s"


class PrometheusServer:
    """The shipped config and rules with only the target, the intervals and `for` rewritten."""

    def __init__(
        self,
        config: Path,
        workdir: Path,
        target: str,
        *,
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
        for_factor: float = 1.0,
        port: int,
    ) -> None:
        self.workdir = workdir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        doc = yaml.safe_load(config.read_text())
        doc["global"]["scrape_interval"] = scrape_interval
        doc["global"]["scrape_timeout"] = scrape_interval
        doc["global"]["evaluation_interval"] = evaluation_interval
        (job,) = doc["scrape_configs"]
        job["static_configs"] = [{"targets": [target]}]
        workdir.mkdir(parents=True, exist_ok=True)
        self.rules: list[dict[str, Any]] = []
        for name in doc.get("rule_files", []):
            rules = yaml.safe_load((config.parent / name).read_text())
            for group in rules["groups"]:
                for rule in group["rules"]:
                    if "for" in rule:
                        rule["for"] = shorten_for(rule["for"], for_factor)
                    self.rules.append(rule)
            (workdir / name).write_text(yaml.safe_dump(rules, sort_keys=False))
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = workdir / "prometheus.log"

    def start(self, timeout: float = 60.0) -> PrometheusServer:
        binary = prometheus_binary()
        assert binary is not None
        argv = [
            binary,
            f"--config.file={self.workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--log.level=warn",
        ]
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self._log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"prometheus not ready: {self._log.read_text()[-2000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)
        self._proc = None

    def log_text(self) -> str:
        return self._log.read_text(errors="replace")

    def api(self, path: str, **params: str | float) -> Any:
        query = urllib.parse.urlencode({k: str(v) for k, v in params.items()})
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=30) as r:
            doc = json.loads(r.read())
        assert doc["status"] == "success", doc
        return doc["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        data = self.api("query", query=expr, time=at if at is not None else time.time())
        result: list[dict[str, Any]] = data["result"] if data["resultType"] == "vector" else [data]
        return result

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api("query_range", query=expr, start=start, end=end, step=step)[
            "result"
        ]
        return result

    def label_values(self, label: str, match: str, start: float, end: float) -> list[str]:
        params: dict[str, str | float] = {"match[]": match, "start": start, "end": end}
        values: list[str] = self.api(f"label/{label}/values", **params)
        return values

    def rule_groups(self) -> list[dict[str, Any]]:
        groups: list[dict[str, Any]] = self.api("rules")["groups"]
        return groups

    def alerts(self) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = self.api("alerts")["alerts"]
        return alerts


# --- Grafana ---------------------------------------------------------------------------------------

_ROUND_STEPS_MS = (  # (below this many ms, round to this many ms): Grafana's gtime.RoundInterval
    (15, 10),
    (35, 20),
    (75, 50),
    (150, 100),
    (350, 200),
    (750, 500),
    (1500, 1000),
    (3500, 2000),
    (7500, 5000),
    (12500, 10000),
    (17500, 15000),
    (25000, 20000),
    (45000, 30000),
    (90000, 60000),
    (210000, 120000),
    (450000, 300000),
    (750000, 600000),
    (1050000, 900000),
    (1500000, 1200000),
    (2700000, 1800000),
    (5400000, 3600000),
    (9000000, 7200000),
    (16200000, 10800000),
    (32400000, 21600000),
    (86400000, 43200000),
    (604800000, 86400000),
    (1814400000, 604800000),
    (3628800000, 2592000000),
)


def round_interval(ms: float) -> float:
    for below, rounded in _ROUND_STEPS_MS:
        if ms < below:
            return rounded
    return 31536000000


def parse_interval(text: str) -> float:
    """Grafana's interval strings (`10s`, `1m`, `1h`, `>1m`, `15`) in milliseconds."""
    text = text.strip().lstrip("<>")
    if text.isdigit():
        return float(text) * 1000
    units = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000, "w": 604800000}
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d|w)", text)
    if m is None:
        raise ValueError(f"cannot read the interval {text!r}")
    return float(m.group(1)) * units[m.group(2)]


def format_interval(ms: float) -> str:
    """gtime.FormatInterval: the largest whole unit (`1m`, `2h`, `10s`)."""
    for unit, size in (("y", 31536000000), ("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000)):
        if ms >= size:
            return f"{int(ms // size)}{unit}"
    return f"{max(1, int(ms))}ms"


def go_duration(ms: float) -> str:
    """Go's time.Duration.String() for whole seconds: `40s`, `2m10s`, `1h0m0s`."""
    seconds = int(ms // 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


@dataclass(frozen=True)
class GrafanaRequest:
    """What Grafana asks Prometheus for one target: an instant query at `end`, or a range query."""

    panel: str
    ref: str
    expr: str
    instant: bool
    start: float
    end: float
    step: float  # seconds

    @property
    def label(self) -> str:
        return f"{self.panel} [{self.ref}]"


def panel_width_px(panel: dict[str, Any]) -> int:
    return int(panel["gridPos"]["w"] * DASHBOARD_WIDTH_PX / 24) - 16  # panel padding


def grafana_request(
    panel: dict[str, Any],
    target: dict[str, Any],
    *,
    time_from: float,
    time_to: float,
    datasource_interval: str,
    variables: dict[str, str],
) -> GrafanaRequest:
    range_ms = (time_to - time_from) * 1000
    max_points = int(panel.get("maxDataPoints") or panel_width_px(panel))
    low_limit = parse_interval(panel.get("interval") or datasource_interval)
    interval_ms = max(round_interval(range_ms / max_points), low_limit)  # the frontend's intervalMs
    own = target.get("interval", "")
    min_interval = parse_interval(own) if own and not own.startswith("$") and own != "0s" else interval_ms
    calculated = range_ms / max_points
    calculated = min_interval if calculated < min_interval else round_interval(calculated)
    step_ms = max(calculated, round_interval(range_ms / SAFE_RESOLUTION))
    scrape_ms = parse_interval(own if own and not own.startswith("$") else datasource_interval)
    rate_ms = max(interval_ms + scrape_ms, 4 * scrape_ms)
    range_s = round(range_ms / 1000)
    expr = target["expr"]
    builtins = {
        "__interval_ms": str(int(step_ms)),
        "__interval": format_interval(step_ms),
        "__range_ms": str(int(range_ms)),
        "__range_s": str(range_s),
        "__range": f"{range_s}s",
        "__rate_interval": go_duration(rate_ms),
    }
    known = {**builtins, **variables}

    def substitute(m: re.Match[str]) -> str:  # like Grafana: an unknown name (`$1`) stays as it is
        name = m.group(1) or m.group(2)
        return known.get(name, m.group(0))

    expr = re.sub(r"\$\{(\w+)\}|\$(\w+)", substitute, expr)
    if re.search(r"\$\{?[A-Za-z_]", expr):
        raise ValueError(f"{panel['title']}: unknown variable in {expr}")
    step = step_ms / 1000
    instant = bool(target.get("instant")) and not target.get("range")
    if instant:
        return GrafanaRequest(panel["title"], target["refId"], expr, True, time_to, time_to, step)
    start = math.floor(time_from / step) * step
    end = math.floor(time_to / step) * step
    return GrafanaRequest(panel["title"], target["refId"], expr, False, start, end, step)
