"""Fetching, caching and following the design: real HTTP on 127.0.0.1, real files, no mocks."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import socket
import stat
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from free_ports import free_port

from telegraf_lutron.design import Design, DesignError, Zone
from telegraf_lutron.design_cache import (
    DesignCache,
    DesignFollower,
    DesignSource,
    cache_key,
    redact_url,
    url_for_host,
)
from telegraf_lutron.design_xml import MAX_DESIGN_BYTES
from telegraf_lutron.files import atomic_write
from telegraf_lutron.simulator.designgen import GeneratorParams, design_to_xml, generate_design

MB = 1024 * 1024

# --- a processor's web server ----------------------------------------------------------------------

Route = Callable[[BaseHTTPRequestHandler], None]


class Processor:
    """An HTTP server on 127.0.0.1 serving `routes[path]`; counts requests and bytes sent."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests = 0
        self.sent = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10  # a stuck client cannot keep the server thread forever

            def do_GET(self) -> None:
                outer.requests += 1
                route = outer.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                try:
                    route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should on oversized answers

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str = "/DbXmlInfo.xml") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, body: bytes, path: str = "/DbXmlInfo.xml") -> None:
        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Type", "text/xml")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            self.sent += len(body)

        self.routes[path] = route

    def stream(self, total: int, path: str, announce: bool) -> None:
        """`total` bytes of an endless-looking XML document, written in 1 MB pieces."""

        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            if announce:
                h.send_header("Content-Length", str(total))
            h.send_header("Connection", "close")
            h.end_headers()
            piece = b"<Area>" + b" " * (MB - 13) + b"</Area>"
            h.wfile.write(b"<?xml version='1.0'?><Project><Areas>")
            while self.sent < total:
                h.wfile.write(piece)
                self.sent += len(piece)

        self.routes[path] = route

    def trickle(self, path: str = "/DbXmlInfo.xml", *, headers_too: bool = False) -> None:
        """A server sending one byte every 50 ms (for at most 10 s), headers included if asked."""

        def route(h: BaseHTTPRequestHandler) -> None:
            head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"
            data = head + b"<?xml version='1.0'?><Project>" + b" " * 999_970 + b"</Project>"
            if not headers_too:
                h.wfile.write(head)
                data = data[len(head) :]
            deadline = time.monotonic() + 10.0
            try:
                for i in range(len(data)):
                    if time.monotonic() > deadline:
                        return
                    h.wfile.write(data[i : i + 1])
                    h.wfile.flush()
                    time.sleep(0.05)
            finally:
                self.trickle_ended.set()

        self.trickle_ended = threading.Event()
        self.routes[path] = route

    def redirect(self, location: str, path: str = "/old.xml") -> None:
        def route(h: BaseHTTPRequestHandler) -> None:
            h.send_response(302)
            h.send_header("Location", location)
            h.send_header("Content-Length", "0")
            h.end_headers()

        self.routes[path] = route


@pytest.fixture
def processor() -> Iterator[Processor]:
    p = Processor()
    p.thread.start()
    yield p
    p.server.shutdown()
    p.server.server_close()
    p.thread.join(5)


@pytest.fixture
def refused_url() -> str:
    return f"http://127.0.0.1:{free_port()}/DbXmlInfo.xml"  # nothing listens there


def house(seed: int = 1, **kw: object) -> tuple[Design, bytes]:
    params = GeneratorParams(seed=seed, **kw)  # type: ignore[arg-type]
    design = generate_design(params)
    return design, design_to_xml(design, params)


def at(design: Design, time: str) -> Design:
    """`design` as exported at another time (another revision)."""
    return replace(design, project=replace(design.project, export_time=time))


# --- sources ---------------------------------------------------------------------------------------


def test_url_for_host() -> None:
    assert url_for_host("10.0.0.5") == "http://10.0.0.5/DbXmlInfo.xml"
    assert url_for_host("proc.lan", 8080) == "http://proc.lan:8080/DbXmlInfo.xml"
    assert url_for_host("fe80::1") == "http://[fe80::1]/DbXmlInfo.xml"


