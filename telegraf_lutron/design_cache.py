"""Getting the design: fetch or read DbXmlInfo.xml, cache it per revision, follow revision changes.

- `DesignSource` reads the export from the processor over HTTP (default
  `http://HOST:80/DbXmlInfo.xml`; streamed to a temporary file, capped at 32 MB; 60 s for the
  whole download, however slowly it trickles; redirects only within the same scheme, host and
  port; `user:password@` in the URL is basic authentication and never shown) or from a local
  file. Every failure is a `DesignError` naming the URL (without credentials) or path and the
  cause on one line. Downloads run in daemon threads whose socket is cut on a stop, so an
  export in flight never delays the plugin's exit.
- `DesignCache(cache_dir)` keeps the raw XML and the parsed model (JSON, never pickle) of the last
  five revisions, written atomically, plus `history.json` for the UI:
  `{"schema": 1, "revisions": [{"revision", "design_version", "key", "stored_at", "project",
  "export", "zones", "keypads", "diff"}, ...]}`, oldest first, where `diff` is the
  `DesignDiff.to_dict()` from the revision before it (or null). A corrupt file is ignored with a
  warning, never fatal.
- `DesignFollower` is what the plugin uses: `await start()` runs on the newest cached design (for
  when the processor is unreachable), `await ensure(revision)` whenever `?SYSTEM,10` reports one.

The XML holds dealer contact data and key material: it is stored with mode 0600 in a 0700
directory and never logged.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import http.client
import json
import logging
import os
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from telegraf_lutron.design import (
    MODEL_SCHEMA,
    Design,
    DesignDiff,
    DesignError,
    design_from_dict,
    design_to_dict,
    diff_designs,
    normalize_revision,
)
from telegraf_lutron.design_xml import MAX_DESIGN_BYTES, parse_design, validate_design
from telegraf_lutron.files import atomic_write, private_dir
from telegraf_lutron.log import one_line, terminal_safe
from telegraf_lutron.urls import DesignURL, URLError, parse_design_url, shown_url

__all__ = [
    "DEFAULT_HTTP_PORT",
    "DEFAULT_TIMEOUT",
    "CacheEntry",
    "DesignCache",
    "DesignError",
    "DesignFollower",
    "DesignSource",
    "DesignUpdate",
    "url_for_host",
]

log = logging.getLogger(__name__)

DEFAULT_HTTP_PORT = 80
DEFAULT_TIMEOUT = 60.0  # a 22-area RA2 export took ~24 s (docs/protocol.md §6.1)
DESIGN_PATH = "/DbXmlInfo.xml"
KEEP_REVISIONS = 5
HISTORY_SCHEMA = 1
_CHUNK = 64 * 1024


def url_for_host(host: str, port: int = DEFAULT_HTTP_PORT) -> str:
    """The processor's export URL: `http://HOST[:PORT]/DbXmlInfo.xml` (IPv6 literals bracketed)."""
    host = host.strip()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    netloc = host if port == DEFAULT_HTTP_PORT else f"{host}:{port}"
    return f"http://{netloc}{DESIGN_PATH}"


def redact_url(url: str) -> str:
    """`url` without user, password or query, for messages (never the raw text of a bad URL)."""
    return shown_url(url)


MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_GRACE = 1.0  # beyond the timeout, for what the deadline cannot cut (a name lookup)

T = TypeVar("T")


class _Download:
    """One download's socket, which the deadline or a stop cuts from another thread: shutting it
    down ends whatever read, write or TLS handshake is blocked on it at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.reason: str | None = None  # "timeout" or "stopped" once cut

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self.reason is None:
                return
        self._shutdown(sock)

    def abort(self, reason: str) -> None:
        with self._lock:
            if self.reason is None:
                self.reason = reason
            sock = self._sock
        if sock is not None:
            self._shutdown(sock)

    @staticmethod
    def _shutdown(sock: socket.socket) -> None:
        # socket.socket's own shutdown, also for an SSLSocket: the TLS layer is not touched.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Connection(http.client.HTTPConnection):
    """HTTP(S) to one origin, its socket handed to the `_Download` before anything is read."""

    def __init__(
        self, url: DesignURL, timeout: float, download: _Download, context: ssl.SSLContext | None
    ) -> None:
        super().__init__(url.host, url.port, timeout=timeout)
        self._download, self._context, self._server = download, context, url.host

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        try:
            self._download.attach(sock)
            if self._context is not None:
                sock = self._context.wrap_socket(
                    sock, server_hostname=self._server, do_handshake_on_connect=False
                )
                self._download.attach(sock)
                sock.do_handshake()
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def _in_daemon_thread(fn: Callable[[], T], name: str) -> concurrent.futures.Future[T]:
    """Run `fn` in a daemon thread: unlike asyncio.to_thread, nothing waits for it at exit, so a
    download in flight never delays stopping (its socket is cut; a name lookup just ends later)."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            result = fn()
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


