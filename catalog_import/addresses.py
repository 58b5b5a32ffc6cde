"""Which addresses the server may connect to on a user's behalf (media downloads, webhook deliveries),
checked on the address actually connected to.

Only public unicast addresses are allowed: loopback, private, link-local, multicast, reserved and other
special-purpose ranges are refused unless the URL's host is listed in ``MEDIA_ALLOWED_HOSTS``. The check sits
in the network backend under httpx, so it applies to every connection, redirects included, and the address
that was checked is the one connected to: a name that resolves differently a second time (DNS rebinding)
gains nothing."""

import ipaddress
import socket
import typing
from collections.abc import Iterable

import anyio
import httpcore
import httpx

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


class AddressPolicy:
    def __init__(self, allowed_hosts: Iterable[str] = ()) -> None:
        self.allowed_hosts = frozenset(
            host.strip().lower().strip("[]") for host in allowed_hosts if host.strip()
        )

    def allows_host(self, host: str) -> bool:
        return host.lower().strip("[]") in self.allowed_hosts

    def check(self, host: str, address: str) -> None:
        """Raise ForbiddenAddress unless ``host`` is allowed by name or ``address`` is public."""
        if self.allows_host(host):
            return
        if not is_public(ipaddress.ip_address(address.split("%", 1)[0])):
            raise ForbiddenAddress(f"{host} resolves to {address}, which is not a public address")


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
        return await super().handle_async_request(request)
