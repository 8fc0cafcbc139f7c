"""Fetching a personal calendar by URL without letting the URL reach inside the city's network.

Only http and https (webcal means https). The host's addresses are resolved once and the
connection goes to an address that the policy permits, checked again as the connected peer, so a
second DNS answer cannot swap in an internal address; the blocked networks (loopback, private,
link-local, CGNAT, unique-local, IPv4-mapped, ...) come from the settings, with explicit
exceptions for tests. Redirects are followed by hand, each target checked the same way, at most
`max_redirects`. The body is capped (after decompression) and the whole fetch has a deadline on
top of the connect and read timeouts. urllib3 speaks HTTP; this module only decides where it may
connect. No Flask, no session.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, Timeout
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError
from urllib3.util import make_headers

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# IPv6 addresses that reach an IPv4 address through a gateway: NAT64 (RFC 6052) and 6to4.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
USER_AGENT = "Schul-MDM calendar sync"


class FetchError(Exception):
    """The calendar could not be fetched; the message says why (for the source's last error)."""


class BlockedAddress(FetchError):
    """The URL's host has no address the policy lets us connect to."""


@dataclass(frozen=True)
class FetchPolicy:
    """Where a fetch may connect, how much it may read and how long it may take."""

    blocked: tuple[IPNetwork, ...]
    allowed: tuple[IPNetwork, ...] = ()
    max_bytes: int = 10 * 1024 * 1024
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_seconds: float = 60.0
    max_redirects: int = 3

    @classmethod
    def from_settings(
        cls, blocked: Iterable[str], allowed: Iterable[str] = (), **limits: float
    ) -> FetchPolicy:
        """A policy from network strings such as "10.0.0.0/8"."""
        return cls(
            blocked=tuple(ipaddress.ip_network(n, strict=False) for n in blocked),
            allowed=tuple(ipaddress.ip_network(n, strict=False) for n in allowed),
            **limits,  # type: ignore[arg-type]
        )

    def permits(self, address: IPAddress) -> bool:
        """Whether a connection to this address is allowed (an IPv6 address that carries an
        IPv4 address only when that one is allowed too)."""
        if any(address in network for network in self.allowed):
            return True
        if any(address in network for network in self.blocked):
            return False
        carried = _carried_ipv4(address)
        return carried is None or self.permits(carried)


def _carried_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address reaches through NAT64, 6to4 or as a mapped address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour


@dataclass(frozen=True)
class Fetched:
    """The answer: 304 (unchanged since the validators) or 200 with the body and validators."""

    status: int
    body: bytes = b""
    content_type: str = ""
    etag: str = ""
    last_modified: str = ""


def normalize_url(url: str) -> str:
    """An http(s) URL from what a user pasted (webcal:// and webcals:// mean https://);
    ValueError with the reason otherwise."""
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("webcal", "webcals"):
        scheme = "https"
    if scheme not in ("http", "https"):
        raise ValueError("only http, https and webcal links can be subscribed to")
    if not parts.hostname:
        raise ValueError("the link has no host")
    try:
        parts.port  # noqa: B018  (a port that is not a number raises here)
    except ValueError as exc:
        raise ValueError("the link's port is not a number") from exc
    return urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))


def _address(sockaddr: tuple[object, ...]) -> IPAddress:
    return ipaddress.ip_address(str(sockaddr[0]).split("%")[0])


class _Deadline:
    """Shuts a fetch's sockets down when the whole fetch took too long: a server that sends a
    byte now and then never trips the read timeout of each receive."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[int] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def error(self) -> FetchError:
        """The error of a fetch past its deadline."""
        return FetchError(f"the fetch took longer than {self.seconds:g} seconds")

    def watch(self, sock: socket.socket) -> None:
        """Shut this socket down at the deadline (it keeps its descriptor when TLS wraps it)."""
        with self._lock:
            if self.expired:
                raise self.error()
            self._sockets.append(sock.fileno())

    def close(self, pool: HTTPConnectionPool) -> None:
        """Close a pool's connections; their descriptors are no longer watched."""
        with self._lock:
            pool.close()
            self._sockets.clear()

    def stop(self) -> None:
        """The fetch is over."""
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for descriptor in self._sockets:
                sock = socket.socket(fileno=descriptor)
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                finally:
                    sock.detach()


