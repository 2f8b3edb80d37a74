"""Keeping user-typed destination URLs away from the server's own network (SSRF).

A destination URL is typed by an admin and fetched by the server, so it
could name the metadata service, a database on localhost or a router on
the LAN. Every address the host resolves to is checked, when the
destination is created and again before each connection, and the request
then goes to the address that was checked (the URL's host is kept for the
Host header and TLS), so a DNS answer that changes between the check and
the connection (DNS rebinding) can't slip a private address in.

Refused: loopback, private (RFC 1918, ULA), link-local, CGNAT (100.64/10),
multicast, reserved, unspecified, benchmarking and documentation ranges,
and IPv6 forms that carry an IPv4 address (IPv4-mapped, NAT64, 6to4,
Teredo), whatever they carry. SCORELET_ALLOW_PRIVATE_DESTINATIONS=1 lifts
the rule for receivers on your own network (and for tests).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


class AddressRefused(ValueError):
    """A destination whose host is, or resolves to, an address Scorelet won't connect to."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where to connect: the checked address, and the URL's own host for Host and TLS."""

    url: str  # the URL with its host replaced by the checked address
    host: str  # the host as written, for the Host header and TLS server name
    host_header: str


def refusal(address: Address) -> str | None:
    """Why an address is refused, or None if it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        if address in NAT64 or address in NAT64_LOCAL:
            return "a NAT64 address"
        if address.sixtofour is not None or address.teredo is not None:
            return "a 6to4 or Teredo address"
    for test, reason in (
        (address.is_unspecified, "the unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (isinstance(address, ipaddress.IPv4Address) and address in CGNAT, "a CGNAT address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "not a public address"),
    ):
        if test:
            return reason
    return None


def literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to (a literal is itself)."""
    address = literal(host)
    if address is not None:
        return [address]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise AddressRefused(f"{host!r} does not resolve ({error})") from None
    found: dict[Address, None] = {}
    for _, _, _, _, sockaddr in infos:
        found.setdefault(ipaddress.ip_address(str(sockaddr[0]).split("%")[0]), None)
    return list(found)


async def target(url: str, allow_private: bool) -> Target:
    """The address to connect to for `url`, once every address of its host passed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = await resolve(host, port)
    if not addresses:
        raise AddressRefused(f"{host!r} does not resolve")
    if not allow_private:
        for address in addresses:
            reason = refusal(address)
            if reason is not None:
                shown = host if literal(host) else f"{host} ({address})"
                raise AddressRefused(
                    f"{shown} is {reason}: Scorelet doesn't send to its own network. Use a"
                    " public address, or set SCORELET_ALLOW_PRIVATE_DESTINATIONS=1 for"
                    " receivers you run yourself"
                )
    chosen = addresses[0]
    netloc = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    if parts.port:
        netloc += f":{parts.port}"
    pinned = parts._replace(netloc=netloc).geturl()
    return Target(pinned, host, parts.netloc.rpartition("@")[2])
