"""Telegraf's agent loop and its outputs.prometheus_client (`metric_version = 2`), emulated for tests.

Behaviour follows docs/telegraf.md §2 and the options of the shipped `telegraf.conf.example`:
- names are `<measurement>_<field>` (legacy sanitizing: invalid characters become `_`), every tag is
  a label; booleans are 1/0, integers become floats, string fields are dropped
  (`string_as_label = false`) or become labels;
- `metric_types`: globs on the final name, gauge wins where both match, else `untyped`;
- `namepass`/`namedrop` (measurement globs) and `fieldinclude`/`fieldexclude` (field globs) of the
  output select what reaches it;
- /metrics changes only on flushes; a point older than the stored one is ignored; a series expires
  `expiration_interval` after the flush that last wrote it, not after its timestamp;
- the text exposition format with `# HELP`/`# TYPE`, families sorted by name.

`TelegrafAgent` ticks the execd emulators every `interval` (aligned, as `round_interval = true`) and
flushes what they produced every `flush_interval` (half a flush after the ticks). The exposition is served over HTTP on 127.0.0.1.
Small on purpose: only what the dashboard test needs. The product never uses it.
"""

from __future__ import annotations

import re
import threading
import time
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from execd_emulator import ExecdEmulator

from telegraf_lutron.lineproto_parse import Metric

_INVALID_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]")