def test_credentials_never_appear_in_messages(refused_url: str) -> None:
    url = refused_url.replace("127.0.0.1", "admin:s3cret@127.0.0.1")
    assert redact_url(url) == refused_url
    with pytest.raises(DesignError) as info:
        DesignSource(url=url, timeout=5).read()
    assert "s3cret" not in str(info.value) and "admin" not in str(info.value)
    assert refused_url in str(info.value)


def basic_auth(processor: Processor, body: bytes, user: str, password: str) -> list[str | None]:
    """Serve `body` only with the right basic authentication; returns the Authorization headers seen."""
    seen: list[str | None] = []
    token = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def route(h: BaseHTTPRequestHandler) -> None:
        seen.append(h.headers.get("Authorization"))
        if h.headers.get("Authorization") != token:
            h.send_response(401)
            h.send_header("WWW-Authenticate", 'Basic realm="lutron"')
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    processor.routes["/DbXmlInfo.xml"] = route
    return seen


def test_user_and_password_in_the_url_are_basic_authentication_never_shown(processor: Processor) -> None:
    design, xml = house()
    seen = basic_auth(processor, xml, "lutron", "My Secret@pw:x/")
    secret = "lutron:My%20Secret%40pw%3Ax%2F@"
    url = processor.url().replace("http://", f"http://{secret}")
    source = DesignSource(url=url)
    assert source.description == processor.url()
    assert source.load() == (xml, design)
    assert seen and seen[0] is not None and seen[0].startswith("Basic ")
    wrong = DesignSource(url=url.replace("Secret", "Guess"))
    with pytest.raises(DesignError, match="HTTP 401") as info:
        wrong.read()
    assert "Guess" not in str(info.value) and "lutron:" not in str(info.value)
    assert processor.url() in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://alice:SECRET@127.0.0.1:1:2/DbXmlInfo.xml",  # a second colon: not a port
        "http://alice:SECR/ET@127.0.0.1/DbXmlInfo.xml",  # an unencoded / inside the password
        "http://alice:12/SECRET@127.0.0.1/DbXmlInfo.xml",
        "ftp://alice:SECRET@127.0.0.1/DbXmlInfo.xml",
    ],
)
def test_a_url_that_cannot_be_used_is_refused_in_one_line_without_echoing_it(url: str) -> None:
    with pytest.raises(DesignError) as info:
        DesignSource(url=url, timeout=2).read()
    message = str(info.value)
    assert "SECR" not in message and "alice" not in message and "\n" not in message
    assert "SECR" not in redact_url(url)


def test_fetch_over_http(processor: Processor) -> None:
    design, xml = house(junk_prefix=b"\r\n\x00")
    processor.serve(xml)
    raw, loaded = DesignSource(url=processor.url()).load()
    assert raw == xml and loaded == design


def test_http_error_names_url_and_status(processor: Processor) -> None:
    with pytest.raises(DesignError) as info:
        DesignSource(url=processor.url("/missing.xml")).read()
    message = str(info.value)
    assert processor.url("/missing.xml") in message and "HTTP 404" in message and "\n" not in message


def test_refused_connection_names_url_and_cause(refused_url: str) -> None:
    with pytest.raises(DesignError, match=r"refused") as info:
        DesignSource(url=refused_url, timeout=5).read()
    assert refused_url in str(info.value)


def test_silent_processor_times_out() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # the kernel accepts the connection; nobody ever answers
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/DbXmlInfo.xml"
        with pytest.raises(DesignError, match=r"no answer within 0.3 s"):
            DesignSource(url=url, timeout=0.3).read()
    finally:
        listener.close()


@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_xml_timeout_covers_the_whole_download_of_a_server_trickling_bytes(
    processor: Processor, headers_too: bool
) -> None:
    processor.trickle(headers_too=headers_too)
    outcome: list[BaseException | bytes] = []

    def fetch() -> None:
        try:
            outcome.append(DesignSource(url=processor.url(), timeout=0.5).read())
        except BaseException as exc:
            outcome.append(exc)

    started = time.monotonic()
    worker = threading.Thread(target=fetch, daemon=True)
    worker.start()
    worker.join(5.0)
    took = time.monotonic() - started
    assert outcome, "the download was still running after 5 s"
    assert took < 1.5
    error = outcome[0]
    assert isinstance(error, DesignError)
    expected = "no answer within 0.5 s" if headers_too else "not complete within 0.5 s"
    assert expected in str(error) and processor.url() in str(error)


