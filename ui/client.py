"""Who is asking: the client's address behind a request, believing forwarded headers only
from proxies the operator names.

    from persd_app.client import ClientAddress, parse_proxies, uvicorn_believes_nobody
    proxies = parse_proxies(["10.0.0.2", "10.1.0.0/16"])   # ValueError naming a bad one
    Middleware(ClientAddress, proxies=proxies)   # first: scope["client"] is the real client
    with uvicorn_believes_nobody():              # around page.launch()
        page.launch(...)

`X-Forwarded-For`, `Forwarded` and `X-Real-IP` (in that order, the first present wins) are
read only when the connection comes from a trusted proxy (`--trusted-proxy`, none by
default). Through a chain of proxies the client is the rightmost address that is not itself
a trusted proxy: entries to its left were written by whoever sent the request and prove
nothing. Uvicorn rewrites the client from `X-Forwarded-For` itself, trusting 127.0.0.1 by
default, so any local process or SSH tunnel could pick its own address and dodge the login
lockout; `uvicorn_believes_nobody` switches that off while the server is made.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(values: Iterable[str]) -> tuple[Network, ...]:
    """Trusted proxies from addresses or networks ("10.0.0.2", "10.1.0.0/16")."""
    proxies = []
    for value in values:
        try:
            proxies.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"--trusted-proxy {value!r}: give an IP address or a network "
                             "such as 10.0.0.2 or 10.1.0.0/16") from None
    return tuple(proxies)


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def _bare(value: str) -> str:
    """An address without quotes, brackets or port ('"[::1]:80"' -> '::1')."""
    value = value.strip().strip('"')
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def forwarded_chain(headers: dict[bytes, list[bytes]]) -> list[str]:
    """The client addresses a proxy reports, nearest the client first."""
    if b"x-forwarded-for" in headers:
        joined = b",".join(headers[b"x-forwarded-for"]).decode("latin-1")
        return [_bare(part) for part in joined.split(",") if part.strip()]
    if b"forwarded" in headers:
        chain = []
        for element in b",".join(headers[b"forwarded"]).decode("latin-1").split(","):
            for pair in element.split(";"):
                key, _, value = pair.partition("=")
                if key.strip().lower() == "for" and value.strip():
                    chain.append(_bare(value))
        return chain
    if b"x-real-ip" in headers:
        return [_bare(headers[b"x-real-ip"][-1].decode("latin-1"))]
    return []


def client_address(peer: str, headers: dict[bytes, list[bytes]],
                   proxies: tuple[Network, ...]) -> str:
    """The client's address: `peer` unless it is a trusted proxy that says otherwise."""
    if not _trusted(peer, proxies):
        return peer
    chain = forwarded_chain(headers)
    for address in reversed(chain):
        if not _trusted(address, proxies):
            return address
    return chain[0] if chain else peer


class ClientAddress:
    """ASGI middleware: scope["client"] (Gradio's request.client, the login lockout) becomes
    the client behind trusted proxies; their X-Forwarded-Proto sets the scheme."""

    def __init__(self, app, proxies: tuple[Network, ...] = ()) -> None:
        self.app, self.proxies = app, proxies

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket") and self.proxies:
            headers: dict[bytes, list[bytes]] = {}
            for name, value in scope.get("headers") or ():
                headers.setdefault(name.lower(), []).append(value)
            peer = (scope.get("client") or ("", 0))[0]
            client = client_address(peer, headers, self.proxies)
            if client != peer:
                scope["client"] = (client, 0)
                proto = headers.get(b"x-forwarded-proto", [b""])[-1].decode("latin-1").strip()
                if proto in ("http", "https"):
                    scope["scheme"] = proto if scope["type"] == "http" else \
                        proto.replace("http", "ws")
        await self.app(scope, receive, send)


@contextmanager
def uvicorn_believes_nobody() -> Iterator[None]:
    """Uvicorn reads FORWARDED_ALLOW_IPS when its server config is made (inside Gradio's
    launch, on this thread); an empty value matches no peer."""
    before = os.environ.get("FORWARDED_ALLOW_IPS")
    os.environ["FORWARDED_ALLOW_IPS"] = ""
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("FORWARDED_ALLOW_IPS", None)
        else:
            os.environ["FORWARDED_ALLOW_IPS"] = before
