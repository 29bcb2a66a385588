"""HTTP to addresses an owner chose, without letting them point it at our own network.

The site's URL is set by whoever runs its dashboard; the sidecar POSTs to it (wordpress:// mail,
coupons). Left alone, that is a way to make the sidecar call 127.0.0.1, the cloud's metadata
service at 169.254.169.254 or anything on the private network it sits in. So every connection
made through :func:`session` resolves the name once, refuses it unless EVERY address it resolved
to is public (or inside a network the operator allowed, FAREWELL_BRIDGE_ALLOWED_NETWORKS), then
connects to those checked addresses and no others: a name whose DNS answer changes between a
check and the connection (DNS rebinding) cannot slip through, because nothing is resolved again.
TLS still verifies the certificate for the name in the URL (urllib3 takes the server name from the
URL's host, not from the socket).

No published package does this for requests and is kept up (``advocate`` stopped in 2020), so it
is this small module: a urllib3 connection whose ``_new_conn`` does the above, behind an ordinary
requests ``HTTPAdapter``. Proxies from the environment and ``.netrc`` are ignored: through a proxy
the check would be made on the proxy's address, not the site's.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from typing import Iterable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# What Python's is_global has called public in some versions and not in others, or what reaches a
# private IPv4 address through IPv6, decided here once whatever the Python version:
# ::/8 holds ::1, :: and the deprecated IPv4-compatible ::a.b.c.d; fec0::/10 is the deprecated
# site-local range; 2001::/32 is Teredo, whose relays reach IPv4 addresses of their own choosing.
_IPV6_REFUSED = tuple(ipaddress.ip_network(n) for n in ("::/8", "fec0::/10", "2001::/32"))
# NAT64's well-known prefix: the gateway connects to the IPv4 address in the last 32 bits. An
# IPv6-only host reaches every IPv4-only site this way, so judge the IPv4 address, not the prefix.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DestinationRefused(NewConnectionError):
    """The URL's host is, or resolves to, an address this sidecar may not call. Raised before any
    packet is sent to it; requests reports it as a ``requests.ConnectionError``."""


def refusal(address: Address, allowed: Iterable[Network] = ()) -> str | None:
    """Why the sidecar may not connect to ``address``; None when it may: a public (globally
    reachable) unicast address, or one inside a network of ``allowed``."""
    allowed = tuple(allowed)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # ::ffff:a.b.c.d: the kernel connects to the IPv4 address itself.
        return refusal(address.ipv4_mapped, allowed)
    # Never a web server, whatever the operator allowed: 0.0.0.0 and :: reach this very host.
    if address.is_unspecified:
        return "unspecified address (this host)"
    if address.is_multicast:
        return "multicast address"
    if any(address.version == network.version and address in network for network in allowed):
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64:
            return refusal(ipaddress.IPv4Address(address.packed[-4:]), allowed)
        if address.sixtofour is not None and refusal(address.sixtofour, allowed):
            return "6to4 address of a non-public IPv4 address"
    public = address.is_global and not (
        isinstance(address, ipaddress.IPv6Address) and any(address in network for network in _IPV6_REFUSED))
    if public:
        return None
    for kind in ("loopback", "link_local", "private", "reserved"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-") + " address"
    return "non-public address"  # 100.64.0.0/10 (carrier-grade NAT) and the like


def url_problem(url: str, allowed: Iterable[Network] = ()) -> str | None:
    """What is wrong with a site URL as a destination, checked where it is entered, or None:
    "scheme" (not http or https), "credentials" (user:password@ in it), "host" (none, or not
    parseable), "private" (a literal IP address that :func:`refusal` refuses). A host NAME is
    accepted here whatever it resolves to: that is checked when connecting, every time."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return "host"
    if parts.scheme.lower() not in ("http", "https"):
        return "scheme"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "credentials"
    if not host:
        return "host"
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        try:  # 127.1, 0x7f000001, 2130706433: shorthand IPv4 that the resolver takes as an address too
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return "private" if refusal(address, allowed) else None


class _GuardedConnection:
    """Mixed into urllib3's connections: resolve, check every address, connect to a checked one."""

    allowed: tuple[Network, ...] = ()

    def _new_conn(self) -> socket.socket:
        host = self._dns_host.strip("[]")
        try:
            answers = socket.getaddrinfo(host, self.port, urllib3_connection.allowed_gai_family(), socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error
        # All of them, before connecting to any: whoever controls the name controls the order too.
        for *_, sockaddr in answers:
            address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
            reason = refusal(address, self.allowed)
            if reason:
                raise DestinationRefused(self, f"{self.host} is {address}, a {reason}: refused "
                                               f"(FAREWELL_BRIDGE_ALLOWED_NETWORKS can allow it)")
        last_error: OSError | None = None
        for *_, sockaddr in answers:
            try:
                # The address literal, checked above; urllib3 resolves nothing for it.
                sock = urllib3_connection.create_connection(
                    (sockaddr[0], self.port), self.timeout, source_address=self.source_address,
                    socket_options=self.socket_options)
            except socket.timeout as error:
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})") from error
            except OSError as error:
                last_error = error
                continue
            sys.audit("http.client.connect", self, self.host, self.port)
            return sock
        raise NewConnectionError(self, f"Failed to establish a new connection: {last_error}")


def _pool_classes(allowed: tuple[Network, ...]) -> dict:
    attributes = {"allowed": allowed}
    http = type("GuardedHTTPConnection", (_GuardedConnection, HTTPConnection), attributes)
    https = type("GuardedHTTPSConnection", (_GuardedConnection, HTTPSConnection), attributes)
    return {"http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https})}


class GuardedAdapter(HTTPAdapter):
    def __init__(self, allowed: Iterable[Network] = (), **kwargs):
        self.allowed = tuple(allowed)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.allowed)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        raise requests.exceptions.InvalidProxyURL("calls to sites go direct: a proxy would be checked instead of the site")


class GuardedSession(requests.Session):
    """A requests session that connects only to addresses :func:`refusal` accepts."""

    def __init__(self, allowed: Iterable[Network] = ()):
        super().__init__()
        self.trust_env = False  # no proxies or .netrc credentials from the environment
        self.allowed = tuple(allowed)
        adapter = GuardedAdapter(self.allowed)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def get_adapter(self, url: str):
        adapter = super().get_adapter(url)
        if not isinstance(adapter, GuardedAdapter):  # someone mounted another one on a longer prefix
            raise requests.exceptions.InvalidURL(f"no guarded adapter for {url!r}")
        return adapter


def session(allowed: Iterable[Network] = ()) -> GuardedSession:
    return GuardedSession(allowed)
