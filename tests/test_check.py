"""`telegraf-lutron check` in-process against the simulator: it waits for the session's first
outcome (no polling), logs in once, and says what to fix."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from telegraf_lutron.check import run_check
from telegraf_lutron.config import Config, PluginConfig
from telegraf_lutron.processor_settings import ProcessorSettings
from telegraf_lutron.simulator import Simulator
from telegraf_lutron.simulator.designgen import GeneratorParams, generate


@pytest.fixture
async def house() -> AsyncIterator[Simulator]:
    design, xml = generate(GeneratorParams(seed=6))
    async with Simulator(design, xml=xml, service_time=0.0) as sim:
        yield sim


def config_for(tmp_path: Path, telnet_port: int, http_port: int, password: str = "default") -> Config:
    settings = ProcessorSettings(
        host="127.0.0.1", telnet_port=telnet_port, http_port=http_port, password=password, connect_timeout=2.0
    )
    return Config(settings, PluginConfig(cache_dir=tmp_path / "cache"))


async def test_check_logs_in_once_and_describes_the_house(house: Simulator, tmp_path: Path) -> None:
    out = io.StringIO()
    assert house.http_port is not None
    code = await run_check(config_for(tmp_path, house.telnet_port, house.http_port), out)
    text = out.getvalue()
    assert code == 0, text
    assert f"ok    logged in to 127.0.0.1:{house.telnet_port} as 'default' (HomeWorks QS)" in text
    assert f"design revision (export date) {house.revision}" in text
    assert f"{len(house.design.zones)} zones" in text
    assert house.stats.good_logins == 1 and house.stats.bad_logins == 0


async def test_check_with_a_wrong_password_fails_after_one_attempt(house: Simulator, tmp_path: Path) -> None:
    out = io.StringIO()
    assert house.http_port is not None
    config = config_for(tmp_path, house.telnet_port, house.http_port, password="N0pe-secret")
    code = await run_check(config, out)
    text = out.getvalue()
    assert code == 1
    assert "FAIL  telnet login" in text and "bad login for user 'default'" in text
    assert "check processor.username and the password" in text
    assert "N0pe-secret" not in text
    assert house.stats.bad_logins == 1 and house.stats.good_logins == 0


async def test_check_with_nothing_listening_names_host_and_port(house: Simulator, tmp_path: Path) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    out = io.StringIO()
    assert house.http_port is not None
    started = time.monotonic()
    code = await run_check(config_for(tmp_path, port, house.http_port), out)
    text = out.getvalue()
    assert code == 1
    assert "connection refused" in text
    assert "check processor.host and processor.telnet_port" in text
    assert time.monotonic() - started < 5.0  # the first outcome, not a timeout
