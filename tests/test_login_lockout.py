"""The login lockout against a guesser who rotates forwarded headers or addresses: the real
app server on 127.0.0.1, real HTTP logins."""

from __future__ import annotations

import httpx
import pytest

from persd_app.client import client_address, parse_proxies
from tests.ports import free_port

USERS = [("ana", "right-password"), ("bob", "bob-password")]


def serve(tmp_path_factory, **options):
    from persd_app.app import launch

    return launch(tmp_path_factory.mktemp("sessions"), port=free_port(), block=False,
                  quiet=True, auth=USERS, **options)


@pytest.fixture
def plain_app(tmp_path_factory):
    running = serve(tmp_path_factory)
    yield running
    running.close()


@pytest.fixture
def proxied_app(tmp_path_factory):
    running = serve(tmp_path_factory, trusted_proxies=["127.0.0.1"])
    yield running
    running.close()


def login(app, user: str, password: str, **headers) -> httpx.Response:
    return httpx.post(app.url.rstrip("/") + "/login", headers=headers,
                      data={"username": user, "password": password})


def locked(answer: httpx.Response) -> bool:
    return answer.status_code == 400 and "Too many failed logins" in answer.text


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
def test_rotating_forwarded_headers_gives_no_extra_tries(plain_app, header):
    def spoof(i: int) -> dict:
        value = f"10.9.{i}.1"
        return {header: f"for={value}" if header == "Forwarded" else value}

    # A new user name each time too: only the address (127.0.0.1) can lock this out.
    answers = [login(plain_app, f"user{i}", f"guess{i}", **spoof(i)) for i in range(8)]
    assert [locked(a) for a in answers] == [False] * 5 + [True] * 3
    right = login(plain_app, "ana", "right-password", **spoof(99))
    assert locked(right) and int(right.headers["retry-after"]) >= 20


def test_a_locked_user_stays_locked_from_a_trusted_proxys_new_client(proxied_app):
    # Behind a trusted proxy each forwarded address counts on its own ...
    for i in range(5):
        assert not locked(login(proxied_app, "ana", f"guess{i}", **{
            "X-Forwarded-For": "10.0.0.1"}))
    assert locked(login(proxied_app, "bob", "bob-password", **{"X-Forwarded-For": "10.0.0.1"}))
    fresh = login(proxied_app, "bob", "bob-password", **{"X-Forwarded-For": "10.0.0.2"})
    assert fresh.status_code == 200 and fresh.json() == {"success": True}
    # ... but the user name is locked wherever the right password comes from.
    right = login(proxied_app, "ana", "right-password", **{"X-Forwarded-For": "10.0.0.3"})
    assert locked(right)


def test_a_success_before_the_lock_clears_the_count(plain_app):
    for i in range(4):
        assert not locked(login(plain_app, "ana", f"guess{i}"))
    assert login(plain_app, "ana", "right-password").status_code == 200
    assert not locked(login(plain_app, "ana", "guess-again"))


def test_an_oversized_login_form_is_refused(plain_app):
    answer = login(plain_app, "ana", "x" * 100_000)
    assert answer.status_code == 413


def test_the_client_behind_a_chain_of_proxies():
    proxies = parse_proxies(["127.0.0.1", "10.1.0.0/16"])
    xff = {b"x-forwarded-for": [b"6.6.6.6, 203.0.113.7", b"10.1.2.3"]}
    assert client_address("127.0.0.1", xff, proxies) == "203.0.113.7"  # 6.6.6.6: hearsay
    assert client_address("192.0.2.1", xff, proxies) == "192.0.2.1"  # not a proxy: the peer
    forwarded = {b"forwarded": [b'for="[2001:db8::1]:4711";proto=https, for=10.1.0.9']}
    assert client_address("127.0.0.1", forwarded, proxies) == "2001:db8::1"
    assert client_address("127.0.0.1", {b"x-real-ip": [b"198.51.100.4"]},
                          proxies) == "198.51.100.4"
    assert client_address("127.0.0.1", {}, proxies) == "127.0.0.1"
    with pytest.raises(ValueError, match="--trusted-proxy 'proxy.example'"):
        parse_proxies(["proxy.example"])


@pytest.mark.parametrize("origin", ["http://localhost:1", "http://evil.example", "null",
                                    "http://127.0.0.1:1"])
def test_a_page_of_another_origin_is_refused(plain_app, origin):
    url = plain_app.url.rstrip("/")
    answer = httpx.get(url + "/config", headers={"Origin": origin})
    assert answer.status_code == 403 and "another site's page" in answer.text
    posted = login(plain_app, "ana", "right-password", Origin=origin)
    assert posted.status_code == 403 and "access-token" not in str(posted.headers)


def test_the_apps_own_pages_are_served(plain_app):
    url = plain_app.url.rstrip("/")
    port = httpx.URL(url).port
    for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
        host = origin.split("//")[1]
        answer = httpx.get(url + "/config", headers={"Origin": origin, "Host": host})
        assert answer.status_code != 403, origin
    right = login(plain_app, "ana", "right-password", Origin=f"http://127.0.0.1:{port}")
    assert right.status_code == 200


def test_same_origin_rules():
    from persd_app.guard import same_origin

    assert same_origin("http://127.0.0.1:7860", "127.0.0.1:7860")
    assert same_origin("https://review.example", "review.example")  # behind a TLS proxy
    assert same_origin("http://[::1]:7860", "[::1]:7860")
    assert not same_origin("http://localhost:7861", "localhost:7860")
    assert not same_origin("http://127.0.0.1:7860", "localhost:7860")
    assert not same_origin("null", "127.0.0.1:7860")
    assert not same_origin("http://evil.example", "review.example")