def _guarded_connect(
    connection: HTTPConnection, policy: FetchPolicy, deadline: _Deadline
) -> socket.socket:
    """Connect to the first permitted address of the host, and check the connected peer."""
    try:
        infos = socket.getaddrinfo(
            connection._dns_host,
            connection.port,
            type=socket.SOCK_STREAM,  # type: ignore[attr-defined]
        )
    except socket.gaierror as exc:
        raise FetchError(f"the host {connection.host} is not known") from exc
    refused: list[str] = []
    errors: list[str] = []
    for family, kind, proto, _, sockaddr in infos:
        address = _address(sockaddr)
        if not policy.permits(address):
            refused.append(str(address))
            continue
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(policy.connect_timeout)
            sock.connect(sockaddr)
            if not policy.permits(_address(sock.getpeername())):
                raise BlockedAddress(f"connected to a blocked address {sock.getpeername()[0]}")
            sock.settimeout(policy.read_timeout)
            deadline.watch(sock)
            return sock
        except OSError as exc:
            sock.close()
            errors.append(f"{address}: {exc}")
        except FetchError:
            sock.close()
            raise
    if refused and not errors:
        raise BlockedAddress(
            f"{connection.host} resolves only to addresses that may not be fetched "
            f"({', '.join(sorted(set(refused)))})"
        )
    raise FetchError(f"cannot connect to {connection.host}: {'; '.join(errors)[:300]}")


def _pool(url: str, policy: FetchPolicy, deadline: _Deadline) -> HTTPConnectionPool:
    """A connection pool for the URL's origin whose connections go through the policy."""

    class GuardedHTTP(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _guarded_connect(self, policy, deadline)

    class GuardedHTTPS(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _guarded_connect(self, policy, deadline)

    parts = urlsplit(url)
    timeout = Timeout(connect=policy.connect_timeout, read=policy.read_timeout)
    pool: HTTPConnectionPool
    if parts.scheme == "https":
        pool = HTTPSConnectionPool(
            parts.hostname, parts.port, timeout=timeout, retries=False, cert_reqs="CERT_REQUIRED"
        )
        pool.ConnectionCls = GuardedHTTPS
    else:
        pool = HTTPConnectionPool(parts.hostname, parts.port, timeout=timeout, retries=False)
        pool.ConnectionCls = GuardedHTTP
    return pool


def _headers(url: str, etag: str, last_modified: str) -> dict[str, str]:
    parts = urlsplit(url)
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "text/calendar, application/calendar+json;q=0.1, */*;q=0.5",
        "Accept-Encoding": "gzip, deflate",
    }
    if parts.username is not None:
        auth = f"{parts.username}:{parts.password or ''}"
        headers.update(make_headers(basic_auth=auth))
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def fetch(url: str, policy: FetchPolicy, *, etag: str = "", last_modified: str = "") -> Fetched:
    """GET the URL under the policy, conditionally when validators are given."""
    deadline = _Deadline(policy.total_seconds)
    try:
        return _fetch(url, policy, etag, last_modified, deadline)
    finally:
        deadline.stop()


def _fetch(
    url: str, policy: FetchPolicy, etag: str, last_modified: str, deadline: _Deadline
) -> Fetched:
    current = normalize_url(url)
    for _ in range(policy.max_redirects + 1):
        pool = _pool(current, policy, deadline)
        try:
            response = pool.urlopen(
                "GET",
                _target(current),
                headers=_headers(current, etag, last_modified),
                redirect=False,
                retries=False,
                preload_content=False,
                decode_content=True,
            )
            try:
                if deadline.expired:
                    raise deadline.error()
                if response.status in REDIRECTS:
                    location = response.headers.get("Location", "")
                    if not location:
                        raise FetchError(f"HTTP {response.status} without a Location")
                    try:
                        current = normalize_url(urljoin(current, location))
                    except ValueError as exc:
                        raise FetchError(f"redirected to an unusable link: {exc}") from exc
                    continue
                if response.status == 304:
                    return Fetched(304)
                if response.status != 200:
                    raise FetchError(f"the server answered HTTP {response.status}")
                return Fetched(
                    200,
                    _read(response, policy, deadline),
                    response.headers.get("Content-Type", ""),
                    response.headers.get("ETag", ""),
                    response.headers.get("Last-Modified", ""),
                )
            finally:
                response.release_conn()
        except HTTPError as exc:
            if deadline.expired:
                raise deadline.error() from exc
            raise FetchError(f"the fetch failed: {exc}") from exc
        finally:
            deadline.close(pool)
    raise FetchError(f"more than {policy.max_redirects} redirects")


def _read(response: object, policy: FetchPolicy, deadline: _Deadline) -> bytes:
    """The body, decompressed, refused beyond the size cap or the deadline."""
    declared = response.headers.get("Content-Length", "")  # type: ignore[attr-defined]
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise FetchError(f"the calendar is larger than {policy.max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.stream(64 * 1024, decode_content=True):  # type: ignore[attr-defined]
        size += len(chunk)
        if size > policy.max_bytes:
            raise FetchError(f"the calendar is larger than {policy.max_bytes} bytes")
        chunks.append(chunk)
    if deadline.expired:
        raise deadline.error()
    return b"".join(chunks)
