"""Where a webhook may go: public addresses only, unless the operator allows internal ones.

Whoever can set a webhook (or a DNS name it points at) could otherwise make this server POST
into its own network: loopback, private (RFC 1918, fc00::/7), link-local (the cloud metadata
service at 169.254.169.254 among them), unspecified, multicast or reserved addresses. Setting
a webhook refuses a host that is such an address itself, or `localhost`; sending resolves the
name, refuses when any of its addresses is internal, and connects to one of those it checked,
never to the answer of a second lookup (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import socket
from ipaddress import IPv4Address, IPv6Address, ip_address

IPAddress = IPv4Address | IPv6Address

ALLOW_HINT = "MEDIATION_WEBHOOKS_ALLOW_PRIVATE=true allows internal addresses"
_NAT64_PREFIX = int(IPv6Address("64:ff9b::")) >> 32  # 64:ff9b::/96 (RFC 6052)


class InternalAddressError(OSError):
    """A webhook's host is, or resolves to, an internal address, and those are not allowed."""


def internal_kind(address: IPAddress) -> str | None:
    """What makes `address` internal ("loopback", "private"...); None for a public one."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:  # ::ffff:127.0.0.1 reaches 127.0.0.1
        return internal_kind(embedded)
    site_local = isinstance(address, IPv6Address) and address.is_site_local
    for kind, internal in (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("site-local", site_local),
        ("non-public", not address.is_global),  # 100.64.0.0/10, shared by carriers' NATs
    ):
        if internal:
            return kind
    return None


def _embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64's well-known prefix)."""
    if isinstance(address, IPv4Address):
        return None
    embedded = address.ipv4_mapped or address.sixtofour
    if embedded is not None:
        return embedded
    if int(address) >> 32 == _NAT64_PREFIX:
        return IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address `host` is written as, if it is one; also the resolver's numeric forms
    (2130706433, 0x7f.1, 127.1), which it never looks up as names."""
    try:
        return ip_address(host)
    except ValueError:
        pass
    try:
        return IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def host_refusal(host: str) -> str | None:
    """Why a URL's host may not be sent to when the host says so itself; None otherwise."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return f"{host} is this machine (loopback)"
    address = literal_address(name)
    kind = internal_kind(address) if address is not None else None
    return None if kind is None else f"{host} is {_a(kind)} address"


async def resolve(host: str, port: int, *, allow_private: bool) -> list[IPAddress]:
    """The addresses `host` resolves to, in the resolver's order of preference.

    Raises InternalAddressError when any is internal and those are not allowed: the others
    failing, the connection would go to it."""
    loop = asyncio.get_running_loop()
    found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(ip_address(sockaddr[0]) for *_, sockaddr in found))
    for address in addresses:
        kind = internal_kind(address)
        if kind is not None and not allow_private:
            what = f"{host} is" if str(address) == host else f"{host} resolves to {address},"
            raise InternalAddressError(f"refused: {what} {_a(kind)} address; {ALLOW_HINT}")
    return addresses


def _a(kind: str) -> str:
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"
