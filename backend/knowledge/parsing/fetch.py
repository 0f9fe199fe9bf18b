"""Downloading a web page or file for ingestion, without letting a URL reach internal hosts.

Every hop (the first request and each redirect) is checked before connecting: only http(s),
and every address the host resolves to must be public. The address actually connected to is
checked again, which narrows the DNS-rebinding window to nothing useful.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import tempfile
import time
from dataclasses import dataclass
from email.message import Message
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from backend.knowledge.parsing.types import IngestError, IngestLimits

_REDIRECTS = {301, 302, 303, 307, 308}
_UNSAFE_NAME = re.compile(r"[^\w.\- ()]+")
_HEADERS = {"User-Agent": "deskpilot-knowledge-fetcher/1.0", "Accept": "*/*"}


@dataclass(frozen=True)
class FetchedFile:
    """A downloaded file: where it is, the name to show, its content type, the final URL."""

    path: Path
    filename: str
    content_type: str | None
    final_url: str


def _error(code: str, message: str) -> IngestError:
    return IngestError(message, code=code)


def is_public_address(address: str) -> bool:
    """False for private, loopback, link-local, multicast, reserved or unspecified addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    blocked = (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )
    # is_global also excludes shared carrier-grade NAT space (100.64.0.0/10).
    return not blocked and ip.is_global


def _check_url(url: str, limits: IngestLimits) -> None:
    """Refuse non-http(s) URLs and hosts that resolve to an internal address."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        found = (
            f"this one starts with '{parts.scheme}:'" if parts.scheme else "add https:// in front"
        )
        raise _error(
            "url_forbidden",
            f"Only web addresses starting with http:// or https:// can be fetched; {found}.",
        )
    host = parts.hostname
    if not host:
        raise _error("url_fetch_failed", f"'{url}' is not a complete web address.")
    if limits.allow_private_urls:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        raise _error(
            "url_fetch_failed", f"The server '{host}' could not be found. Check the address."
        ) from None
    for info in infos:
        if not is_public_address(str(info[4][0])):
            raise _forbidden(host)


def _forbidden(host: str) -> IngestError:
    return _error(
        "url_forbidden",
        f"The address '{host}' points to a private or internal network, which is not allowed. "
        "Only public web pages can be fetched; upload the file directly instead.",
    )


def _check_peer(response: httpx.Response, host: str, limits: IngestLimits) -> None:
    """The address actually connected to must be public too (DNS can change in between)."""
    if limits.allow_private_urls:
        return
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer and not is_public_address(str(peer[0])):
        raise _forbidden(host)


def _filename(response: httpx.Response, url: str, content_type: str | None) -> str:
    """Content-Disposition's name, else the URL's last path segment, else index.html."""
    name = ""
    disposition = response.headers.get("content-disposition")
    if disposition:
        message = Message()
        message["content-disposition"] = disposition
        name = message.get_filename() or ""  # handles RFC 2231 filename*=UTF-8''...
    if not name:
        name = unquote(PurePosixPath(urlsplit(url).path).name)
    name = _UNSAFE_NAME.sub("_", PurePosixPath(name.replace("\\", "/")).name).strip(" ._")[:150]
    name = name or "index.html"
    if content_type == "text/html" and not name.lower().endswith((".html", ".htm")):
        name += ".html"
    return name


def _save(response: httpx.Response, dest_dir: Path, name: str, deadline: float, limit: int) -> Path:
    """Stream the body to a new file in dest_dir; removed again on any failure."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    handle, raw_path = tempfile.mkstemp(dir=dest_dir, prefix="fetch-", suffix=f"-{name}")
    path = Path(raw_path)
    try:
        received = 0
        with os.fdopen(handle, "wb") as out:
            for chunk in response.iter_bytes():  # as it arrives, so the deadline is checked
                received += len(chunk)
                if received > limit:
                    raise _too_large(limit)
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("overall deadline passed")
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _too_large(limit: int) -> IngestError:
    return _error(
        "url_too_large",
        f"The page or file at that address is larger than the {limit / 1024 / 1024:.1f} MB "
        "limit for one upload.",
    )


def fetch_url(url: str, dest_dir: Path, limits: IngestLimits) -> FetchedFile:
    """Download ``url`` into ``dest_dir``, following at most ``limits.max_redirects`` redirects.

    Raises ``IngestError`` with code url_forbidden, url_fetch_failed, url_timeout or
    url_too_large; a partial download is deleted.
    """
    deadline = time.monotonic() + limits.fetch_timeout_s
    current = url.strip()
    # trust_env=False: an environment proxy would hide which address is really contacted.
    with httpx.Client(follow_redirects=False, trust_env=False, headers=_HEADERS) as client:
        for _hop in range(limits.max_redirects + 1):
            _check_url(current, limits)
            host = urlsplit(current).hostname or ""
            remaining = max(0.001, deadline - time.monotonic())
            try:
                with client.stream("GET", current, timeout=remaining) as response:
                    _check_peer(response, host, limits)
                    location = response.headers.get("location")
                    if response.status_code in _REDIRECTS and location:
                        current = urljoin(current, location)
                        continue
                    if not response.is_success:
                        reason = response.reason_phrase or "error"
                        raise _error(
                            "url_fetch_failed",
                            f"The server answered with an error ({response.status_code} "
                            f"{reason}), so nothing was downloaded. Check the address.",
                        )
                    media = response.headers.get("content-type", "").split(";")[0].strip()
                    content_type = media.lower() or None
                    name = _filename(response, current, content_type)
                    path = _save(response, dest_dir, name, deadline, limits.max_bytes)
                    return FetchedFile(path, name, content_type, current)
            except httpx.TimeoutException:
                raise _error(
                    "url_timeout",
                    f"The address did not respond within {limits.fetch_timeout_s:g} seconds. "
                    "Try again later, or download the file and upload it directly.",
                ) from None
            except (httpx.InvalidURL, httpx.UnsupportedProtocol):
                raise _error(
                    "url_fetch_failed", f"'{current}' is not a valid web address."
                ) from None
            except httpx.HTTPError as exc:
                raise _error(
                    "url_fetch_failed",
                    f"The address could not be reached ({_reason(exc)}). Check it and try again.",
                ) from None
    raise _error(
        "url_fetch_failed",
        f"The address redirected more than {limits.max_redirects} times, so it was given up. "
        "Use the final address of the page instead.",
    )


def _reason(exc: httpx.HTTPError) -> str:
    """A short, human reason for a transport failure."""
    text = str(exc).lower()
    for needle, reason in (
        ("refused", "connection refused"),
        ("name or service", "server not found"),
        ("certificate", "its security certificate is not valid"),
        ("ssl", "secure connection failed"),
        ("reset", "connection reset"),
    ):
        if needle in text:
            return reason
    return type(exc).__name__.replace("Error", " error").lower().strip()
