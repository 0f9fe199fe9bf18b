"""Helpers of the widget tests: act as a visitor's browser."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from typing import Any

import httpx
from fastapi.testclient import TestClient

from backend.widget.models import SiteKey

SHOP = "https://shop.example.com"


def start(
    client: TestClient,
    key: SiteKey | str,
    *,
    origin: str | None = SHOP,
    token: str | None = None,
) -> Any:
    """POST /widget/conversations as a browser on ``origin``; returns the response."""
    headers = {"Origin": origin} if origin else {}
    if token:
        headers["X-Deskpilot-Visitor"] = token
    public_id = key if isinstance(key, str) else key.public_id
    return client.post(
        "/api/v1/widget/conversations", json={"site_key": public_id}, headers=headers
    )


def visitor_headers(token: str, origin: str | None = SHOP) -> dict[str, str]:
    """Headers of a visitor request from ``origin``."""
    headers = {"X-Deskpilot-Visitor": token}
    if origin:
        headers["Origin"] = origin
    return headers


class SSEReader:
    """Reads a Server-Sent Events stream in a thread (a real server: TestClient buffers streams).

    Frames land in a queue as dicts: ``{"id", "event", "data"}`` for events, ``{"comment"}`` for
    comments; ``None`` marks the end of the stream."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers or {}
        self.frames: queue.Queue[dict[str, str] | None] = queue.Queue()
        self.opened = threading.Event()
        self.status: int | None = None
        self.response_headers: httpx.Headers | None = None
        self.error: BaseException | None = None
        self._closing = threading.Event()
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self.opened.wait(30), f"stream {url} did not open: {self.error!r}"

    def _run(self) -> None:
        try:
            timeout = httpx.Timeout(10.0, read=60.0)
            with httpx.stream("GET", self.url, headers=self.headers, timeout=timeout) as resp:
                self._response = resp
                self.status, self.response_headers = resp.status_code, resp.headers
                self.opened.set()
                frame: dict[str, str] = {}
                for line in resp.iter_lines():
                    if line == "":
                        if frame:
                            self.frames.put(frame)
                        frame = {}
                    elif line.startswith(":"):
                        self.frames.put({"comment": line[1:].strip()})
                    else:
                        name, _, value = line.partition(":")
                        frame[name] = value.removeprefix(" ")
        except (httpx.HTTPError, OSError, RuntimeError) as exc:
            if not self._closing.is_set():
                self.error = exc
        finally:
            self.opened.set()
            self.frames.put(None)

    def next(self, timeout: float = 10.0, comments: bool = False) -> dict[str, str] | None:
        """The next frame (skipping comments unless asked); fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                frame = self.frames.get(timeout=max(left, 0.001))
            except queue.Empty:
                raise AssertionError(f"no SSE frame within {timeout}s ({self.error!r})") from None
            if frame is None or comments or "comment" not in frame:
                return frame

    def assert_quiet(self, seconds: float) -> None:
        """No event arrives for ``seconds`` (comments allowed)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                frame = self.frames.get(timeout=left)
            except queue.Empty:
                return
            assert frame is not None and "comment" in frame, f"unexpected frame {frame}"

    def events(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The next ``count`` events, their data parsed."""
        out: list[dict[str, Any]] = []
        for _ in range(count):
            frame = self.next(timeout)
            assert frame is not None, f"stream ended after {out}"
            out.append({**frame, "data": json.loads(frame["data"])})
        return out

    def close(self) -> None:
        """Disconnect (as a browser tab closing) and wait for the reader thread."""
        self._closing.set()
        if self._response is not None:
            # Shut the socket down: that unblocks the reader thread's pending recv at once.
            stream = self._response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            with contextlib.suppress(OSError):
                if sock is not None:
                    sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(10)
        assert not self._thread.is_alive(), "the SSE reader thread did not stop"