def _http_cause(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return f"host name not found ({exc.strerror})"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted ({exc.verify_message})"
    if isinstance(exc, http.client.HTTPException):
        return f"connection broken ({type(exc).__name__})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


@dataclass(frozen=True, slots=True)
class DesignSource:
    """Where the design comes from: an HTTP(S) URL or a local file (exactly one).

    A URL's `user:password@` is sent as HTTP basic authentication and never shown. `timeout`
    bounds the whole download (connecting, every redirect, headers and body), however slowly
    the server sends. Redirects are followed only within the same scheme, host and port.
    """

    url: str = ""
    path: str = ""
    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = MAX_DESIGN_BYTES

    def __post_init__(self) -> None:
        if bool(self.url) == bool(self.path):
            raise ValueError("a DesignSource needs exactly one of url and path")

    @property
    def description(self) -> str:
        """The URL (without credentials or query) or path, as every message names it."""
        return redact_url(self.url) if self.url else self.path

    def read(self) -> bytes:
        """The raw export (blocking). Raises DesignError naming the URL or path and the cause."""
        if self.path:
            return self._read_file()
        download = _Download()
        future = _in_daemon_thread(lambda: self._fetch(download), "design-download")
        try:
            return future.result(timeout=self.timeout + _GRACE)
        except concurrent.futures.TimeoutError:
            download.abort("timeout")
            raise DesignError(self._timed_out(answered=False)) from None

    async def aread(self) -> bytes:
        """`read` for an event loop: cancelling it cuts the download at once."""
        if self.path:
            return await asyncio.wrap_future(_in_daemon_thread(self._read_file, "design-read"))
        download = _Download()
        future = _in_daemon_thread(lambda: self._fetch(download), "design-download")
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout + _GRACE)
        except TimeoutError:
            download.abort("timeout")
            raise DesignError(self._timed_out(answered=False)) from None
        except asyncio.CancelledError:
            download.abort("stopped")
            raise

    def parse(self, raw: bytes) -> Design:
        design = parse_design(raw, source=self.description)
        validate_design(design, source=self.description)
        return design

    def load(self) -> tuple[bytes, Design]:
        """The raw export and its parsed, validated design (blocking)."""
        raw = self.read()
        return raw, self.parse(raw)

    async def aload(self) -> tuple[bytes, Design]:
        """`load` for an event loop; cancelling it returns at once (a parse in progress finishes
        in its daemon thread, bounded by the design caps)."""
        raw = await self.aread()
        design = await asyncio.wrap_future(_in_daemon_thread(lambda: self.parse(raw), "design-parse"))
        return raw, design

    def _read_file(self) -> bytes:
        try:
            with open(self.path, "rb") as f:
                data = f.read(self.max_bytes + 1)
        except OSError as exc:
            raise DesignError(f"cannot read the design file {self.path}: {exc.strerror or exc}") from None
        if len(data) > self.max_bytes:
            raise DesignError(
                f"cannot read the design file {self.path}: larger than {self.max_bytes} bytes, "
                "so not a DbXmlInfo.xml export"
            )
        return data

    def _timed_out(self, *, answered: bool) -> str:
        where = self.description
        if not answered:
            return f"cannot fetch the design from {where}: no answer within {self.timeout:g} s"
        return (
            f"cannot fetch the design from {where}: not complete within {self.timeout:g} s; "
            "raise processor.xml_timeout if the processor is slow"
        )

    def _fetch(self, download: _Download) -> bytes:
        """Blocking; the deadline timer cuts the socket when `timeout` is over."""
        try:
            url = parse_design_url(self.url)
        except URLError as exc:
            raise DesignError(f"cannot fetch the design: {exc}") from None
        timer = threading.Timer(self.timeout, download.abort, args=("timeout",))
        timer.daemon = True
        timer.start()
        state = {"answered": False}
        try:
            return self._follow(url, download, state)
        except DesignError:
            raise
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if download.reason == "timeout":
                raise DesignError(self._timed_out(answered=state["answered"])) from None
            if download.reason == "stopped":
                raise DesignError(f"cannot fetch the design from {self.description}: stopped") from None
            if isinstance(exc, TimeoutError):
                raise DesignError(self._timed_out(answered=state["answered"])) from None
            cause = one_line(_http_cause(exc), 300)
            raise DesignError(
                f"cannot fetch the design from {self.description}: {cause}; check the host, port and network"
            ) from None
        finally:
            timer.cancel()

    def _follow(self, url: DesignURL, download: _Download, state: dict[str, bool]) -> bytes:
        where = self.description
        context = ssl.create_default_context() if url.scheme == "https" else None
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"User-Agent": "telegraf-lutron", "Accept-Encoding": "identity"}
            if url.authorization is not None:
                headers["Authorization"] = url.authorization
            # A processor is on the local network: no proxy from the environment in between.
            conn = _Connection(url, self.timeout, download, context)
            response: http.client.HTTPResponse | None = None
            try:
                conn.request("GET", url.target, headers=headers)
                response = conn.getresponse()
                state["answered"] = True
                if response.status in _REDIRECTS:
                    location = response.getheader("Location") or ""
                    try:
                        target = url.resolve(location)
                    except URLError:
                        target = None
                    if target is None or target.origin != url.origin:
                        raise DesignError(
                            f"cannot fetch the design from {where}: it redirects to another host, port "
                            "or scheme, which is not followed; set processor.xml_url to the final "
                            "URL if you trust it"
                        )
                    url = target
                    continue
                if response.status != 200:
                    reason = terminal_safe(one_line(response.reason or "", 100))  # the server's text
                    if response.status != 401:
                        fix = "check the host, port and network"
                    elif url.authorization is None:
                        fix = "the server wants a user name and password: put user:password@ in the URL"
                    else:
                        fix = "the user name or password in the URL is not accepted"
                    raise DesignError(
                        f"cannot fetch the design from {where}: HTTP {response.status} {reason}".rstrip()
                        + f"; {fix}"
                    )
                body = self._body(response, where)
                if download.reason is not None:  # cut while a close-delimited body was read
                    raise OSError(f"download {download.reason}")
                return body
            finally:
                if response is not None:
                    response.close()  # it may own the socket (Connection: close)
                conn.close()
        raise DesignError(
            f"cannot fetch the design from {where}: more than {MAX_REDIRECTS} redirects; check the URL"
        )

    def _body(self, response: http.client.HTTPResponse, where: str) -> bytes:
        announced = response.getheader("Content-Length", "")
        if announced.isdigit() and int(announced) > self.max_bytes:
            raise DesignError(
                f"cannot fetch the design from {where}: it is {announced} bytes, over the "
                f"{self.max_bytes} byte limit; check the URL"
            )
        with tempfile.TemporaryFile() as tmp:
            total = 0
            while chunk := response.read1(_CHUNK):
                total += len(chunk)
                if total > self.max_bytes:
                    raise DesignError(
                        f"cannot fetch the design from {where}: more than {self.max_bytes} bytes, "
                        "stopped reading; check the URL"
                    )
                tmp.write(chunk)
            if response.length:  # the connection closed before Content-Length was reached
                raise http.client.IncompleteRead(b"", response.length)
            tmp.seek(0)
            return tmp.read()