async def test_cancelling_a_download_cuts_its_connection_at_once(
    processor: Processor, tmp_path: Path
) -> None:
    processor.trickle()
    follower = DesignFollower(DesignSource(url=processor.url(), timeout=30), DesignCache(tmp_path))
    task = asyncio.create_task(follower.ensure("05/16/2025,18:00:00"))
    while processor.requests == 0:  # noqa: ASYNC110 - the server runs in another thread
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 0.1
    # The server notices within a write or two: nothing goes on downloading behind our back.
    assert await asyncio.to_thread(processor.trickle_ended.wait, 2.0)


def test_a_redirect_to_another_host_is_not_followed(processor: Processor) -> None:
    processor.redirect(processor.url().replace("127.0.0.1", "localhost"))
    with pytest.raises(DesignError, match="redirects to another host, port or scheme") as info:
        DesignSource(url=processor.url("/old.xml"), timeout=5).read()
    assert processor.requests == 1 and "localhost" not in str(info.value)


def test_a_redirect_to_another_scheme_is_not_followed(processor: Processor) -> None:
    processor.redirect("ftp://127.0.0.1/DbXmlInfo.xml")
    with pytest.raises(DesignError, match="redirects to another host, port or scheme"):
        DesignSource(url=processor.url("/old.xml"), timeout=5).read()
    assert processor.requests == 1


def test_a_redirect_on_the_same_server_is_followed_with_the_credentials(processor: Processor) -> None:
    design, xml = house()
    seen = basic_auth(processor, xml, "lutron", "pw")
    processor.redirect("/DbXmlInfo.xml")
    url = processor.url("/old.xml").replace("http://", "http://lutron:pw@")
    assert DesignSource(url=url, timeout=5).load() == (xml, design)
    assert seen == ["Basic " + base64.b64encode(b"lutron:pw").decode()]


def test_endless_redirects_stop(processor: Processor) -> None:
    processor.redirect("/old.xml")
    with pytest.raises(DesignError, match="more than 5 redirects"):
        DesignSource(url=processor.url("/old.xml"), timeout=5).read()
    assert processor.requests == 6


def test_only_http_urls_are_fetched(tmp_path: Path) -> None:
    with pytest.raises(DesignError, match="only http"):
        DesignSource(url=f"file://{tmp_path}/x.xml").read()


def test_announced_100_mb_is_refused_before_reading(processor: Processor) -> None:
    processor.stream(100 * MB, "/big.xml", announce=True)
    with pytest.raises(DesignError, match=r"over the \d+ byte limit") as info:
        DesignSource(url=processor.url("/big.xml")).read()
    assert processor.url("/big.xml") in str(info.value)


def test_unannounced_100_mb_stream_is_cut_at_the_cap_without_holding_it_in_memory(
    processor: Processor,
) -> None:
    processor.stream(100 * MB, "/big.xml", announce=False)
    tracemalloc.start()
    try:
        with pytest.raises(DesignError, match=f"more than {MAX_DESIGN_BYTES} bytes"):
            DesignSource(url=processor.url("/big.xml")).read()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * MB  # streamed to a temporary file, not collected in memory
    assert processor.sent < 64 * MB  # the client hung up near the cap (plus socket buffers)


def test_local_file(tmp_path: Path) -> None:
    design, xml = house()
    path = tmp_path / "DbXmlInfo.xml"
    path.write_bytes(xml)
    assert DesignSource(path=str(path)).load()[1] == design


@pytest.mark.parametrize(("name", "cause"), [("missing.xml", "No such file"), ("", "Is a directory")])
def test_local_file_errors_name_path_and_cause(tmp_path: Path, name: str, cause: str) -> None:
    path = str(tmp_path / name) if name else str(tmp_path)
    with pytest.raises(DesignError, match=cause) as info:
        DesignSource(path=path).read()
    assert path in str(info.value)


