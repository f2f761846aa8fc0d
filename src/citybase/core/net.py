"""Calls the platform makes to addresses others gave it (NGSI-LD notification endpoints, any
webhook) stay on the public internet: loopback, private, link-local, shared (CGNAT), reserved and
the clouds' metadata addresses are refused unless the operator names them
(``web.outbound_allow``).

A name is judged by what it resolves to, twice: when the endpoint is given (so a subscriber is
told at once) and again when the call is made, on the very addresses the connection then uses —
a name that later resolves inside (DNS rebinding) is refused then. Redirects are not followed.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from citybase.core.errors import CitybaseError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# instance metadata services: refused even inside an allowed network, unless named themselves
METADATA: frozenset[Address] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Tencent Cloud
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure's wire server (a public address)
        "fd00:ec2::254",  # AWS over IPv6
    )
)


HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


class OutboundRefused(CitybaseError):
    status_code = 400
    code = "outbound_refused"


@dataclass(frozen=True)
class OutboundPolicy:
    """Which addresses outside the public internet may be called: networks, and host names
    allowed whatever they resolve to."""

    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, spec: str) -> OutboundPolicy:
        """``"10.1.0.0/16, 127.0.0.1, notify.internal"`` → the policy (a bad entry raises
        ValueError naming it)."""
        networks: list[Network] = []
        hosts: set[str] = set()
        for raw in spec.split(","):
            item = raw.strip().lower()
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                if not HOST.match(item):
                    raise ValueError(
                        f"{raw.strip()!r} is neither a network nor a host name"
                    ) from None
                hosts.add(item)
        return cls(tuple(networks), frozenset(hosts))

    def refusal(self, address: Address) -> str | None:
        """Why this address may not be called, or None."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        named = any(address in n for n in self.networks)
        if address in METADATA:
            exact = any(n.num_addresses == 1 and address in n for n in self.networks)
            return None if exact else f"{address} is a cloud metadata address"
        if address.is_global and not address.is_multicast:
            return None
        if named:
            return None
        kind = (
            "loopback" if address.is_loopback
            else "link-local" if address.is_link_local
            else "private" if address.is_private
            else "multicast" if address.is_multicast
            else "not a public"
        )  # fmt: skip
        return f"{address} is a {kind} address"


def _addresses(host: str, port: int) -> list[tuple[int, Address]]:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundRefused(f"{host} does not resolve: {exc}", field="uri") from None
    out: list[tuple[int, Address]] = []
    for family, _, _, _, sockaddr in found:
        out.append((family, ipaddress.ip_address(str(sockaddr[0]).split("%")[0])))
    return out


def resolve(host: str, port: int, policy: OutboundPolicy) -> list[tuple[int, Address]]:
    """The addresses ``host`` resolves to, every one of them allowed; OutboundRefused naming
    the first that is not. A host name the policy names is allowed whatever it resolves to."""
    host = host.strip("[]").lower()
    found = _addresses(host, port)
    if host in policy.hosts:
        return found
    for _, address in found:
        why = policy.refusal(address)
        if why is not None:
            raise OutboundRefused(f"{host} may not be called: {why} (web.outbound_allow)",
                                  field="uri")  # fmt: skip
    return found


def check_endpoint(uri: str, policy: OutboundPolicy, default_port: int = 80) -> None:
    """At the time an endpoint is given: an address literal or a name resolving outside the
    public internet is refused. A name that does not resolve now is let through (it is judged
    again when it is called)."""
    parts = urlsplit(uri)
    host = (parts.hostname or "").lower()
    if not host:
        raise OutboundRefused("the endpoint names no host", field="uri")
    try:
        port = parts.port or default_port
    except ValueError:
        raise OutboundRefused("the endpoint's port is not a number from 1 to 65535",
                              field="uri") from None  # fmt: skip
    try:
        literal: Address | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        why = policy.refusal(literal)
        if why is not None:
            raise OutboundRefused(f"{host} may not be called: {why} (web.outbound_allow)",
                                  field="uri")  # fmt: skip
        return
    try:
        resolve(host, port, policy)
    except OutboundRefused as exc:
        if "does not resolve" not in exc.message:
            raise


def connect(host: str, port: int, policy: OutboundPolicy, timeout: float) -> socket.socket:
    """A TCP connection to ``host`` made to one of the addresses just checked (never a second
    look-up that could answer differently)."""
    last: OSError | None = None
    for family, address in resolve(host, port, policy):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect((str(address), port))
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError(f"no address for {host}")


class _Http(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, timeout: float, policy: OutboundPolicy) -> None:
        super().__init__(host, port, timeout=timeout)
        self.policy = policy

    def connect(self) -> None:
        self.sock = connect(self.host, self.port, self.policy, float(self.timeout or 10))


class _Https(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, timeout: float, policy: OutboundPolicy) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.policy = policy

    def connect(self) -> None:
        raw = connect(self.host, self.port, self.policy, float(self.timeout or 10))
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def post(uri: str, body: bytes, headers: Mapping[str, str], policy: OutboundPolicy,
         timeout: float = 10.0) -> int:  # fmt: skip
    """POST ``body`` to an http(s) endpoint through the policy; the status it answered (a
    redirect is an answer, not followed)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        raise OutboundRefused(f"{parts.scheme or 'no'} scheme: http or https only", field="uri")
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    kind = _Https if parts.scheme == "https" else _Http
    connection = kind(host, port, timeout, policy)
    try:
        path = parts.path or "/"
        connection.request("POST", path + (f"?{parts.query}" if parts.query else ""), body=body,
                           headers=dict(headers))  # fmt: skip
        answer = connection.getresponse()
        answer.read()
        return answer.status
    finally:
        connection.close()


@dataclass(frozen=True)
class Fetched:
    status: int
    content_type: str
    body: bytes


def get(uri: str, headers: Mapping[str, str], policy: OutboundPolicy, *, timeout: float = 20.0,
        max_bytes: int = 64 * 1024 * 1024) -> Fetched:  # fmt: skip
    """GET an http(s) address through the policy: its status, content type and body (refused
    past ``max_bytes``; a redirect is an answer, not followed)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        raise OutboundRefused(f"{parts.scheme or 'no'} scheme: http or https only", field="uri")
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    kind = _Https if parts.scheme == "https" else _Http
    connection = kind(host, port, timeout, policy)
    try:
        path = parts.path or "/"
        connection.request("GET", path + (f"?{parts.query}" if parts.query else ""),
                           headers=dict(headers))  # fmt: skip
        answer = connection.getresponse()
        body = answer.read(max_bytes + 1)
        if len(body) > max_bytes:
            raise OutboundRefused(f"the answer is larger than {max_bytes} bytes", field="uri")
        return Fetched(answer.status, answer.getheader("Content-Type") or "", body)
    finally:
        connection.close()
