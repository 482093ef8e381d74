"""The app's HTTP edge: who may serve it where, which Host headers it answers, and how fast
a client may guess passwords.

    from persd_app.guard import check_exposure, middleware
    check_exposure(host, auth=bool(users), insecure=False)   # ExposureError off loopback
    page.launch(..., app_kwargs={"middleware": middleware(auth=bool(users), ...)})

Without logins the app answers only Host headers naming this machine by loopback
(localhost, 127.0.0.1, [::1]), so a web page whose DNS name was rebound to 127.0.0.1 gets a
403 instead of the reviewer's sessions (with --insecure-no-auth-on-network also IP literals
and this machine's own name: a rebinding page always sends its DNS name). With logins,
a client address, and separately a user name, that fails `MAX_FAILURES` times within
`WINDOW_S` is refused for `LOCK_S` seconds, doubling with each further failure: a locked
user stays locked from any address, so rotating addresses (or forwarded headers, believed
only from trusted proxies: `persd_app.client`) buys no extra tries. The price: anyone can
lock a known user name out for a while; the operator's log shows the refusals. The refusal is an HTTP 400 (with Retry-After), the one
status Gradio's login page reports (it shows nothing for a 429); `LOCKOUT_NOTE` tells the
page's reader why a right password can be refused.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.middleware import Middleware
from starlette.requests import Request

from persd.execution.service import is_loopback
from persd_app.client import ClientAddress, Network

MAX_FAILURES = 5
WINDOW_S = 60.0
LOCK_S = 30.0
MAX_LOCK_S = 15 * 60.0
LOCKOUT_NOTE = (f"After {MAX_FAILURES} failed tries in a minute, sign-ins for that user name "
                f"and from that address pause for {LOCK_S:.0f} s or more.")
MAX_LOGIN_BODY = 16 * 1024  # a login form is a name and a password


class ExposureError(ValueError):
    """Serving beyond loopback without logins, and without the operator saying so."""


def check_exposure(host: str, auth: bool, insecure: bool) -> None:
    if is_loopback(host) or auth or insecure:
        return
    raise ExposureError(
        f"refusing to serve on {host} without --auth: anyone who can reach it could run code "
        "in the sandbox and spend the teacher's API key. Add --auth USER:PASS, bind "
        "127.0.0.1 (and reach it through an SSH tunnel), or pass "
        "--insecure-no-auth-on-network if that is what you mean.")


def host_name(header: str) -> str:
    """The name in a Host header, without its port ("[::1]:7860" -> "::1")."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def host_allowed(insecure: bool) -> Callable[[str], bool]:
    """The Host check of an app without logins."""
    own = {socket.gethostname().lower(), socket.getfqdn().lower()}

    def allowed(header: str) -> bool:
        name = host_name(header)
        if is_loopback(name):
            return True
        if not insecure:
            return False
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return name in own

    return allowed


class HostGuard:
    """ASGI middleware: a 403 for requests (and websockets) whose Host is not allowed."""

    def __init__(self, app, allowed: Callable[[str], bool]) -> None:
        self.app, self.allowed = app, allowed

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket"):
            header = dict(scope.get("headers") or ()).get(b"host", b"").decode("latin-1")
            if not self.allowed(header):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await _plain(send, 403, f"persd: Host {header!r} is not served here: open "
                                        "the app at http://127.0.0.1:<port>/ (without --auth "
                                        "it answers only loopback names).")
                return
        await self.app(scope, receive, send)


def same_origin(origin: str, host: str) -> bool:
    """Whether a page at `origin` ("http://127.0.0.1:7860") is this app, reached by the Host
    header `host`. A Host without a port (a proxy in front) compares names only; schemes
    are not compared (TLS may end at the proxy)."""
    try:
        parts = urlsplit(origin)
        origin_port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return False
    if not parts.hostname:
        return False  # "null": a sandboxed frame or a file
    name = host_name(host)
    _, colon, port = host.strip().rpartition(":")
    has_port = bool(colon) and port.isdigit() and not host.strip().endswith("]")
    if parts.hostname.lower() != name:
        return False
    return not has_port or origin_port == int(port)


