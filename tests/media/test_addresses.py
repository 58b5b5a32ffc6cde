"""The address rules: which addresses media may come from, and the network backend that applies them to
every connection. Non-public addresses are only ever checked, never connected to; the one connection
opened goes to a server on 127.0.0.1."""

import socket
import typing
from collections.abc import Iterator

import aiohttp.abc
import anyio
import httpcore
import httpx
import pytest

from catalog_import.addresses import (
    AddressPolicy,
    ForbiddenAddress,
    GuardedNetworkBackend,
    GuardedResolver,
    GuardedTransport,
)
from tests.media.servers import LoopbackServer, Reply

REFUSED = [
    # loopback
    "127.0.0.1",
    "127.0.0.2",
    "127.255.255.254",
    "::1",
    # private
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.0.1",
    "192.168.255.255",
    "fc00::1",
    "fd12:3456::1",
    # link-local (cloud metadata services live here)
    "169.254.169.254",
    "169.254.0.1",
    "fe80::1",
    "fe80::1%2",
    # multicast
    "224.0.0.1",
    "239.255.255.250",
    "ff02::1",
    "ff0e::1",
    # reserved, unspecified, broadcast and other special-purpose ranges
    "240.0.0.1",
    "255.255.255.255",
    "0.0.0.0",  # noqa: S104 (an address checked, not bound)
    "0.1.2.3",
    "::",
    "100.64.0.1",
    "192.0.2.1",
    "198.18.0.1",
    "2001:db8::1",
    "fec0::1",
    "::7f00:1",
    "::a00:1",
    # IPv4-mapped IPv6 of the above
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:172.16.0.1",
    "::ffff:192.168.0.1",
    "::ffff:169.254.169.254",
    "::ffff:224.0.0.1",
    "::ffff:0.0.0.0",
]

ACCEPTED = [
    "93.184.216.34",
    "8.8.8.8",
    "172.32.0.1",
    "2606:4700::1",
    "2001:4860:4860::8888",
    "::ffff:93.184.216.34",
]


@pytest.mark.parametrize("address", REFUSED)
def test_check_refuses_non_public_addresses(address: str) -> None:
    with pytest.raises(ForbiddenAddress, match="not a public address"):
        AddressPolicy().check("media.example.com", address)


@pytest.mark.parametrize("address", REFUSED)
def test_the_allowlist_is_by_host_name_not_by_address(address: str) -> None:
    policy = AddressPolicy(["127.0.0.1", "images.internal"])
    with pytest.raises(ForbiddenAddress):
        policy.check("media.example.com", address)


@pytest.mark.parametrize("address", ACCEPTED)
def test_check_accepts_public_addresses(address: str) -> None:
    AddressPolicy().check("media.example.com", address)
    AddressPolicy(["127.0.0.1"]).check("media.example.com", address)


@pytest.mark.parametrize("address", ["10.0.0.1", "127.0.0.1", "169.254.169.254", "::1", "93.184.216.34"])
def test_allowlisted_host_names_pass_whatever_their_address(address: str) -> None:
    policy = AddressPolicy([" Images.Internal ", "127.0.0.1", "[::1]"])
    policy.check("images.internal", address)
    policy.check("IMAGES.INTERNAL", address)
    policy.check("127.0.0.1", address)
    policy.check("::1", address)
    policy.check("[::1]", address)


def test_allowlist_entries_are_normalised_and_blanks_ignored() -> None:
    policy = AddressPolicy([" Images.Internal ", "", "  ", "[::1]"])
    assert policy.allowed_hosts == {"images.internal", "::1"}
    assert policy.allows_host("images.internal")
    assert not policy.allows_host("internal")
    assert not policy.allows_host("")


