"""The push gateway: which backend wakes which device, and the three backends (APNs, a
school's signed webhook, the log). No session here: the job hands plain data in and records
the outcomes (mdm/push/service.py)."""

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import socket
import ssl
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-MDM-Signature"
WEBHOOK_DEVICES_PER_REQUEST = 1000
# IPv6 addresses that reach an IPv4 address through a gateway (RFC 6052); 6to4 is 2002::/16.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# APNs reasons (Apple's "Handling notification responses from APNs") that say the token will
# never work again: the device's address is marked invalid.
TOKEN_REASONS = frozenset(
    {"BadDeviceToken", "DeviceTokenNotForTopic", "Unregistered", "ExpiredToken"}
)
# Reasons that say the school's certificate or topic is wrong: retried, and shown to admins.
SETTINGS_REASONS = frozenset(
    {
        "BadCertificate",
        "BadCertificateEnvironment",
        "Forbidden",
        "BadTopic",
        "MissingTopic",
        "TopicDisallowed",
        "ExpiredProviderToken",
        "InvalidProviderToken",
        "MissingProviderToken",
    }
)


@dataclass(frozen=True)
class ApnsAddress:
    """Where APNs reaches a device."""

    token: str
    push_magic: str
    topic: str


@dataclass(frozen=True)
class Wakeup:
    """A device to wake."""

    device_id: int
    school_id: int
    platform: str
    reason: str
    apns: ApnsAddress | None = None


@dataclass(frozen=True)
class SchoolPush:
    """A school's push settings, as the backends need them."""

    school_id: int
    slug: str
    webhook_url: str | None = None
    webhook_secret: bytes | None = None
    apns_certificate_pem: str | None = None
    apns_key_pem: bytes | None = None
    apns_topic: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What became of one wake-up: sent, retry (later, with back-off) or invalid (the device's
    address will never work); `settings_error` is a problem of the school's settings."""

    device_id: int
    result: str
    backend: str
    error: str | None = None
    settings_error: str | None = None


class Backend(Protocol):
    """Sends wake-ups of one school."""

    name: str

    def send(self, school: SchoolPush, wakeups: list[Wakeup]) -> list[Outcome]:
        """Try each wake-up once."""
        ...


def route(school: SchoolPush, wakeup: Wakeup) -> str:
    """APNs for a device with an address when the school has its push certificate; else the
    school's webhook; else the log."""
    if wakeup.apns is not None and school.apns_certificate_pem and school.apns_key_pem:
        return "apns"
    if school.webhook_url and school.webhook_secret:
        return "webhook"
    return "log"


def deliver(
    schools: dict[int, SchoolPush], wakeups: Iterable[Wakeup], backends: dict[str, Backend]
) -> list[Outcome]:
    """Send every wake-up through its backend, school by school."""
    grouped: dict[tuple[int, str], list[Wakeup]] = {}
    for wakeup in wakeups:
        school = schools[wakeup.school_id]
        grouped.setdefault((wakeup.school_id, route(school, wakeup)), []).append(wakeup)
    outcomes: list[Outcome] = []
    for (school_id, name), batch in sorted(grouped.items()):
        outcomes.extend(backends[name].send(schools[school_id], batch))
    return outcomes


class LogBackend:
    """The default: the wake-up is written to the log (the device gets its work when it checks
    in on its own)."""

    name = "log"

    def send(self, school: SchoolPush, wakeups: list[Wakeup]) -> list[Outcome]:
        """Log each wake-up."""
        for wakeup in wakeups:
            log.info(
                "wake-up of device %s (school %s, %s): no push configured",
                wakeup.device_id,
                school.slug,
                wakeup.reason,
            )
        return [Outcome(w.device_id, "sent", self.name) for w in wakeups]


def classify_apns(status: int, reason: str) -> tuple[str, str | None, str | None]:
    """(result, error, settings error) of an APNs answer."""
    if status == 200:
        return "sent", None, None
    error = f"APNs {status} {reason}".strip()
    if reason in TOKEN_REASONS or status == 410:
        return "invalid", error, None
    if reason in SETTINGS_REASONS or status == 403:
        return "retry", error, error
    return "retry", error, None


