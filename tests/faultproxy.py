"""A fault-injecting HTTP proxy to put in front of a REAL server (vLLM or a tiny test upstream).

    with FaultProxy("http://127.0.0.1:8001") as proxy:   # or proxy.start() / proxy.stop()
        client = OpenAIChatClient(proxy.url + "/v1", "smollm2")
        proxy.mode, proxy.after_events = "drop", 2

Modes (read when a request arrives; faults apply to ``text/event-stream`` responses only, other
responses pass unchanged, except in ``refuse``):

- ``pass``: forward as is, streaming event by event;
- ``malformed``: after ``after_events`` SSE events, send ``data: {not json`` and carry on;
- ``stall``: after ``after_events`` events, send nothing for ``stall_s`` seconds (connection kept
  open), then carry on;
- ``drop``: after ``after_events`` events, close the connection without ending the chunked body
  (what a killed server looks like);
- ``refuse``: answer 502 at once without contacting the upstream.

Method, path, query, headers (minus hop-by-hop and host) and body are forwarded. ``requests``
counts requests received; ``disconnects`` counts clients that went away before their response
ended (the upstream request is then closed at once, so the upstream sees the disconnect too).
One request per connection (``Connection: close``); runs in a thread with its own event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import AsyncIterator
from http import HTTPStatus
from types import TracebackType
from typing import Literal

import httpx

Mode = Literal["pass", "malformed", "stall", "drop", "refuse"]
MODES: tuple[str, ...] = ("pass", "malformed", "stall", "drop", "refuse")
GARBAGE_EVENT = b"data: {not json\n\n"
# Hop-by-hop headers, plus those the proxy sets itself.
# fmt: off
_HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "trailers", "transfer-encoding", "upgrade", "host", "content-length", "accept-encoding",
})
# fmt: on
_EVENT_END = re.compile(rb"\r?\n\r?\n")


class _Dropped(Exception):
    """Raised to end a response without its terminating chunk."""


class FaultProxy:
    """HTTP/1.1 proxy with switchable faults; see the module docstring."""

    def __init__(
        self, upstream: str, *, mode: Mode = "pass", after_events: int = 2, stall_s: float = 5.0
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.mode: Mode = mode
        self.after_events = after_events
        self.stall_s = stall_s
        self.requests = 0
        self.disconnects = 0
        self.url = ""
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> str:
        """Start listening on a free 127.0.0.1 port; return the base URL (``http://127.0.0.1:P``)."""
        if self._thread is not None:
            return self.url
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError(f"fault proxy did not start: {self._error!r}")
        return self.url

    def stop(self) -> None:
        """Stop the proxy, cancelling responses in flight; idempotent."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        tasks: set[asyncio.Task[None]] = set()
        timeout = httpx.Timeout(connect=5.0, read=None, write=10.0, pool=5.0)
        async with httpx.AsyncClient(timeout=timeout) as client:

            async def on_connect(
                reader: asyncio.StreamReader, writer: asyncio.StreamWriter
            ) -> None:
                task = asyncio.current_task()
                assert task is not None
                tasks.add(task)
                try:
                    await self._serve(client, reader, writer)
                finally:
                    tasks.discard(task)
                    writer.close()
                    with contextlib.suppress(Exception):
                        await writer.wait_closed()

            server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}"
            self._ready.set()
            async with server:
                await self._stop.wait()
                server.close()
                for task in list(tasks):
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    # -- one connection ----------------------------------------------------------------------
    async def _serve(
        self, client: httpx.AsyncClient, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            method, target, headers, body = await _read_request(reader)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            return
        self.requests += 1
        mode, after, stall_s = self.mode, self.after_events, self.stall_s
        if mode == "refuse":
            await _write_simple(writer, 502, b'{"error": {"message": "refused by fault proxy"}}')
            return
        forward = asyncio.create_task(
            self._forward(client, writer, method, target, headers, body, mode, after, stall_s)
        )
        gone = asyncio.create_task(_wait_eof(reader))
        await asyncio.wait({forward, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not forward.done():  # the client went away: close the upstream request now
            self.disconnects += 1
            forward.cancel()
        gone.cancel()
        await asyncio.gather(forward, gone, return_exceptions=True)

    async def _forward(
        self,
        client: httpx.AsyncClient,
        writer: asyncio.StreamWriter,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
        mode: Mode,
        after: int,
        stall_s: float,
    ) -> None:
        forwarded = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]
        forwarded.append(("accept-encoding", "identity"))  # SSE events must be readable here
        request = client.build_request(
            method, self.upstream + target, headers=forwarded, content=body
        )
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            await _write_simple(
                writer, 502, f'{{"error": {{"message": "{type(exc).__name__}"}}}}'.encode()
            )
            return
        try:
            out_headers = [
                (k, v) for k, v in response.headers.multi_items() if k.lower() not in _HOP_BY_HOP
            ]
            bodyless = method == "HEAD" or response.status_code in (204, 304)
            await _write_head(writer, response.status_code, out_headers, chunked=not bodyless)
            if bodyless:
                return
            is_sse = response.headers.get("content-type", "").startswith("text/event-stream")
            if not is_sse or mode == "pass":
                async for data in response.aiter_raw():
                    await _write_chunk(writer, data)
            else:
                await self._faulty(writer, _sse_events(response.aiter_raw()), mode, after, stall_s)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except _Dropped:
            pass  # the connection closes without its last chunk
        finally:
            await response.aclose()

    async def _faulty(
        self,
        writer: asyncio.StreamWriter,
        events: AsyncIterator[bytes],
        mode: Mode,
        after: int,
        stall_s: float,
    ) -> None:
        sent, faulted = 0, False

        async def fault() -> None:
            if mode == "malformed":
                await _write_chunk(writer, GARBAGE_EVENT)
            elif mode == "stall":
                await asyncio.sleep(stall_s)
            elif mode == "drop":
                raise _Dropped

        async for event in events:
            if sent == after and not faulted:
                faulted = True
                await fault()
            await _write_chunk(writer, event)
            sent += 1
        if sent == after and not faulted:
            await fault()


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, list[tuple[str, str]], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    lookup = {k.lower(): v for k, v in headers}
    if lookup.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += await reader.readexactly(size + 2)
            body = body[:-2]
        await reader.readuntil(b"\r\n")
    else:
        body = await reader.readexactly(int(lookup.get("content-length", "0")))
    return method, target, headers, body


async def _wait_eof(reader: asyncio.StreamReader) -> None:
    """Return when the client closes its side of the connection."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(4096):
            pass


async def _sse_events(raw: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Regroup a byte stream into whole SSE events (each ending with its blank line)."""
    buffer = b""
    async for data in raw:
        buffer += data
        while match := _EVENT_END.search(buffer):
            yield buffer[: match.end()]
            buffer = buffer[match.end() :]
    if buffer:
        yield buffer


async def _write_head(
    writer: asyncio.StreamWriter, status: int, headers: list[tuple[str, str]], chunked: bool = True
) -> None:
    reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers]
    lines += [*(["transfer-encoding: chunked"] if chunked else []), "connection: close", "", ""]
    writer.write("\r\n".join(lines).encode("latin-1"))
    await writer.drain()


async def _write_chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
    if data:
        writer.write(b"%x\r\n%s\r\n" % (len(data), data))
        await writer.drain()


async def _write_simple(writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
    await _write_head(writer, status, [("content-type", "application/json")])
    await _write_chunk(writer, body)
    writer.write(b"0\r\n\r\n")
    await writer.drain()
