"""Where a webhook may point, and the one way a delivery reaches it (no SSRF).

A webhook URL is typed by an admin, but the request leaves from inside the network: without
a check, `http://169.254.169.254/` reads the cloud's instance metadata and
`http://127.0.0.1:5432/` probes the database. So:

- only `http` and `https`;
- the host is resolved and every address it resolves to must be public: loopback, private,
  shared (CGNAT), link-local, IPv6 site-local, multicast, reserved, unspecified and
  IPv4-mapped IPv6 addresses are refused, unless they fall in a network of
  `settings.WEBHOOK_ALLOWED_NETWORKS`;
- at registration (`Webhook.clean`) and again at every delivery, because a name may resolve
  elsewhere tomorrow;
- the delivery connects to the address it checked (not to the name again, which a DNS
  rebinding answer could point inside) and checks the peer of the socket it got;
- redirects are not followed (http.client follows none), and only the status and a short
  excerpt of the answer are kept.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ALLOWED_SCHEMES = ("http", "https")
# What is kept of a receiver's answer: enough to tell "ok" from an error page.
EXCERPT_CHARS = 200


class UnsafeTarget(Exception):
    """The URL is not one a webhook may be sent to; the message says why, for the admin."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[IPAddress, ...]


@dataclass(frozen=True)
class Answer:
    status: int | None
    excerpt: str
    error: str


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(net, strict=False) for net in settings.WEBHOOK_ALLOWED_NETWORKS]


def check_address(address: IPAddress) -> None:
    """Raise UnsafeTarget unless the address is public or in an allowed network."""
    if any(address in network for network in allowed_networks()):
        return
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        raise UnsafeTarget(_("%(address)s is an IPv4-mapped address.") % {"address": address})
    if (
        not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_loopback
        or address.is_link_local
        # IPv6 site-local (fec0::/10): deprecated but still routed inside some networks, and
        # not among the networks `is_private` (hence `is_global`) knows.
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    ):
        raise UnsafeTarget(
            _("%(address)s is an internal or reserved address.") % {"address": address}
        )


def resolve(url: str) -> Target:
    """Parse and resolve a webhook URL; raise UnsafeTarget if any address is forbidden."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise UnsafeTarget(_("Only http and https URLs are allowed."))
    try:
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeTarget(_("The URL's host or port is not valid.")) from exc
    if not host:
        raise UnsafeTarget(_("The URL has no host."))
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeTarget(_("The host %(host)s does not resolve.") % {"host": host}) from exc
    addresses: list[IPAddress] = []
    for info in infos:
        # The scope of a link-local IPv6 address ("fe80::1%eth0") is not part of the address.
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        check_address(address)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeTarget(_("The host %(host)s does not resolve.") % {"host": host})
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme, host, port, path, tuple(addresses))


def _connect(address: IPAddress, port: int, timeout: float) -> socket.socket:
    """A TCP connection to exactly this address, whose peer is checked once more."""
    sock = socket.create_connection((str(address), port), timeout=timeout)
    try:
        peer = ipaddress.ip_address(str(sock.getpeername()[0]).split("%", 1)[0])
        check_address(peer)
    except BaseException:
        sock.close()
        raise
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to a checked address; the Host header still names the URL's host."""

    def __init__(self, target: Target, address: IPAddress, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = _connect(self._address, self.port, self.timeout)  # type: ignore[arg-type]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address; the certificate is verified for the URL's host (SNI)."""

    def __init__(self, target: Target, address: IPAddress, timeout: float) -> None:
        context = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._address = address
        self._ssl_context = context

    def connect(self) -> None:
        sock = _connect(self._address, self.port, self.timeout)  # type: ignore[arg-type]
        self.sock = self._ssl_context.wrap_socket(sock, server_hostname=self.host)


def post(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST `body` to `url` once, resolved and checked now; never raises for the receiver."""
    try:
        target = resolve(url)
    except UnsafeTarget as exc:
        return Answer(None, "", _("Refused: %(reason)s") % {"reason": exc})
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, target.addresses[0], timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        # Read a little more than kept, so a multi-byte character cut short does not show.
        excerpt = response.read(EXCERPT_CHARS * 4).decode(errors="replace")[:EXCERPT_CHARS]
        status = response.status
    except UnsafeTarget as exc:
        return Answer(None, "", _("Refused: %(reason)s") % {"reason": exc})
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return Answer(None, "", str(exc) or exc.__class__.__name__)
    finally:
        connection.close()
    error = "" if 200 <= status < 300 else f"HTTP {status}"
    return Answer(status, excerpt, error)