def _client_context(certificate_pem: str, key_pem: bytes, ca_file: str | None) -> ssl.SSLContext:
    """A TLS context that verifies APNs and presents the school's push certificate."""
    context = ssl.create_default_context(cafile=ca_file or None)
    with tempfile.TemporaryDirectory() as folder:
        cert_path = os.path.join(folder, "push.pem")
        key_path = os.path.join(folder, "push.key")
        for path, content in ((cert_path, certificate_pem.encode()), (key_path, key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
        context.load_cert_chain(cert_path, key_path)
    return context


class ApnsBackend:
    """Apple's push service over HTTP/2, authenticated by the school's MDM push certificate;
    the payload is {"mdm": PushMagic}; many pushes share one connection."""

    name = "apns"

    def __init__(
        self, base_url: str, ca_file: str | None, timeout: float, concurrency: int
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.ca_file = ca_file
        self.timeout = timeout
        self.concurrency = concurrency

    def send(self, school: SchoolPush, wakeups: list[Wakeup]) -> list[Outcome]:
        """Push to each device; the answers are mapped as Apple documents them."""
        assert school.apns_certificate_pem and school.apns_key_pem
        try:
            context = _client_context(
                school.apns_certificate_pem, school.apns_key_pem, self.ca_file
            )
        except (ssl.SSLError, OSError) as exc:
            error = f"the push certificate cannot be used: {exc}"
            return [Outcome(w.device_id, "retry", self.name, error, error) for w in wakeups]
        return asyncio.run(self._send_all(context, wakeups))

    async def _send_all(self, context: ssl.SSLContext, wakeups: list[Wakeup]) -> list[Outcome]:
        limit = asyncio.Semaphore(self.concurrency)
        async with httpx.AsyncClient(http2=True, verify=context, timeout=self.timeout) as client:
            return list(await asyncio.gather(*(self._one(client, limit, w) for w in wakeups)))

    async def _one(
        self, client: httpx.AsyncClient, limit: asyncio.Semaphore, wakeup: Wakeup
    ) -> Outcome:
        address = wakeup.apns
        assert address is not None
        async with limit:
            try:
                response = await client.post(
                    f"{self.base_url}/3/device/{address.token}",
                    json={"mdm": address.push_magic},
                    headers={
                        "apns-topic": address.topic,
                        "apns-push-type": "mdm",
                        "apns-priority": "10",
                    },
                )
            except httpx.HTTPError as exc:
                return Outcome(wakeup.device_id, "retry", self.name, f"APNs unreachable: {exc!r}")
        reason = ""
        if response.status_code != 200:
            try:
                reason = str(response.json().get("reason", ""))
            except ValueError:
                reason = response.text[:100]
        result, error, settings_error = classify_apns(response.status_code, reason)
        return Outcome(wakeup.device_id, result, self.name, error, settings_error)


def webhook_signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value: t=<unix time>,v1=<HMAC-SHA256 of "<t>.<body>">."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def public_address(url: str) -> tuple[str | None, str | None]:
    """An address of the webhook URL's host to connect to, or None and why there is none: every
    address the host has must be public (loopback, private, link-local and reserved are not)."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = sorted(
            {str(info[4][0]) for info in socket.getaddrinfo(host, None)},
            key=lambda address: (":" in address, address),
        )
    except (socket.gaierror, UnicodeError):
        return None, f"the host {host!r} cannot be resolved"
    for address in addresses:
        if not _public(ipaddress.ip_address(address.split("%")[0])):
            return None, f"the host {host!r} has the non-public address {address}"
    return addresses[0], None


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is public, and so is the IPv4 address an IPv6 address reaches through
    NAT64 or 6to4 (which Python counts as global whatever they carry)."""
    if not ip.is_global:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        carried = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in NAT64 else ip.sixtofour
        return carried is None or carried.is_global
    return True


@dataclass(frozen=True)
class WebhookTarget:
    """Where a wake-up goes: the URL connected to, and the Host header and TLS name it keeps."""

    url: str
    headers: dict[str, str]
    extensions: dict[str, str]


def pinned_target(url: str, address: str) -> WebhookTarget:
    """The URL with its host replaced by the checked address, so the connection goes where the
    check looked (a second DNS answer cannot swap in an internal address); the Host header and
    the TLS server name still name the host, whose certificate is verified."""
    parts = urlsplit(url)
    netloc = f"[{address}]" if ":" in address else address
    if parts.port is not None:
        netloc += f":{parts.port}"
    return WebhookTarget(
        urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")),
        {"Host": parts.netloc},
        {"sni_hostname": parts.hostname or ""},
    )


class WebhookBackend:
    """A POST of a signed JSON wake-up naming the devices to the school's URL (its MQTT or FCM
    bridge)."""

    name = "webhook"

    def __init__(self, timeout: float, allow_private: bool) -> None:
        self.timeout = timeout
        self.allow_private = allow_private

    def send(self, school: SchoolPush, wakeups: list[Wakeup]) -> list[Outcome]:
        """Post the wake-ups, up to WEBHOOK_DEVICES_PER_REQUEST devices a request."""
        assert school.webhook_url and school.webhook_secret
        target = WebhookTarget(school.webhook_url, {}, {})
        if not self.allow_private:
            address, refused = public_address(school.webhook_url)
            if address is None:
                error = f"webhook refused: {refused}"
                return [Outcome(w.device_id, "retry", self.name, error, error) for w in wakeups]
            target = pinned_target(school.webhook_url, address)
        outcomes: list[Outcome] = []
        with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
            for start in range(0, len(wakeups), WEBHOOK_DEVICES_PER_REQUEST):
                chunk = wakeups[start : start + WEBHOOK_DEVICES_PER_REQUEST]
                outcomes.extend(self._post(client, school, target, chunk))
        return outcomes

    def _post(
        self,
        client: httpx.Client,
        school: SchoolPush,
        target: WebhookTarget,
        wakeups: list[Wakeup],
    ) -> list[Outcome]:
        assert school.webhook_url and school.webhook_secret
        body = json.dumps(
            {
                "type": "wake-up",
                "school_id": school.school_id,
                "school": school.slug,
                "sent_at": datetime.now(UTC).isoformat(),
                "devices": [
                    {"id": w.device_id, "platform": w.platform, "reason": w.reason} for w in wakeups
                ],
            },
            separators=(",", ":"),
        ).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: webhook_signature(school.webhook_secret, int(time.time()), body),
            **target.headers,
        }
        try:
            response = client.post(
                target.url, content=body, headers=headers, extensions=target.extensions
            )
        except httpx.HTTPError as exc:
            error = f"webhook unreachable: {exc!r}"
            return [Outcome(w.device_id, "retry", self.name, error, error) for w in wakeups]
        if 200 <= response.status_code < 300:
            return [Outcome(w.device_id, "sent", self.name) for w in wakeups]
        error = f"webhook answered {response.status_code}"
        return [Outcome(w.device_id, "retry", self.name, error, error) for w in wakeups]
