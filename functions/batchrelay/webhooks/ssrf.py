"""SSRF guard: which webhook URLs may be called, resolved once to the addresses we connect to.

A URL must be https (http only when ``webhook_allow_http``) on port 443, carry no
credentials, and every address its host resolves to must be public unicast. Another port
needs an entry in ``webhook_allowed_destinations`` (``host:port``, or ``*:port`` for any
host); local mode (``webhook_allow_loopback``) may use any port on loopback. The caller
connects to the checked address (``Target.address``), never resolves the name again, so a
DNS answer that changes between check and connect (rebinding) cannot reach an internal address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from batchrelay.errors import ValidationFailed
from batchrelay.settings import get_settings

Resolver = Callable[..., list[tuple[Any, ...]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
_SHARED_V4 = ipaddress.ip_network("100.64.0.0/10")          # carrier-grade NAT (RFC 6598)
_BENCHMARK_V4 = ipaddress.ip_network("198.18.0.0/15")       # RFC 2544
_NAT64 = ipaddress.ip_network("64:ff9b::/96")               # well-known NAT64 prefix (RFC 6052)
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")       # local-use NAT64 (RFC 8215)
_SITE_LOCAL_V6 = ipaddress.ip_network("fec0::/10")


class UrlRefused(ValidationFailed):
    """The URL may not be called (scheme, credentials, unresolvable or forbidden address)."""

    code = "url_refused"


@dataclass(frozen=True)
class Target:
    """A checked URL: connect to ``address``, send ``Host: host``, verify TLS against ``host``."""

    url: str
    scheme: str
    host: str
    port: int
    path: str          # path and query, as sent on the request line
    address: str       # the checked IP address to connect to


def address_refusal(ip: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why an address may not be called, or None when it is public unicast."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            reason = address_refusal(embedded, allow_loopback=allow_loopback)
            return f"{reason} (embedded in {ip})" if reason else None
        if ip.teredo is not None:
            return "teredo"
        if ip in _NAT64_LOCAL:
            return "nat64 local-use"
        if ip in _SITE_LOCAL_V6:
            return "site-local"
    if ip.is_loopback:
        return None if allow_loopback else "loopback"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED_V4:
        return "shared"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _BENCHMARK_V4:
        return "benchmarking"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "not globally routable"
    return None


def parse_destination(entry: str) -> tuple[str, int]:
    """``"host:port"`` / ``"*:port"`` / ``"[v6]:port"`` -> (lowercase host or "*", port)."""
    host, sep, port = entry.strip().rpartition(":")
    host = host.strip().lower().removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"a webhook destination must be host:port or *:port, not {entry!r}")
    return host, int(port)


def _is_loopback(ip: IPAddress) -> bool:
    embedded = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return ip.is_loopback or (embedded is not None and embedded.is_loopback)


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _port_allowed(scheme: str, host: str, port: int, allowed: tuple[str, ...]) -> bool:
    if port == _default_port(scheme):
        return True
    return any(h in ("*", host) and p == port for h, p in map(parse_destination, allowed))


def _port_refused(scheme: str, port: int, allowed: tuple[str, ...], field: str) -> UrlRefused:
    also = f"; also allowed: {', '.join(allowed)}" if allowed else ""
    return UrlRefused(
        f"the URL's port {port} is not allowed: webhooks go to {scheme} on port {_default_port(scheme)}{also}",
        field=field,
    )


def _split(url: str, *, allow_http: bool, field: str) -> tuple[str, str, int, str]:
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"the URL must be a string of 1 to {MAX_URL_LENGTH} characters", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"the URL is not valid: {exc}", field=field) from exc
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_http):
        raise UrlRefused("the URL must use https", field=field)
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("the URL must not contain credentials", field=field)
    host = parts.hostname
    if not host:
        raise UrlRefused("the URL has no host", field=field)
    if parts.fragment:
        raise UrlRefused("the URL must not contain a fragment", field=field)
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    return scheme, host, port or (443 if scheme == "https" else 80), path


def resolve_target(
    url: str,
    *,
    resolver: Resolver | None = None,
    allow_http: bool | None = None,
    allow_loopback: bool | None = None,
    field: str = "url",
) -> Target:
    """Check a URL and resolve its host once; raises UrlRefused naming ``field``.

    Every resolved address must be allowed: one private answer among public ones refuses
    the URL, since we cannot know which one a later connection would use.
    """
    settings = get_settings()
    allow_http = settings.webhook_allow_http if allow_http is None else allow_http
    allow_loopback = settings.webhook_allow_loopback if allow_loopback is None else allow_loopback
    scheme, host, port, path = _split(url, allow_http=allow_http, field=field)
    port_allowed = _port_allowed(scheme, host, port, settings.webhook_allowed_destinations)
    if not port_allowed and not allow_loopback:
        raise _port_refused(scheme, port, settings.webhook_allowed_destinations, field)
    resolve = resolver or socket.getaddrinfo
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = resolve(host, port, 0, socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise UrlRefused(f"the URL's host {host} does not resolve", field=field) from exc
        addresses = []
        for info in infos:
            raw = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
            try:
                addresses.append(ipaddress.ip_address(raw))
            except ValueError as exc:
                raise UrlRefused(f"the URL's host {host} does not resolve to an IP address", field=field) from exc
    if not addresses:
        raise UrlRefused(f"the URL's host {host} does not resolve", field=field)
    for address in addresses:
        reason = address_refusal(address, allow_loopback=allow_loopback)
        if reason:
            # The class of address, not the address: answers must not map a private network.
            raise UrlRefused(f"the URL's host {host} resolves to a {reason} address", field=field)
    if not port_allowed and not all(_is_loopback(address) for address in addresses):
        # Local mode's receivers listen on loopback on any port; nothing else may.
        raise _port_refused(scheme, port, settings.webhook_allowed_destinations, field)
    return Target(url=url, scheme=scheme, host=host, port=port, path=path, address=str(addresses[0]))


def validate_url(url: str, *, field: str = "url", resolver: Resolver | None = None) -> str:
    """Check a URL before storing it (endpoint registration, a job's webhook_url)."""
    resolve_target(url, resolver=resolver, field=field)
    return url