# --- the cache -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One cached revision as history.json lists it."""

    revision: str
    key: str
    design_version: int | None
    stored_at: str
    project: str
    export: str | None
    zones: int
    keypads: int
    diff: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: Any) -> CacheEntry:
        if not isinstance(d, dict):
            raise ValueError("history entry is not an object")
        entry = cls(**{name: d[name] for name in cls.__dataclass_fields__})
        if not isinstance(entry.revision, str) or not isinstance(entry.key, str) or not entry.key.isascii():
            raise ValueError("history entry has a bad revision or key")
        if entry.design_version is not None and not isinstance(entry.design_version, int):
            raise ValueError("history entry has a bad design_version")
        return entry


def cache_key(revision: str) -> str:
    """A file-name-safe key for a revision: `20250516T173422` for the usual form."""
    normal = normalize_revision(revision)
    try:
        return datetime.strptime(normal, "%m/%d/%Y,%H:%M:%S").strftime("%Y%m%dT%H%M%S")
    except ValueError:
        return "rev-" + hashlib.sha256(normal.encode()).hexdigest()[:16]


class DesignCache:
    """Raw XML and parsed model of the last `keep` design revisions under `cache_dir`.

    One process writes (the plugin); any number may read. Methods are blocking: call them through
    asyncio.to_thread from a loop.
    """

    def __init__(self, cache_dir: str | os.PathLike[str], keep: int = KEEP_REVISIONS) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.dir = Path(cache_dir)
        self.designs = self.dir / "designs"
        self.history_path = self.dir / "history.json"
        self.keep = keep

    def _xml_path(self, key: str) -> Path:
        return self.designs / f"{key}.xml"

    def _model_path(self, key: str) -> Path:
        return self.designs / f"{key}.json"

    def entries(self) -> list[CacheEntry]:
        """Cached revisions, oldest first; a missing or corrupt history.json gives [] (with a warning)."""
        try:
            data = json.loads(self.history_path.read_bytes())
            if not isinstance(data, dict) or data.get("schema") != HISTORY_SCHEMA:
                raise ValueError("not a history of schema 1")
            return [CacheEntry.from_dict(e) for e in data["revisions"]]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning(
                "design cache %s is unreadable and is ignored (%s)",
                self.history_path,
                one_line(str(exc), 200),
            )
            return []

    def load(self, revision: str, design_version: int | None = None) -> Design | None:
        """The cached design of `revision`, or None when it is absent or unreadable.

        With both a cached and a requested `design_version`, they must match too.
        """
        revision = normalize_revision(revision)
        key = cache_key(revision)
        entry = next((e for e in self.entries() if e.key == key), None)
        if entry is not None and None not in (design_version, entry.design_version):
            if entry.design_version != design_version:
                return None
        return self._load_key(key)

    def _load_key(self, key: str) -> Design | None:
        model_path = self._model_path(key)
        try:
            data = json.loads(model_path.read_bytes())
            if (
                isinstance(data, dict)
                and isinstance(data.get("schema"), int)
                and data["schema"] < MODEL_SCHEMA
            ):
                # Written by an older version: the cached XML is read again below (no warning).
                log.debug(
                    "design cache %s is of model schema %s: reading its XML", model_path, data["schema"]
                )
            else:
                return design_from_dict(data)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.warning("design cache %s is corrupt and is ignored (%s)", model_path, one_line(str(exc), 200))
        xml_path = self._xml_path(key)
        try:
            raw = xml_path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("design cache %s is unreadable and is ignored (%s)", xml_path, exc.strerror)
            return None
        try:
            design = parse_design(raw, source=str(xml_path))
            validate_design(design, source=str(xml_path))
        except DesignError as exc:
            log.warning("design cache file is ignored: %s", exc)
            return None
        return design

    def load_latest(self) -> tuple[str, Design] | None:
        """(revision, design) of the newest readable cached revision, or None."""
        entries = self.entries()
        for entry in reversed(entries):
            design = self._load_key(entry.key)
            if design is not None:
                return entry.revision, design
        if entries:
            return None
        # No usable history (new or corrupt): the model files are still worth a try, newest first.
        try:
            models = sorted(self.designs.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        except OSError:
            return None
        for path in models:
            design = self._load_key(path.stem)
            if design is not None:
                return design.project.revision, design
        return None

    def store(
        self, revision: str, raw: bytes, design: Design, design_version: int | None = None
    ) -> DesignDiff | None:
        """Cache `raw` and `design` as `revision`; return the difference from the previous revision.

        Files are written atomically, history.json last, so a crash leaves the old state readable.
        Raises OSError when the cache directory is not writable.
        """
        revision = normalize_revision(revision)
        key = cache_key(revision)
        private_dir(self.dir)
        private_dir(self.designs)
        atomic_write(self._xml_path(key), raw)
        model = json.dumps(design_to_dict(design), ensure_ascii=False, separators=(",", ":"))
        atomic_write(self._model_path(key), model.encode())
        entries = [e for e in self.entries() if e.key != key]
        diff: DesignDiff | None = None
        if entries:
            previous = self._load_key(entries[-1].key)
            if previous is not None:
                diff = diff_designs(previous, design)
        export = design.project.export
        entries.append(
            CacheEntry(
                revision=revision,
                key=key,
                design_version=design_version,
                stored_at=datetime.now(UTC).isoformat(timespec="seconds"),
                project=design.project.name,
                export=export.isoformat() if export else None,
                zones=len(design.zones),
                keypads=len(design.keypads),
                diff=diff.to_dict() if diff else None,
            )
        )
        entries = entries[-self.keep :]
        history = {"schema": HISTORY_SCHEMA, "revisions": [e.to_dict() for e in entries]}
        atomic_write(self.history_path, json.dumps(history, ensure_ascii=False, indent=1).encode())
        self._prune({e.key for e in entries})
        return diff

    def _prune(self, keep_keys: set[str]) -> None:
        # Also removes files of revisions dropped from a corrupt history and temp files of a crash.
        for path in self.designs.iterdir():
            stem = path.name.split(".")[0] if not path.name.startswith(".") else ""
            if stem not in keep_keys:
                with contextlib.suppress(OSError):
                    path.unlink()


# --- following the processor's revision -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DesignUpdate:
    """What `DesignFollower.ensure` did."""

    design: Design | None  # the design in use now (None: nothing loaded yet)
    changed: bool  # `design` replaced the one in use before the call
    origin: str  # "current" (kept), "cache", "processor", "stale-cache" or "none"
    diff: DesignDiff | None = None  # from the previous design, when changed and there was one
    error: str | None = None  # why the requested revision could not be loaded (one line)


class DesignFollower:
    """Keeps the design matching the processor's revision; never drops a good design on a failure.

    Blocking work runs in threads (asyncio.to_thread); calls are serialised by a lock, so a second
    `ensure` waits for the first instead of fetching again.
    """

    def __init__(
        self,
        source: DesignSource,
        cache: DesignCache | None = None,
        *,
        retry_interval: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.cache = cache
        # A failed revision is retried at most this often: `?SYSTEM,10` comes every minute and a
        # bad export stays bad until the next one.
        self.retry_interval = retry_interval
        self._clock = clock
        self._current: Design | None = None
        self._revision: str | None = None
        self._design_version: int | None = None
        self._failed: dict[tuple[str, int | None], tuple[float, str]] = {}
        self._lock = asyncio.Lock()

    @property
    def current(self) -> Design | None:
        return self._current

    @property
    def revision(self) -> str | None:
        """The revision `current` was loaded for (as the processor reported it, normalised)."""
        return self._revision

    async def start(self) -> DesignUpdate:
        """Run on the newest cached design, if nothing is loaded yet (no network)."""
        async with self._lock:
            if self._current is not None:
                return DesignUpdate(self._current, False, "current")
            return await self._fall_back_to_cache(None)

    async def ensure(self, revision: str, design_version: int | None = None) -> DesignUpdate:
        """Make `current` the design of `revision` (the `?SYSTEM,10` payload).

        Served from memory or the cache when it matches, else fetched, parsed, validated, cached and
        swapped in. On any failure the design in use stays (or, with none, the newest cached one is
        used) and `error` says why.
        """
        rev = normalize_revision(revision)
        async with self._lock:
            if self._current is not None and self._revision == rev and self._version_matches(design_version):
                return DesignUpdate(self._current, False, "current")
            if self.cache is not None:
                cached = await asyncio.to_thread(self.cache.load, rev, design_version)
                if cached is not None:
                    return self._swap(cached, rev, design_version, "cache")
            failed = self._failed.get((rev, design_version))
            if failed is not None and self._clock() - failed[0] < self.retry_interval:
                return await self._fall_back_to_cache(failed[1])
            try:
                raw, design = await self.source.aload()
            except DesignError as exc:
                message = str(exc)
                self._failed[(rev, design_version)] = (self._clock(), message)
                log.warning("design revision %s not loaded, keeping the design in use: %s", rev, message)
                return await self._fall_back_to_cache(message)
            self._failed.pop((rev, design_version), None)
            if normalize_revision(design.project.revision) != rev:
                log.warning(
                    "design from %s is revision %s but the processor reports %s; using it for %s",
                    self.source.description,
                    design.project.revision,
                    rev,
                    rev,
                )
            if self.cache is not None:
                try:
                    await asyncio.to_thread(self.cache.store, rev, raw, design, design_version)
                except OSError as exc:
                    log.warning(
                        "design cache %s not written (%s); carrying on", self.cache.dir, exc.strerror or exc
                    )
            return self._swap(design, rev, design_version, "processor")

    def _version_matches(self, design_version: int | None) -> bool:
        return design_version is None or self._design_version in (None, design_version)

    def _swap(self, design: Design, rev: str, design_version: int | None, origin: str) -> DesignUpdate:
        old = self._current
        diff = diff_designs(old, design) if old is not None else None
        self._current, self._revision, self._design_version = design, rev, design_version
        log.info(
            "design revision %s in use (from %s): %d zones, %d keypads%s",
            rev,
            origin,
            len(design.zones),
            len(design.keypads),
            f"; {diff.summary()}" if diff is not None else "",
        )
        return DesignUpdate(design, True, origin, diff)

    async def _fall_back_to_cache(self, error: str | None) -> DesignUpdate:
        if self._current is not None:
            return DesignUpdate(self._current, False, "current", error=error)
        latest = await asyncio.to_thread(self.cache.load_latest) if self.cache is not None else None
        if latest is None:
            return DesignUpdate(None, False, "none", error=error)
        revision, design = latest
        update = self._swap(design, normalize_revision(revision), None, "stale-cache")
        return DesignUpdate(update.design, True, "stale-cache", None, error)