def go_duration_seconds(text: str) -> float:
    """Telegraf's config durations as used here: `60s`, `10s`, `500ms`, `1m`, `1h`."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    total = 0.0
    for number, unit in re.findall(r"([0-9.]+)(ms|s|m|h)", text):
        total += float(number) * units[unit]
    return total


@dataclass(frozen=True)
class PrometheusClientConfig:
    metric_types: dict[str, list[str]]
    expiration: float = 60.0
    string_as_label: bool = True
    namepass: tuple[str, ...] = ()
    namedrop: tuple[str, ...] = ()
    fieldinclude: tuple[str, ...] = ()
    fieldexclude: tuple[str, ...] = ()

    @classmethod
    def from_telegraf_conf(cls, path: Path) -> PrometheusClientConfig:
        """The (single) `[[outputs.prometheus_client]]` of a Telegraf configuration file."""
        (out,) = tomllib.loads(path.read_text())["outputs"]["prometheus_client"]
        if out.get("metric_version") != 2:
            raise ValueError("the emulation covers metric_version = 2 only")
        return cls(
            metric_types={k: list(v) for k, v in out.get("metric_types", {}).items()},
            expiration=go_duration_seconds(out.get("expiration_interval", "60s")),
            string_as_label=out.get("string_as_label", True),
            namepass=tuple(out.get("namepass", ())),
            namedrop=tuple(out.get("namedrop", ())),
            fieldinclude=tuple(out.get("fieldinclude", out.get("fieldpass", ()))),
            fieldexclude=tuple(out.get("fieldexclude", out.get("fielddrop", ()))),
        )

    def accepts(self, measurement: str) -> bool:
        if self.namepass and not any(fnmatchcase(measurement, g) for g in self.namepass):
            return False
        return not any(fnmatchcase(measurement, g) for g in self.namedrop)

    def accepts_field(self, key: str) -> bool:
        if self.fieldinclude and not any(fnmatchcase(key, g) for g in self.fieldinclude):
            return False
        return not any(fnmatchcase(key, g) for g in self.fieldexclude)

    def type_of(self, name: str) -> str:
        if any(fnmatchcase(name, g) for g in self.metric_types.get("gauge", [])):
            return "gauge"
        if any(fnmatchcase(name, g) for g in self.metric_types.get("counter", [])):
            return "counter"
        return "untyped"


def sanitize_name(name: str) -> str:
    """Legacy sanitizing: invalid characters become `_`, an invalid first character is dropped,
    leading and trailing `_` are trimmed."""
    name = _INVALID_NAME.sub("_", name)
    if name and name[0].isdigit():
        name = name[1:]
    return name.strip("_")


def sanitize_label(name: str) -> str:
    name = _INVALID_LABEL.sub("_", name)
    if name and name[0].isdigit():
        name = name[1:]
    return name.strip("_")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


@dataclass
class _Sample:
    value: float
    time_ns: int
    expires: float


@dataclass
class Exposition:
    """The series outputs.prometheus_client holds, and the text it serves on /metrics."""

    config: PrometheusClientConfig
    _series: dict[str, dict[tuple[tuple[str, str], ...], _Sample]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def flush(self, metrics: Iterable[tuple[Metric, int]], now: float | None = None) -> None:
        """Write one flush: (metric, time it was received in ns, used when it has no timestamp)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for metric, received_ns in metrics:
                if not self.config.accepts(metric.name):
                    continue
                labels = {sanitize_label(k): v for k, v in metric.tags.items()}
                values: dict[str, float] = {}
                for key, value in metric.fields.items():
                    if not self.config.accepts_field(key):
                        continue
                    if isinstance(value, str):
                        if self.config.string_as_label:
                            labels.setdefault(sanitize_label(key), value)  # a tag of the same name wins
                        continue
                    values[key] = float(value)  # bool: 1.0 / 0.0
                key_labels = tuple(sorted((k, v) for k, v in labels.items() if k))
                stamp = metric.ts if metric.ts is not None else received_ns
                for key, value in values.items():
                    name = sanitize_name(f"{metric.name}_{key}")
                    if not name:
                        continue
                    family = self._series.setdefault(name, {})
                    old = family.get(key_labels)
                    if old is not None and old.time_ns > stamp:
                        continue  # an older point than the stored one is ignored
                    family[key_labels] = _Sample(value, stamp, now + self.config.expiration)

    def text(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        out: list[str] = []
        with self._lock:
            for name in sorted(self._series):
                family = self._series[name]
                for key in [k for k, s in family.items() if s.expires <= now]:
                    del family[key]
                if not family:
                    continue
                out.append(f"# HELP {name} Telegraf collected metric\n")
                out.append(f"# TYPE {name} {self.config.type_of(name)}\n")
                for labels in sorted(family):
                    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                    out.append(f"{name}{{{inner}}} {_number(family[labels].value)}\n")
        return "".join(out)


class ExpositionServer:
    """`GET /metrics` on 127.0.0.1 (a free port), in a thread."""

    def __init__(self, exposition: Exposition) -> None:
        self.exposition = exposition
        handler = self._handler()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        exposition = self.exposition

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # the http.server API
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = exposition.text().encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> ExpositionServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class TelegrafAgent:
    """Ticks the execd emulators every `interval` (aligned to it, as `round_interval = true`) and
    flushes what they produced to `exposition` every `flush_interval`, in a thread."""

    def __init__(
        self,
        inputs: Sequence[ExecdEmulator],
        exposition: Exposition,
        *,
        interval: float,
        flush_interval: float,
    ) -> None:
        self.inputs = list(inputs)
        self.exposition = exposition
        self.interval = interval
        self.flush_interval = flush_interval
        self._taken = [0] * len(self.inputs)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="telegraf-agent", daemon=True)

    def start(self) -> TelegrafAgent:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def flush(self) -> None:
        batch: list[tuple[Metric, int]] = []
        offset = time.time_ns() - time.monotonic_ns()  # received_ns from the emulator's monotonic clock
        for i, emu in enumerate(self.inputs):
            received = emu.metrics[self._taken[i] :]
            self._taken[i] += len(received)
            batch += [(r.metric, int(r.arrived * 1e9) + offset) for r in received]
        self.exposition.flush(batch)

    def _run(self) -> None:
        next_tick = (time.time() // self.interval + 1) * self.interval  # the first tick, not at start
        # The flush ticker is not aligned to the interval: half a flush after the ticks, so a tick's
        # lines never straddle a flush.
        next_flush = next_tick + self.flush_interval / 2
        while not self._stop.is_set():
            now = time.time()
            if now >= next_tick:
                for emu in self.inputs:
                    emu.tick()
                next_tick += self.interval * max(1, int((now - next_tick) // self.interval) + 1)
            if now >= next_flush:
                self.flush()
                next_flush += self.flush_interval
            self._stop.wait(max(0.0, min(next_tick, next_flush) - time.time()))
