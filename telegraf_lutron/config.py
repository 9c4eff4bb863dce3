"""The plugin's TOML configuration: read, validate, and explain every mistake in one line.

Secrets: the password comes from `password`, `password_file`, or the environment variable
LUTRON_PASSWORD (which wins). It is never logged or printed; `repr` hides it. So is the
`user:password@` an `xml_url` may carry (sent as HTTP basic authentication).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from telegraf_lutron.design import FAN_SPEED_STEPS, KINDS
from telegraf_lutron.errors import TelegrafLutronError
from telegraf_lutron.processor_settings import ProcessorSettings
from telegraf_lutron.urls import URLError, parse_design_url
from telegraf_lutron.wattage import ZoneOverride

SIGNALS = ("STDIN", "none", "SIGHUP", "SIGUSR1", "SIGUSR2")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class ConfigError(TelegrafLutronError):
    """A configuration mistake, described in one line that names the key and what is allowed."""


@dataclass
class PluginConfig:
    cache_dir: Path = Path("/var/lib/telegraf-lutron")
    site: str = "home"
    signal: str = "STDIN"
    interval: float = 10.0  # own interval in signal = "none" mode
    emit_on_change: bool = False  # signal = "none": also write each change as it happens
    resync_interval: float = 900.0
    checkpoint_interval: float = 900.0  # PostgreSQL change rows: checkpoint cadence (changes.py)
    log_level: str = "info"


@dataclass(frozen=True, slots=True)
class SysvarConfig:
    """A `[[sysvar]]`: system variable ids are not in the design, so the owner names them."""

    id: int
    name: str
    states: tuple[str, ...] = ()  # names of states 1, 2, 3, ... (optional)

    def state_name(self, state: int) -> str:
        return self.states[state - 1] if 1 <= state <= len(self.states) else ""


@dataclass
class Config:
    processor: ProcessorSettings
    plugin: PluginConfig
    path: Path | None = None
    sysvars: tuple[SysvarConfig, ...] = ()
    password_file: Path | None = None  # where the password was read from, if a file
    password_in_config: bool = False  # the TOML itself holds a password (or xml_url credentials)
    zones: tuple[ZoneOverride, ...] = ()  # [[zone]] entries, in file order


def _duration(key: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ConfigError(f'{key}: expected a duration like 10, "10s", "15m", got {value!r}')
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION_RE.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ConfigError(f'{key}: expected a duration like 10, "10s", "15m", got {value!r}')
    if not seconds > 0:
        raise ConfigError(f"{key}: must be more than 0, got {value!r}")
    return seconds


def _port(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ConfigError(f"{key}: expected a port number 1-65535, got {value!r}")
    return value


def _text(key: str, value: Any, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise ConfigError(f"{key}: expected a non-empty string, got {type(value).__name__}")
    if any(c in value for c in "\r\n\x00"):
        raise ConfigError(f"{key}: must not contain line breaks or NUL characters")
    return value


# The [processor] keys are the settings' own names, and password_file.
_PROCESSOR_KEYS = {f.name for f in fields(ProcessorSettings)} | {"password_file"}
_PLUGIN_KEYS = {
    "cache_dir",
    "site",
    "signal",
    "interval",
    "emit_on_change",
    "resync_interval",
    "checkpoint_interval",
    "log_level",
}


_ZONE_KEYS = {"id", "name", "watts", "kind", "speed_watts"}


def _watts_value(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e7:
        raise ConfigError(f"{where}: expected a number of watts, 0 or more, got {value!r}")
    return float(value)


def _zone_overrides(entries: Any) -> tuple[ZoneOverride, ...]:
    """The `[[zone]]` entries (wattage and kind overrides), validated, in file order."""
    if not isinstance(entries, list):
        raise ConfigError("zone must be written as [[zone]] tables (an array of tables)")
    out = []
    for number, entry in enumerate(entries, start=1):
        where = f"[[zone]] #{number}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a table")
        for key in entry:
            if key not in _ZONE_KEYS:
                raise ConfigError(f"unknown key {key} in {where}; allowed: {', '.join(sorted(_ZONE_KEYS))}")
        if ("id" in entry) == ("name" in entry):
            raise ConfigError(
                f'{where}: give exactly one of id (an Integration ID) or name (a glob like "Kitchen/Pendant*")'
            )
        zone_id = name = None
        if "id" in entry:
            zone_id = entry["id"]
            if isinstance(zone_id, bool) or not isinstance(zone_id, int) or zone_id < 1:
                raise ConfigError(
                    f"{where}: id: expected an Integration ID (a whole number, 1 or more), got {zone_id!r}"
                )
        else:
            name = _text(f"{where}: name", entry["name"])
        watts = _watts_value(f"{where}: watts", entry["watts"]) if "watts" in entry else None
        kind = entry.get("kind")
        if kind is not None and kind not in KINDS:
            raise ConfigError(f"{where}: kind: expected one of {', '.join(KINDS)}, got {kind!r}")
        speeds = None
        if "speed_watts" in entry:
            raw = entry["speed_watts"]
            if not isinstance(raw, list) or len(raw) != len(FAN_SPEED_STEPS):
                raise ConfigError(
                    f"{where}: speed_watts: expected {len(FAN_SPEED_STEPS)} numbers (watts at off, low, "
                    f"medium, medium-high, high), got {raw!r}"
                )
            speeds = tuple(_watts_value(f"{where}: speed_watts", w) for w in raw)
            if kind not in (None, "fan"):
                raise ConfigError(f'{where}: speed_watts is for fans; remove it or set kind = "fan"')
        if watts is None and kind is None and speeds is None:
            raise ConfigError(f"{where} sets nothing: add watts, kind or speed_watts")
        out.append(ZoneOverride(number, zone_id, name, watts, kind, speeds))
    return tuple(out)


def _check_keys(section: str, table: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"[{section}] must be a table")
    for key in table:
        if key not in allowed:
            raise ConfigError(f"unknown key {section}.{key}; allowed: {', '.join(sorted(allowed))}")
    return table


def parse_config(
    doc: dict[str, Any], *, env: dict[str, str] | None = None, base: Path | None = None
) -> Config:
    """Validate a parsed TOML document into a Config (raises ConfigError)."""
    env = dict(os.environ) if env is None else env
    for key in doc:
        if key not in ("processor", "plugin", "sysvar", "zone"):
            raise ConfigError(
                f"unknown section or key {key!r}; allowed: [processor], [plugin], [[sysvar]], [[zone]]"
            )
    proc = _check_keys("processor", doc.get("processor", {}), _PROCESSOR_KEYS)
    plug = _check_keys("plugin", doc.get("plugin", {}), _PLUGIN_KEYS)

    pc = ProcessorSettings()
    if "host" not in proc:
        raise ConfigError("processor.host is required: the processor's IP address or host name")
    pc.host = _text("processor.host", proc["host"])
    pc.telnet_port = _port("processor.telnet_port", proc.get("telnet_port", pc.telnet_port))
    pc.http_port = _port("processor.http_port", proc.get("http_port", pc.http_port))
    pc.username = _text("processor.username", proc.get("username", pc.username))
    if "password" in proc and "password_file" in proc:
        raise ConfigError("processor.password and processor.password_file: set only one of them")
    password_file: Path | None = None
    if "password" in proc:
        pc.password = _text("processor.password", proc["password"], allow_empty=True)
    if "password_file" in proc:
        path = Path(_text("processor.password_file", proc["password_file"]))
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            pc.password = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ConfigError(f"processor.password_file: cannot read {path}: {exc.strerror}") from None
        _text("processor.password_file (its content)", pc.password, allow_empty=True)
        password_file = path
    if "LUTRON_PASSWORD" in env:
        pc.password = _text("LUTRON_PASSWORD (environment)", env["LUTRON_PASSWORD"], allow_empty=True)
    in_config = bool(proc.get("password"))
    if "xml_url" in proc:
        pc.xml_url = _text("processor.xml_url", proc["xml_url"])
        try:
            url = parse_design_url(pc.xml_url)  # user:password@ is basic authentication, never shown
        except URLError as exc:
            raise ConfigError(
                f"processor.xml_url: {exc} (the URL is not shown: it may hold a password)"
            ) from None
        in_config = in_config or url.authorization is not None
    for key in (
        "connect_timeout",
        "login_timeout",
        "query_timeout",
        "keepalive_interval",
        "keepalive_timeout",
        "xml_timeout",
    ):
        if key in proc:
            setattr(pc, key, _duration(f"processor.{key}", proc[key]))
    if "window" in proc:
        w = proc["window"]
        if isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= 64:
            raise ConfigError(f"processor.window: expected an integer 1-64, got {w!r}")
        pc.window = w

    gc = PluginConfig()
    if "cache_dir" in plug:
        path = Path(_text("plugin.cache_dir", plug["cache_dir"]))
        gc.cache_dir = base / path if base is not None and not path.is_absolute() else path
    if "site" in plug:
        gc.site = _text("plugin.site", plug["site"])
    if "signal" in plug:
        if plug["signal"] not in SIGNALS:
            raise ConfigError(f"plugin.signal: expected one of {', '.join(SIGNALS)}, got {plug['signal']!r}")
        gc.signal = plug["signal"]
    for key in ("interval", "resync_interval"):
        if key in plug:
            setattr(gc, key, _duration(f"plugin.{key}", plug[key]))
    if "checkpoint_interval" in plug:
        every = _duration("plugin.checkpoint_interval", plug["checkpoint_interval"])
        if not 60 <= every <= 3600 or every % 60:
            raise ConfigError(
                f"plugin.checkpoint_interval: expected whole minutes from 60 to 3600 seconds, got {every:g}"
            )
        gc.checkpoint_interval = every
    if "emit_on_change" in plug:
        if not isinstance(plug["emit_on_change"], bool):
            raise ConfigError(
                f"plugin.emit_on_change: expected true or false, got {plug['emit_on_change']!r}"
            )
        gc.emit_on_change = plug["emit_on_change"]
    if "log_level" in plug:
        level = plug["log_level"]
        if level not in ("debug", "info", "warning", "error"):
            raise ConfigError(f"plugin.log_level: expected debug, info, warning or error, got {level!r}")
        gc.log_level = level
    return Config(
        pc,
        gc,
        sysvars=_sysvars(doc.get("sysvar", [])),
        password_file=password_file,
        password_in_config=in_config,
        zones=_zone_overrides(doc.get("zone", [])),
    )


_SYSVAR_KEYS = {"id", "name", "states"}


def _sysvars(tables: Any) -> tuple[SysvarConfig, ...]:
    if not isinstance(tables, list):
        raise ConfigError('sysvar: write each system variable as [[sysvar]] with id = 5 and name = "Away"')
    out: list[SysvarConfig] = []
    for n, table in enumerate(tables, start=1):
        where = f"sysvar #{n}"
        _check_keys(where, table, _SYSVAR_KEYS)
        sid = table.get("id")
        if isinstance(sid, bool) or not isinstance(sid, int) or not 1 <= sid <= 65535:
            raise ConfigError(f"{where}.id: expected the variable's integration id (1-65535), got {sid!r}")
        if any(s.id == sid for s in out):
            raise ConfigError(f"{where}.id: system variable {sid} is listed twice")
        name = _text(f"{where}.name", table.get("name", f"sysvar {sid}"))
        states = table.get("states", [])
        if not isinstance(states, list) or not all(isinstance(x, str) for x in states):
            raise ConfigError(
                f'{where}.states: expected a list of names like ["Home", "Away"], got {states!r}'
            )
        out.append(SysvarConfig(sid, name, tuple(_text(f"{where}.states", x) for x in states)))
    return tuple(out)


def load_config(path: str | Path, *, env: dict[str, str] | None = None) -> Config:
    """Read and validate a TOML file (raises ConfigError with a one-line message)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror}") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    config = parse_config(doc, env=env, base=path.resolve().parent)
    config.path = path
    return config
