"""The processor's web server, reduced to what integrations use: GET /DbXmlInfo.xml.

Plain asyncio streams, one request per connection (`Connection: close`), so a client's download
timeouts and streaming code meet a real socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from telegraf_lutron.simulator.quirks import Quirks

log = logging.getLogger(__name__)

XML_PATH = "/DbXmlInfo.xml"
MAX_HEADER = 16 * 1024
REQUEST_TIMEOUT = 10.0


class XmlHttpServer:
    def __init__(self, host: str, port: int, xml: Callable[[], bytes | None], quirks: Quirks):
        self.host = host
        self._requested_port = port
        self._xml = xml
        self._quirks = quirks
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self.requests = 0

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the HTTP server is not running")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._closing = False
        self._server = await asyncio.start_server(
            self._handle, self.host, self._requested_port, limit=MAX_HEADER
        )

    async def stop(self) -> None:
        self._closing = True
        if self._server is None:
            return
        self._server.close()
        # Let handlers of connections accepted just now start, so they are tracked and cancelled.
        await asyncio.sleep(0)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            if not self._closing:
                await asyncio.wait_for(self._respond(reader, writer), REQUEST_TIMEOUT)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()

    async def _respond(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The stream limit (MAX_HEADER) ends oversized requests with LimitOverrunError.
        head = await reader.readuntil(b"\r\n\r\n")
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            await self._send(writer, 400, b"bad request\n")
            return
        method, target = parts[0], parts[1]
        self.requests += 1
        if method != "GET":
            await self._send(writer, 405, b"GET only\n", extra=[("Allow", "GET")])
            return
        path = target.split("?", 1)[0]
        xml = self._xml() if path == XML_PATH else None
        if xml is None:
            await self._send(writer, 404, b"not found\n")
            return
        log.debug("serving %s (%d bytes)", XML_PATH, len(xml))
        body = self._quirks.xml_junk + xml
        await self._send(writer, 200, body, content_type="text/xml")

    @staticmethod
    async def _send(
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        *,
        content_type: str = "text/plain",
        extra: list[tuple[str, str]] | None = None,
    ) -> None:
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}.get(
            status, "Error"
        )
        headers = [
            f"HTTP/1.1 {status} {reason}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
            "Connection: close",
            *(f"{k}: {v}" for k, v in extra or []),
        ]
        writer.write(("\r\n".join(headers) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
