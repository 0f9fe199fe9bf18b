"""fetch_url against a real HTTP server on 127.0.0.1 (started here, in a thread)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from backend.knowledge.parsing import fetch
from backend.knowledge.parsing.fetch import fetch_url, is_public_address
from backend.knowledge.parsing.types import IngestError, IngestLimits

pytestmark = pytest.mark.integration

LOCAL = IngestLimits(allow_private_urls=True, fetch_timeout_s=2.0)
PAGE = b"<!doctype html><html><title>Hi</title><body><p>Hello there</p></body></html>"
FIFTY_MB = 50 * 1024 * 1024


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hits: list[str]
    release: threading.Event


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, total: int, chunk: bytes, pause: float = 0.0) -> None:
        """Send ``total`` bytes by repeating one chunk, stopping when the client goes away."""
        sent = 0
        try:
            while sent < total and not self.server.release.is_set():
                self.wfile.write(chunk)
                self.wfile.flush()
                sent += len(chunk)
                if pause:
                    time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        html = {"Content-Type": "text/html; charset=utf-8"}
        parts = self.path.strip("/").split("/")
        if self.path in {"/", "/ok", "/docs/guide"}:
            self._send(200, {**html, "Content-Length": str(len(PAGE))}, PAGE)
        elif self.path == "/download":
            disposition = "attachment; filename*=UTF-8''R%C3%A9sum%C3%A9%20v2.pdf"
            self._send(200, {"Content-Type": "application/pdf", "Content-Disposition": disposition})
            self.wfile.write(b"%PDF-1.4 fake")
        elif parts[0] in {"loop", "chain"}:
            number = int(parts[1])
            if parts[0] == "chain" and number == 0:
                self._send(200, {**html, "Content-Length": str(len(PAGE))}, PAGE)
            else:
                step = number + 1 if parts[0] == "loop" else number - 1
                self._send(302, {"Location": f"/{parts[0]}/{step}"})
        elif self.path == "/to-private":
            self._send(302, {"Location": "http://10.0.0.1/admin"})
        elif self.path == "/slow":
            self.server.release.wait(10)
            self._send(200, html, PAGE)
        elif self.path == "/drip":
            self._send(200, html)
            self._stream(10_000, b"x", pause=0.05)
        elif self.path in {"/huge", "/huge-chunked"}:
            declared = {"Content-Length": str(FIFTY_MB)} if self.path == "/huge" else {}
            self._send(200, {**html, **declared})
            self._stream(FIFTY_MB, b"a" * 65_536)  # one chunk, sent again and again
        else:
            self._send(404, {"Content-Type": "text/plain"}, b"not here")


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.hits = []
    httpd.release = threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.release.set()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def url(server: _Server) -> Callable[[str], str]:
    server.hits.clear()
    port = server.server_address[1]
    return lambda path: f"http://127.0.0.1:{port}{path}"


def failure(link: str, dest: Path, limits: IngestLimits = LOCAL) -> IngestError:
    with pytest.raises(IngestError) as caught:
        fetch_url(link, dest, limits)
    return caught.value


def test_fetches_a_page(url: Callable[[str], str], tmp_path: Path) -> None:
    got = fetch_url(url("/ok"), tmp_path, LOCAL)
    assert got.path.read_bytes() == PAGE and got.path.parent == tmp_path
    assert (got.filename, got.content_type, got.final_url) == ("ok.html", "text/html", url("/ok"))
    assert fetch_url(url("/"), tmp_path, LOCAL).filename == "index.html"
    assert fetch_url(url("/docs/guide"), tmp_path, LOCAL).filename == "guide.html"


def test_filename_from_content_disposition(url: Callable[[str], str], tmp_path: Path) -> None:
    got = fetch_url(url("/download"), tmp_path, LOCAL)
    assert got.filename == "Résumé v2.pdf" and got.content_type == "application/pdf"
    assert got.path.read_bytes() == b"%PDF-1.4 fake"


def test_loopback_is_refused_by_default(
    url: Callable[[str], str], server: _Server, tmp_path: Path
) -> None:
    for link in (url("/ok"), "http://localhost:9/", "http://[::1]/", "http://169.254.169.254/"):
        error = failure(link, tmp_path, IngestLimits())
        assert error.code == "url_forbidden" and "private or internal" in error.message
    assert server.hits == []


@pytest.mark.parametrize("link", ["ftp://example.com/faq.csv", "file:///etc/passwd", "example.com"])
def test_only_http_and_https(link: str, tmp_path: Path) -> None:
    error = failure(link, tmp_path, IngestLimits())
    assert error.code == "url_forbidden" and "http://" in error.message


def test_redirect_to_a_private_address_is_refused_before_connecting(
    url: Callable[[str], str], server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Let the test server count as public, so only the redirect target is private.
    original = fetch.is_public_address
    monkeypatch.setattr(fetch, "is_public_address", lambda a: a == "127.0.0.1" or original(a))
    started = time.monotonic()
    error = failure(url("/to-private"), tmp_path, IngestLimits(fetch_timeout_s=5))
    assert error.code == "url_forbidden" and "10.0.0.1" in error.message
    assert time.monotonic() - started < 1  # 10.0.0.1 is unroutable here: no connect attempt
    assert server.hits == ["/to-private"]


def test_the_connected_address_is_checked_too(
    url: Callable[[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DNS rebinding: the name looks public when checked, then resolves to 127.0.0.1.
    real = socket.getaddrinfo
    calls: list[str] = []

    def rebinding(host: str, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.test":
            return real(host, *args, **kwargs)
        calls.append(host)
        target = "93.184.216.34" if len(calls) == 1 else "127.0.0.1"
        return real(target, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    link = url("/ok").replace("127.0.0.1", "rebind.test")
    error = failure(link, tmp_path, IngestLimits())
    assert error.code == "url_forbidden" and len(calls) == 2
    assert list(tmp_path.iterdir()) == []


def test_redirects(url: Callable[[str], str], tmp_path: Path) -> None:
    assert fetch_url(url("/chain/3"), tmp_path, LOCAL).final_url == url("/chain/0")
    limits = IngestLimits(allow_private_urls=True, max_redirects=3)
    error = failure(url("/loop/0"), tmp_path, limits)
    assert error.code == "url_fetch_failed" and "more than 3 times" in error.message


@pytest.mark.parametrize("path", ["/slow", "/drip"])
def test_timeouts(url: Callable[[str], str], tmp_path: Path, path: str) -> None:
    limits = IngestLimits(allow_private_urls=True, fetch_timeout_s=0.5)
    started = time.monotonic()
    error = failure(url(path), tmp_path, limits)
    assert error.code == "url_timeout" and "0.5 seconds" in error.message
    assert time.monotonic() - started < 2
    assert list(tmp_path.iterdir()) == []  # the partial download is gone


@pytest.mark.parametrize("path", ["/huge", "/huge-chunked"])
def test_too_large_is_refused_early(url: Callable[[str], str], tmp_path: Path, path: str) -> None:
    limits = IngestLimits(allow_private_urls=True, max_bytes=1024 * 1024)
    started = time.monotonic()
    error = failure(url(path), tmp_path, limits)
    assert error.code == "url_too_large" and "1.0 MB" in error.message
    assert time.monotonic() - started < 2
    assert list(tmp_path.iterdir()) == []


def test_http_errors(url: Callable[[str], str], tmp_path: Path) -> None:
    error = failure(url("/missing"), tmp_path)
    assert error.code == "url_fetch_failed" and "404 Not Found" in error.message
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = failure(f"http://127.0.0.1:{port}/", tmp_path)
    assert error.code == "url_fetch_failed" and "connection refused" in error.message


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("10.0.0.1", False),
        ("192.168.1.10", False),
        ("127.0.0.1", False),
        ("::1", False),
        ("169.254.169.254", False),
        ("fe80::1%eth0", False),
        ("::ffff:10.0.0.1", False),
        ("224.0.0.1", False),
        ("0.0.0.0", False),
        ("100.64.0.1", False),
        ("240.0.0.1", False),
    ],
)
def test_address_policy(address: str, public: bool) -> None:
    assert is_public_address(address) is public