_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class SameOrigin:
    """ASGI middleware: a request or websocket whose Origin is another site than the one it
    was sent to gets a 403 before the app sees it. Gradio's own CORS lets any
    http://localhost:* page call an app on localhost, and any site call an app on another
    name, with the reviewer's cookie; persd's page never calls across origins."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = dict(scope.get("headers") or ())
            origin = headers.get(b"origin")
            if origin is not None and not same_origin(
                    origin.decode("latin-1"), headers.get(b"host", b"").decode("latin-1")):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await _plain(send, 403, "persd: refused a request from another site's page "
                             f"(Origin {origin.decode('latin-1')!r}): the app answers only "
                             "its own pages.")
                return
        await self.app(scope, receive, send)


class LoginThrottle:
    """Failed logins per key (a client address, a user name), and how long each is locked
    out."""

    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S,
                 lock_s: float = LOCK_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.window_s, self.lock_s = max_failures, window_s, lock_s
        self.clock = clock
        self._failures: dict[str, list[float]] = {}
        self._locked: dict[str, tuple[float, int]] = {}  # client -> (until, locks so far)
        self._lock = threading.Lock()

    def wait_s(self, client: str) -> float:
        """Seconds before `client` may try again (0: now)."""
        with self._lock:
            until, _ = self._locked.get(client, (0.0, 0))
            return max(0.0, until - self.clock())

    def failed(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            recent = [t for t in self._failures.get(client, []) if now - t < self.window_s]
            recent.append(now)
            self._failures[client] = recent
            if len(recent) >= self.max_failures:
                _, locks = self._locked.get(client, (0.0, 0))
                delay = min(self.lock_s * 2 ** locks, MAX_LOCK_S)
                self._locked[client] = (now + delay, locks + 1)
                # One more failure after the lock ends locks it again, for twice as long.
                self._failures[client] = recent[-(self.max_failures - 1):] \
                    if self.max_failures > 1 else []

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
            self._locked.pop(client, None)


class ThrottledLogin:
    """ASGI middleware: POST /login from a locked-out client address or for a locked-out
    user name is refused without a check; other answers to it are counted against both
    (200: success, anything else: a failure)."""

    def __init__(self, app, throttle: LoginThrottle) -> None:
        self.app, self.throttle = app, throttle

    async def __call__(self, scope, receive, send) -> None:
        if (scope["type"] != "http" or scope["method"] != "POST"
                or scope["path"].rstrip("/") != "/login"):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive, MAX_LOGIN_BODY)
        if body is None:
            await _plain(send, 413, "A login form is a user name and a password.")
            return
        replay = _replaying(body, receive)
        try:
            user = str((await Request(scope, _replaying(body, receive)).form()).get(
                "username") or "").strip()
        except Exception:  # noqa: BLE001  a malformed form: Gradio answers it, counted below
            user = ""
        keys = [f"address {(scope.get('client') or ('?', 0))[0]}", f"user {user}"]
        wait = max(self.throttle.wait_s(key) for key in keys)
        if wait > 0:
            await _plain(send, 400, f"Too many failed logins: try again in {wait:.0f} s.",
                         retry_after=wait)
            return
        status = []

        async def recording(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, replay, recording)
        for key in keys:
            if status and status[0] == 200:
                self.throttle.succeeded(key)
            elif status and status[0] < 500:
                self.throttle.failed(key)


async def _read_body(receive, limit: int) -> bytes | None:
    """The whole request body, or None past `limit` bytes."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            return None
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replaying(body: bytes, receive):
    """A receive() that gives `body` once, then whatever the connection says next."""
    given = []

    async def again():
        if not given:
            given.append(True)
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def middleware(auth: bool, insecure: bool, throttle: LoginThrottle | None = None,
               proxies: tuple[Network, ...] = ()) -> list:
    """The middleware for FastAPI(middleware=...): the client's address behind `proxies`,
    same-origin requests only, then the Host check without logins, the login throttle with
    them."""
    first = [Middleware(ClientAddress, proxies=proxies), Middleware(SameOrigin)]
    if auth:
        return [*first, Middleware(ThrottledLogin, throttle=throttle or LoginThrottle())]
    return [*first, Middleware(HostGuard, allowed=host_allowed(insecure))]


async def _plain(send, status: int, text: str, retry_after: float | None = None) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    if retry_after is not None:
        headers.append((b"retry-after", str(int(retry_after) + 1).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text.encode()})
