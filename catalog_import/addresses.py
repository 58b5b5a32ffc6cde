"""Which addresses the server may connect to on a user's behalf (media downloads, webhook deliveries),
checked on the address actually connected to.

Only public unicast addresses are allowed: loopback, private, link-local, multicast, reserved and other
special-purpose ranges are refused unless the URL's host is listed in ``MEDIA_ALLOWED_HOSTS``. The check sits
where each client turns a name into addresses (the network backend under httpx for webhooks, the resolver of
aiohttp's connector for media), so the addresses that were checked are the ones connected to: a name that
resolves differently a second time (DNS rebinding) gains nothing. A host written as an IP address is never
resolved; callers check it with ``check_host`` before each request, redirects included."""

import ipaddress
import re
import socket
import typing
from collections.abc import Iterable

import aiohttp.abc
import aiohttp.resolver
import anyio
import httpcore
import httpx
import yarl

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ForbiddenAddress(Exception):
    """A connection to an address the server must not connect to."""


def is_public(address: IPAddress) -> bool:
    """A globally routable unicast address (IPv4-mapped IPv6 addresses are judged as IPv4). The deprecated
    IPv6 site-local (fec0::/10) and IPv4-compatible (::/96) ranges, which ``is_global`` lets through, are
    not public either."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address.is_site_local or int(address) >> 32 == 0:
            return False
    return address.is_global and not address.is_multicast


HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


def check_fetch_url(url: str | yarl.URL) -> yarl.URL:
    """``url`` as the media downloader's client reads it (yarl, aiohttp's parser), if it is a URL the
    server may fetch on a user's behalf; raise ValueError with the reason otherwise. Besides http or https
    and a port from 1 to 65535, the host must be a DNS name or an IP address written in its standard form:
    a host that parsers read differently (``0177.0.0.1`` is 127.0.0.1 to some and a name to others,
    ``2130706433`` a number to some) is refused, and so are credentials, which would be sent to the server
    and shown with the media's source URL."""
    try:
        parsed = yarl.URL(url)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"is not a valid URL: {exc}") from exc
    if parsed.scheme not in ("http", "https"):
        raise ValueError("must be an http or https URL")
    if parsed.user is not None or parsed.password is not None:
        raise ValueError("must not carry a user name or password")
    port = parsed.explicit_port
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"has port {port}; a port is 1 to 65535")
    host = parsed.raw_host or ""
    if not host:
        raise ValueError("has no host")
    if ":" in host:  # written in brackets: an IPv6 address, without a zone (it names a local interface)
        try:
            if "%" in host:
                raise ValueError("a zone")
            ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise ValueError(f"has host [{host}], which is not an IPv6 address") from exc
        return parsed
    labels = host.removesuffix(".").split(".")
    if NUMERIC_LABEL.match(labels[-1]):
        try:
            ipaddress.IPv4Address(host)
        except ValueError as exc:
            raise ValueError(f"has host {host}, which is not an IPv4 address in dotted decimal") from exc
        return parsed
    if len(host) > 253 or not all(HOST_LABEL.match(label) for label in labels):
        raise ValueError(f"has host {host}, which is not a valid host name")
    return parsed


class AddressPolicy:
    def __init__(self, allowed_hosts: Iterable[str] = ()) -> None:
        self.allowed_hosts = frozenset(
            host.strip().lower().strip("[]") for host in allowed_hosts if host.strip()
        )

    def allows_host(self, host: str) -> bool:
        return host.lower().strip("[]") in self.allowed_hosts

    def check_host(self, host: str) -> None:
        """Raise ForbiddenAddress for a host refused without looking it up: an IP address that is not public,
        or a ``localhost`` name (RFC 6761), unless allowed. Other names are judged when connecting, by the
        addresses they resolve to then."""
        name = host.lower().strip("[]").removesuffix(".")
        if self.allows_host(name):
            return
        if name == "localhost" or name.endswith(".localhost"):
            raise ForbiddenAddress(f"{host} is a loopback name, not a public address")
        try:
            address = ipaddress.ip_address(name.split("%", 1)[0])
        except ValueError:
            return
        if not is_public(address):
            raise ForbiddenAddress(f"{host} is not a public address")

    def check(self, host: str, address: str) -> None:
        """Raise ForbiddenAddress unless ``host`` is allowed by name or ``address`` is public."""
        if self.allows_host(host):
            return
        if not is_public(ipaddress.ip_address(address.split("%", 1)[0])):
            raise ForbiddenAddress(f"{host} resolves to {address}, which is not a public address")


class GuardedResolver(aiohttp.abc.AbstractResolver):
    """aiohttp's resolver with the policy applied: every address a name resolves to must pass, and only
    checked addresses reach the connector (which connects to exactly those, and caches only those)."""

    def __init__(self, policy: AddressPolicy, inner: aiohttp.abc.AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner or aiohttp.resolver.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        self.policy.check_host(host)
        resolved = await self.inner.resolve(host, port, family)
        if not resolved:
            raise OSError(f"{host} has no address")
        for result in resolved:
            self.policy.check(host, result["host"])
        return resolved

    async def close(self) -> None:
        await self.inner.close()


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, checks the address, and connects to exactly that address."""

    def __init__(self, policy: AddressPolicy, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.policy = policy
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (the interface httpcore calls)
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                resolved = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = [str(info[4][0]) for info in resolved]
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        # Every address the name has must pass, not just the one tried first.
        for address in addresses:
            self.policy.check(host, address)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (the interface httpcore calls)
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise ForbiddenAddress("no connections over unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a connection pool whose every connection goes through the policy. Proxies
    from the environment are not used (a proxy would connect on our behalf, unchecked)."""

    def __init__(self, policy: AddressPolicy, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # httpcore would also follow a redirect to ws:// or wss://; only http and https are spoken.
        if request.url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"{request.url.scheme} is not http or https", request=request)
        # httpx takes any number for a port; the socket layer would fail on it in ways nobody expects.
        port = request.url.port
        if port is not None and not 1 <= port <= 65535:
            raise ForbiddenAddress(f"{request.url} has port {port}; a port is 1 to 65535")
        return await super().handle_async_request(request)