def test_oversized_local_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    path.write_bytes(b" " * 2048)
    with pytest.raises(DesignError, match="larger than 1024 bytes"):
        DesignSource(path=str(path), max_bytes=1024).read()


# --- the cache -------------------------------------------------------------------------------------


def test_store_and_load_round_trip_with_private_files(tmp_path: Path) -> None:
    cache = DesignCache(tmp_path / "cache")
    design, xml = house()
    assert cache.store(design.project.revision, xml, design) is None  # nothing to compare with
    assert cache.load("05/16/2025,17:34:22") == design
    key = cache_key(design.project.revision)
    assert key == "20250516T173422"
    xml_file = tmp_path / "cache" / "designs" / f"{key}.xml"
    assert xml_file.read_bytes() == xml
    assert stat.S_IMODE(xml_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700
    assert cache.load("01/01/2020,00:00:00") is None


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    atomic_write(path, b"old")
    with pytest.raises(TypeError):
        atomic_write(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["history.json"]  # no temporary file left behind


def test_corrupt_model_is_ignored_with_a_warning_and_rebuilt_from_the_xml(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = DesignCache(tmp_path)
    design, xml = house()
    cache.store(design.project.revision, xml, design)
    (tmp_path / "designs" / "20250516T173422.json").write_bytes(b'{"schema": 1, "zones": [tru')
    with caplog.at_level(logging.WARNING):
        assert cache.load(design.project.revision) == design
    assert "corrupt and is ignored" in caplog.text


def test_corrupt_model_and_xml_mean_a_cache_miss(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = DesignCache(tmp_path)
    design, xml = house()
    cache.store(design.project.revision, xml, design)
    (tmp_path / "designs" / "20250516T173422.json").write_bytes(b"\x00\xff")
    (tmp_path / "designs" / "20250516T173422.xml").write_bytes(xml[:100])
    with caplog.at_level(logging.WARNING):
        assert cache.load(design.project.revision) is None
        assert cache.load_latest() is None
    assert "truncated" in caplog.text
    assert xml[60:100].decode() not in caplog.text  # no XML content in the log


def test_corrupt_history_is_ignored_and_the_models_still_serve(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = DesignCache(tmp_path)
    design, xml = house()
    cache.store(design.project.revision, xml, design)
    (tmp_path / "history.json").write_text("[not json")
    with caplog.at_level(logging.WARNING):
        assert cache.entries() == []
        assert cache.load_latest() == (design.project.revision, design)
    assert "unreadable and is ignored" in caplog.text
    other = at(design, "18:00:00")
    cache.store(other.project.revision, xml, other)  # a fresh history replaces the corrupt one
    assert [e.revision for e in cache.entries()] == ["05/16/2025,18:00:00"]


def test_only_the_last_five_revisions_are_kept(tmp_path: Path) -> None:
    cache = DesignCache(tmp_path)
    design, xml = house()
    revisions = [f"05/16/2025,1{i}:00:00" for i in range(7)]
    for rev in revisions:
        cache.store(rev, xml, design)
    assert [e.revision for e in cache.entries()] == revisions[2:]
    assert sorted(p.name for p in (tmp_path / "designs").iterdir()) == sorted(
        f"{cache_key(r)}.{ext}" for r in revisions[2:] for ext in ("json", "xml")
    )
    assert cache.load(revisions[0]) is None and cache.load(revisions[-1]) == design


def test_history_records_the_difference_between_consecutive_revisions(tmp_path: Path) -> None:
    cache = DesignCache(tmp_path)
    old, xml = house()
    z0, z1 = old.zones[0], old.zones[1]
    renamed = replace(z0, name="Renamed")
    added = Zone(9999, "New Zone", z0.area_key, z0.area, z0.floor, "INC", 60.0, True)
    new = replace(at(old, "18:00:00"), zones=(renamed, *old.zones[2:], added))
    cache.store(old.project.revision, xml, old)
    diff = cache.store(new.project.revision, xml, new)
    assert diff is not None and diff.summary() == "zones +1 -1 ~1, keypads +0 -0 ~0"
    history = json.loads((tmp_path / "history.json").read_text())
    last = history["revisions"][-1]
    assert last["revision"] == "05/16/2025,18:00:00" and last["export"] == "2025-05-16T18:00:00"
    assert last["diff"]["zones_added"] == [{"id": 9999, "name": "New Zone"}]
    assert last["diff"]["zones_removed"] == [{"id": z1.id, "name": z1.name}]
    assert last["diff"]["zones_renamed"] == [{"id": z0.id, "old": z0.name, "new": "Renamed"}]
    assert history["revisions"][0]["diff"] is None


def test_design_version_must_match_when_both_are_known(tmp_path: Path) -> None:
    cache = DesignCache(tmp_path)
    design, xml = house()
    cache.store(design.project.revision, xml, design, design_version=41)
    assert cache.load(design.project.revision, 41) == design
    assert cache.load(design.project.revision) == design
    assert cache.load(design.project.revision, 42) is None


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- the follower ----------------------------------------------------------------------------------


async def test_follower_fetches_once_then_serves_from_memory_and_cache(
    processor: Processor, tmp_path: Path
) -> None:
    design, xml = house()
    processor.serve(xml)
    follower = DesignFollower(DesignSource(url=processor.url()), DesignCache(tmp_path))
    first = await follower.ensure("05/16/2025,17:34:22")
    assert (first.origin, first.changed, first.design, first.error) == ("processor", True, design, None)
    again = await follower.ensure("5/16/2025,17:34:22")
    assert (again.origin, again.changed) == ("current", False)
    restarted = DesignFollower(DesignSource(url=processor.url()), DesignCache(tmp_path))
    from_cache = await restarted.ensure("05/16/2025,17:34:22")
    assert (from_cache.origin, from_cache.design) == ("cache", design)
    assert processor.requests == 1


async def test_follower_reloads_on_a_new_revision_and_reports_the_diff(
    processor: Processor, tmp_path: Path
) -> None:
    design, xml = house()
    processor.serve(xml)
    follower = DesignFollower(DesignSource(url=processor.url()), DesignCache(tmp_path))
    await follower.ensure(design.project.revision)
    new = replace(at(design, "18:00:00"), zones=design.zones[1:])
    processor.serve(design_to_xml(new, GeneratorParams(seed=1)))
    update = await follower.ensure("05/16/2025,18:00:00")
    assert update.changed and update.origin == "processor" and follower.current == new
    assert update.diff is not None and [z.id for z in update.diff.zones_removed] == [design.zones[0].id]
    assert follower.revision == "05/16/2025,18:00:00"


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda xml: xml[: len(xml) // 2], id="truncated"),
        pytest.param(
            lambda xml: (
                b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><Project>&b;</Project>'
            ),
            id="billion-laughs",
        ),
        pytest.param(
            lambda xml: (
                b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><Project>&x;</Project>'
            ),
            id="external-entity",
        ),
        pytest.param(lambda xml: b"<Project><Areas/></Project>", id="empty-design"),
    ],
)
async def test_follower_keeps_the_old_design_and_cache_on_a_bad_export(
    processor: Processor, tmp_path: Path, bad: Callable[[bytes], bytes]
) -> None:
    design, xml = house()
    processor.serve(xml)
    follower = DesignFollower(DesignSource(url=processor.url()), DesignCache(tmp_path), retry_interval=0)
    await follower.ensure(design.project.revision)
    before = snapshot(tmp_path)
    processor.serve(bad(xml))
    update = await follower.ensure("05/16/2025,18:00:00")
    assert update.design == design and not update.changed and update.origin == "current"
    assert update.error is not None and processor.url() in update.error and "\n" not in update.error
    assert follower.current == design and follower.revision == design.project.revision
    assert snapshot(tmp_path) == before


def nested_areas_export(depth: int) -> bytes:
    """A small file of `depth` nested areas (12,000 used to take 688 MiB and 83 s to read)."""
    tree = "".join(f'<Area Name="a{i}" IntegrationID="{i + 1}"><Areas>' for i in range(depth))
    tree += "</Areas></Area>" * depth
    return (
        '<?xml version="1.0"?><Project><DbExportDate>05/16/2025</DbExportDate>'
        f"<DbExportTime>18:00:00</DbExportTime><Areas>{tree}</Areas></Project>"
    ).encode()


async def test_follower_refuses_12000_nested_areas_in_under_a_second_and_keeps_the_design(
    processor: Processor, tmp_path: Path
) -> None:
    design, xml = house()
    processor.serve(xml)
    follower = DesignFollower(DesignSource(url=processor.url()), DesignCache(tmp_path))
    await follower.ensure(design.project.revision)
    before = snapshot(tmp_path)
    hostile = nested_areas_export(12_000)
    assert len(hostile) < 800 * 1024
    processor.serve(hostile)
    started = time.perf_counter()
    update = await follower.ensure("05/16/2025,18:00:00")
    assert time.perf_counter() - started < 1.0
    assert update.error is not None and "nested more than" in update.error and "\n" not in update.error
    assert update.design == design and follower.current == design and snapshot(tmp_path) == before


async def test_follower_retries_a_failed_revision_only_after_the_interval(
    processor: Processor, tmp_path: Path
) -> None:
    now = [1000.0]
    follower = DesignFollower(
        DesignSource(url=processor.url("/nothing")), None, retry_interval=300, clock=lambda: now[0]
    )
    assert (await follower.ensure("05/16/2025,18:00:00")).error is not None
    assert (await follower.ensure("05/16/2025,18:00:00")).error is not None
    assert processor.requests == 1
    now[0] += 301
    await follower.ensure("05/16/2025,18:00:00")
    assert processor.requests == 2


async def test_unreachable_processor_with_a_valid_cache_runs_on_the_cache(
    refused_url: str, tmp_path: Path
) -> None:
    design, xml = house()
    DesignCache(tmp_path).store(design.project.revision, xml, design)
    follower = DesignFollower(DesignSource(url=refused_url, timeout=5), DesignCache(tmp_path))
    started = await follower.start()
    assert (started.origin, started.design) == ("stale-cache", design)
    fresh = DesignFollower(DesignSource(url=refused_url, timeout=5), DesignCache(tmp_path))
    update = await fresh.ensure("05/16/2025,18:00:00")  # a newer revision we cannot fetch
    assert update.origin == "stale-cache" and update.design == design
    assert update.error is not None and "refused" in update.error


async def test_unreachable_processor_without_cache_has_no_design(refused_url: str, tmp_path: Path) -> None:
    follower = DesignFollower(DesignSource(url=refused_url, timeout=5), DesignCache(tmp_path / "empty"))
    assert (await follower.start()).design is None
    update = await follower.ensure("05/16/2025,18:00:00")
    assert update.design is None and update.origin == "none" and update.error is not None


async def test_unwritable_cache_does_not_stop_the_design_loading(
    processor: Processor, tmp_path: Path
) -> None:
    design, xml = house()
    processor.serve(xml)
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    follower = DesignFollower(DesignSource(url=processor.url()), DesignCache(blocker / "cache"))
    update = await follower.ensure(design.project.revision)
    assert update.design == design and update.origin == "processor"


async def test_follower_refuses_a_100_mb_answer_and_keeps_design_and_cache(
    processor: Processor, tmp_path: Path
) -> None:
    design, xml = house()
    processor.serve(xml)
    follower = DesignFollower(DesignSource(url=processor.url()), DesignCache(tmp_path))
    await follower.ensure(design.project.revision)
    before = snapshot(tmp_path)
    processor.stream(100 * MB, "/DbXmlInfo.xml", announce=False)
    update = await follower.ensure("05/16/2025,18:00:00")
    assert update.error is not None and f"more than {MAX_DESIGN_BYTES} bytes" in update.error
    assert follower.current == design and snapshot(tmp_path) == before
    assert processor.sent < 64 * MB