# -- the network backend ----------------------------------------------------------------------------------


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Records every connection asked for, and opens only those to 127.0.0.1."""

    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.connections: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connections.append((host, port))
        if host != "127.0.0.1":
            raise httpcore.ConnectError(f"the tests connect to 127.0.0.1 only, not {host}")
        return await self.inner.connect_tcp(host, port, timeout=timeout)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as loopback:
        yield loopback


@pytest.fixture
def recorder() -> RecordingBackend:
    return RecordingBackend()


@pytest.fixture
def backend(recorder: RecordingBackend) -> GuardedNetworkBackend:
    return GuardedNetworkBackend(AddressPolicy(["127.0.0.1"]), inner=recorder)


def fake_resolver(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[tuple[str, int]]:
    """Make name resolution answer ``answers`` (no DNS query leaves the test); returns the lookups made."""
    lookups: list[tuple[str, int]] = []

    async def getaddrinfo(host: str, port: int, **kwargs: typing.Any) -> list[typing.Any]:
        lookups.append((host, port))
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr(anyio, "getaddrinfo", getaddrinfo)
    return lookups


async def test_backend_refuses_a_loopback_address_outside_the_allowlist_before_connecting(
    backend: GuardedNetworkBackend, recorder: RecordingBackend, server: LoopbackServer
) -> None:
    with pytest.raises(ForbiddenAddress, match=r"127\.0\.0\.2"):
        await backend.connect_tcp("127.0.0.2", server.port, timeout=0.5)
    assert recorder.connections == []


@pytest.mark.parametrize("host", ["localhost", "::1"])
async def test_backend_refuses_other_loopback_names_before_connecting(
    backend: GuardedNetworkBackend, recorder: RecordingBackend, server: LoopbackServer, host: str
) -> None:
    with pytest.raises(ForbiddenAddress):
        await backend.connect_tcp(host, server.port, timeout=0.5)
    assert recorder.connections == []


async def test_backend_connects_to_an_allowed_server(
    backend: GuardedNetworkBackend, recorder: RecordingBackend, server: LoopbackServer
) -> None:
    server.serve("/hello", Reply(body=b"hello", content_type="text/plain"))
    stream = await backend.connect_tcp("127.0.0.1", server.port, timeout=0.5)
    try:
        await stream.write(
            b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", timeout=0.5
        )
        received = b""
        while chunk := await stream.read(4096, timeout=0.5):
            received += chunk
    finally:
        await stream.aclose()
    assert received.startswith(b"HTTP/1.1 200")
    assert received.endswith(b"hello")
    assert recorder.connections == [("127.0.0.1", server.port)]
    assert server.requests("/hello") == 1


async def test_backend_connects_to_the_address_it_checked(
    monkeypatch: pytest.MonkeyPatch, recorder: RecordingBackend, server: LoopbackServer
) -> None:
    lookups = fake_resolver(monkeypatch, {"images.internal": ["127.0.0.1"]})
    backend = GuardedNetworkBackend(AddressPolicy(["images.internal"]), inner=recorder)
    stream = await backend.connect_tcp("images.internal", server.port, timeout=0.5)
    await stream.aclose()
    # Resolved once, and the inner backend is handed the address, not the name to resolve again.
    assert lookups == [("images.internal", server.port)]
    assert recorder.connections == [("127.0.0.1", server.port)]


async def test_backend_refuses_a_name_when_any_of_its_addresses_is_not_public(
    monkeypatch: pytest.MonkeyPatch, backend: GuardedNetworkBackend, recorder: RecordingBackend
) -> None:
    fake_resolver(monkeypatch, {"media.example.com": ["93.184.216.34", "10.0.0.1"]})
    with pytest.raises(ForbiddenAddress, match=r"10\.0\.0\.1"):
        await backend.connect_tcp("media.example.com", 80, timeout=0.5)
    assert recorder.connections == []


async def test_backend_reports_a_name_that_does_not_resolve_as_a_connect_error(
    monkeypatch: pytest.MonkeyPatch, backend: GuardedNetworkBackend, recorder: RecordingBackend
) -> None:
    fake_resolver(monkeypatch, {})
    with pytest.raises(httpcore.ConnectError, match=r"cannot resolve nowhere\.example"):
        await backend.connect_tcp("nowhere.example", 80, timeout=0.5)
    assert recorder.connections == []


async def test_backend_refuses_unix_sockets(backend: GuardedNetworkBackend) -> None:
    with pytest.raises(ForbiddenAddress):
        await backend.connect_unix_socket("/var/run/docker.sock")


# -- the resolver of the media downloader (called directly: nothing connects) --------------------------------


class AnsweringResolver(aiohttp.abc.AbstractResolver):
    """Answers names from a table, without a DNS query."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        return [
            {"hostname": host, "host": a, "port": port, "family": family, "proto": 0, "flags": 0}
            for a in self.answers.get(host, [])
        ]

    async def close(self) -> None:
        pass


async def test_resolver_refuses_a_name_when_any_of_its_addresses_is_not_public() -> None:
    inner = AnsweringResolver({"media.example.com": ["93.184.216.34", "10.0.0.1"]})
    with pytest.raises(ForbiddenAddress, match=r"10\.0\.0\.1"):
        await GuardedResolver(AddressPolicy(), inner).resolve("media.example.com", 80)


async def test_resolver_passes_the_addresses_of_an_allowed_name() -> None:
    inner = AnsweringResolver({"images.internal": ["127.0.0.1", "127.0.0.2"]})
    resolved = await GuardedResolver(AddressPolicy(["images.internal"]), inner).resolve("images.internal", 80)
    assert [result["host"] for result in resolved] == ["127.0.0.1", "127.0.0.2"]


async def test_resolver_reports_a_name_without_addresses() -> None:
    with pytest.raises(OSError, match="has no address"):
        await GuardedResolver(AddressPolicy(), AnsweringResolver({})).resolve("nowhere.example", 80)


# -- the transport ----------------------------------------------------------------------------------------


@pytest.fixture
async def client() -> typing.AsyncIterator[httpx.AsyncClient]:
    transport = GuardedTransport(AddressPolicy(["127.0.0.1"]), httpx.Limits(max_connections=2))
    async with httpx.AsyncClient(transport=transport, timeout=0.5) as client:
        yield client


async def test_transport_fetches_from_an_allowed_host(
    client: httpx.AsyncClient, server: LoopbackServer
) -> None:
    url = server.serve("/a.png", Reply(body=b"png"))
    response = await client.get(url)
    assert response.status_code == 200
    assert response.content == b"png"


async def test_transport_refuses_a_non_public_address(
    client: httpx.AsyncClient, server: LoopbackServer
) -> None:
    with pytest.raises(ForbiddenAddress):
        await client.get(f"http://127.0.0.2:{server.port}/a.png")


@pytest.mark.parametrize("scheme", ["ws", "wss"])
async def test_transport_speaks_only_http_and_https(
    client: httpx.AsyncClient, server: LoopbackServer, scheme: str
) -> None:
    with pytest.raises(httpx.UnsupportedProtocol):
        await client.get(f"{scheme}://127.0.0.1:{server.port}/a.png")
    assert server.requests() == 0
