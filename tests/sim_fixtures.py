"""Fixtures and helpers for the simulator's tests: a small hand-built design and a raw client.

The raw client is plain `asyncio.open_connection`, so these tests do not depend on the product's
session code.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta, timezone

import pytest

from telegraf_lutron.design import Area, Button, Design, Keypad, Project, Zone
from telegraf_lutron.simulator import Simulator

PACIFIC = timezone(timedelta(hours=-8))
FIXED_NOW = datetime(2025, 4, 4, 10, 12, 44, tzinfo=PACIFIC)
TIMEOUT = 5.0  # generous: only ever waited out when a test is failing


def build_design(
    export_date: str = "04/04/2025", export_time: str = "10:12:44", *, extra_zone: int | None = None
) -> Design:
    """Kitchen (IID 10, occupancy) with zones 27, 28 and non-dimmable 29 and seeTouch keypad 40
    (buttons 1-3 with LEDs 81-83, raise/lower 18/19); Hall (IID 20, no occupancy) with zone 31 and a
    Pico 50; all under a root container."""
    root = Area(key=-1, iid=0, name="House", parent_key=None, floor="House")
    kitchen = Area(10, 10, "Kitchen", -1, "House", occupancy_group=1)
    hall = Area(20, 20, "Hall", -1, "House")

    def zone(iid: int, name: str, area: Area, output_type: str = "INC", dimmable: bool = True) -> Zone:
        return Zone(iid, name, area.key, area.name, area.floor, output_type, 100.0, dimmable)

    zones = [
        zone(27, "Downlights", kitchen),
        zone(28, "Pendants", kitchen),
        zone(29, "Fan", kitchen, "NON_DIM", dimmable=False),
        zone(31, "Hall lights", hall),
    ]
    if extra_zone is not None:
        zones.append(zone(extra_zone, "New zone", hall))
    seetouch = Keypad(
        id=40,
        name="Kitchen entry",
        device_name="CSD 001",
        device_type="SEETOUCH_KEYPAD",
        area_key=10,
        area="Kitchen",
        floor="House",
        buttons=(
            Button(1, "On", "On", 81),
            Button(2, "Cook", "Cook", 82),
            Button(3, "Off", "Off", 83),
            Button(18, "", "Button 18", None),
            Button(19, "", "Button 19", None),
        ),
        leds=(81, 82, 83),
    )
    pico = Keypad(
        id=50,
        name="Hall pico",
        device_name="Pico",
        device_type="PICO_KEYPAD",
        area_key=20,
        area="Hall",
        floor="House",
        buttons=(Button(2, "On", "On", None), Button(4, "Off", "Off", None)),
    )
    return Design(
        project=Project("Test House", export_date=export_date, export_time=export_time),
        areas=(root, kitchen, hall),
        zones=tuple(zones),
        keypads=(seetouch, pico),
    )


class RawClient:
    """A bare TCP client with a buffer, for byte-exact assertions."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.buffer = b""

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1") -> RawClient:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def _fill(self, timeout: float) -> bool:
        """Read once more into the buffer; False at EOF."""
        data = await asyncio.wait_for(self.reader.read(65536), timeout)
        self.buffer += data
        return bool(data)

    async def read_until(self, sep: bytes, timeout: float = TIMEOUT) -> bytes:
        """Everything up to and including `sep`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while sep not in self.buffer:
            if not await self._fill(max(deadline - loop.time(), 0.001)):
                raise EOFError(f"EOF before {sep!r}; got {self.buffer!r}")
        i = self.buffer.index(sep) + len(sep)
        out, self.buffer = self.buffer[:i], self.buffer[i:]
        return out

    async def read_exactly(self, n: int, timeout: float = TIMEOUT) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.buffer) < n:
            if not await self._fill(max(deadline - loop.time(), 0.001)):
                raise EOFError(f"EOF after {self.buffer!r}")
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    async def read_for(self, seconds: float) -> bytes:
        """Whatever arrives within `seconds` (for asserting that nothing does)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            try:
                if not await self._fill(left):
                    break
            except TimeoutError:
                break
        out, self.buffer = self.buffer, b""
        return out

    async def at_eof(self, timeout: float = TIMEOUT) -> bool:
        """True once the server has closed the connection (buffered bytes are discarded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while await self._fill(max(deadline - loop.time(), 0.001)):
                self.buffer = b""
        except TimeoutError:
            return False
        except ConnectionError:
            return True
        return True

    def send(self, *lines: str | bytes, end: bytes = b"\r\n") -> None:
        for line in lines:
            self.writer.write((line.encode() if isinstance(line, str) else line) + end)

    async def login(
        self, user: str = "default", password: str = "default", prompt: bytes = b"QNET> "
    ) -> None:
        assert await self.read_exactly(7) == b"login: "
        self.send(user)
        assert await self.read_exactly(10) == b"password: "
        self.send(password)
        assert await self.read_exactly(len(prompt) + 3) == b"\r\n" + prompt + b"\x00"

    async def prompt_off(self, prompt: bytes = b"QNET> ") -> None:
        """Turn the prompt off so each reply is exactly one line."""
        self.send("#MONITORING,12,2")
        assert await self.read_until(prompt) == b"~MONITORING,12,2\r\n" + prompt

    async def query(self, command: str) -> str:
        """Send a command and return its one-line reply (prompt off)."""
        self.send(command)
        return (await self.read_until(b"\r\n")).decode()[:-2]

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


@pytest.fixture
def sim_design() -> Design:
    return build_design()


@pytest.fixture
async def lutron_sim(sim_design: Design) -> AsyncIterator[Simulator]:
    """A HWQS simulator of `sim_design` with no service time, sysvar 7 and a fixed clock."""
    async with Simulator(sim_design, service_time=0, sysvars={7: 0}, clock=lambda: FIXED_NOW) as s:
        yield s


@pytest.fixture
async def raw_connect() -> AsyncIterator[Callable[[Simulator], Awaitable[RawClient]]]:
    """`client = await raw_connect(sim)`: raw clients, closed at the end of the test."""
    clients: list[RawClient] = []

    async def open_client(s: Simulator) -> RawClient:
        c = await RawClient.connect(s.telnet_port)
        clients.append(c)
        return c

    yield open_client
    for c in clients:
        await c.close()


@pytest.fixture
async def raw_client(
    lutron_sim: Simulator, raw_connect: Callable[[Simulator], Awaitable[RawClient]]
) -> RawClient:
    """A raw client logged in to `lutron_sim` with the prompt off."""
    c = await raw_connect(lutron_sim)
    await c.login()
    await c.prompt_off()
    return c
