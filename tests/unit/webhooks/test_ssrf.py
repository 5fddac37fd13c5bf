"""The SSRF guard refuses forbidden URLs and addresses before any socket opens."""

from __future__ import annotations

import socket

import pytest

from batchrelay.settings import get_settings
from batchrelay.webhooks import attempts, ssrf

FORBIDDEN = [
    "127.0.0.1",
    "127.8.9.10",
    "::1",
    "10.0.0.1",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "100.64.0.1",
    "100.127.255.254",
    "169.254.169.254",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "224.0.0.1",
    "ff02::1",
    "240.0.0.1",
    "255.255.255.255",
    "0.0.0.0",
    "::",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "2002:7f00:1::1",       # 6to4 around 127.0.0.1
    "64:ff9b::a00:1",       # NAT64 around 10.0.0.1
    "fec0::1",              # site-local
    "192.0.2.1",            # documentation
    "198.18.0.1",           # benchmarking
]


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        pytest.fail(f"a connection was attempted: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.delenv("WEBHOOK_ALLOW_HTTP", raising=False)
    monkeypatch.delenv("WEBHOOK_ALLOW_LOOPBACK", raising=False)
    monkeypatch.delenv("WEBHOOK_ALLOWED_DESTINATIONS", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def resolver_for(*addresses: str):
    calls: list[str] = []

    def resolve(host, port, family=0, type=0, *args):
        calls.append(host)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    resolve.calls = calls
    return resolve


@pytest.mark.parametrize("address", FORBIDDEN)
def test_every_forbidden_address_class_is_refused_by_name(address):
    with pytest.raises(ssrf.UrlRefused) as refused:
        ssrf.resolve_target("https://hooks.example.com/in", resolver=resolver_for(address))
    assert refused.value.field == "url"
    assert refused.value.http_status == 400


@pytest.mark.parametrize("address", FORBIDDEN)
def test_every_forbidden_address_class_is_refused_as_a_literal(address):
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(ssrf.UrlRefused):
        ssrf.resolve_target(f"https://{host}/in", resolver=resolver_for("93.184.216.34"))


def test_a_name_resolving_to_public_and_private_addresses_is_refused():
    with pytest.raises(ssrf.UrlRefused, match="private"):
        ssrf.resolve_target("https://mixed.example.com/", resolver=resolver_for("93.184.216.34", "10.1.2.3"))


def test_a_public_address_is_allowed_and_pinned():
    resolve = resolver_for("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
    target = ssrf.resolve_target("https://hooks.example.com/in?x=1", resolver=resolve)
    assert (target.host, target.port, target.path, target.address) == (
        "hooks.example.com",
        443,
        "/in?x=1",
        "93.184.216.34",
    )
    assert resolve.calls == ["hooks.example.com"]


def test_http_is_refused_unless_a_setting_allows_it(monkeypatch):
    with pytest.raises(ssrf.UrlRefused, match="https"):
        ssrf.resolve_target("http://hooks.example.com/", resolver=resolver_for("93.184.216.34"))
    monkeypatch.setenv("WEBHOOK_ALLOW_HTTP", "1")
    get_settings.cache_clear()
    assert ssrf.resolve_target("http://hooks.example.com/", resolver=resolver_for("93.184.216.34")).port == 80


@pytest.mark.parametrize(
    "url",
    ["ftp://hooks.example.com/", "file:///etc/passwd", "https://user:pw@hooks.example.com/", "https:///x", "", "https://h/#f",
     "https://hooks.example.com:99999/"],
)
def test_malformed_urls_are_refused(url):
    with pytest.raises(ssrf.UrlRefused):
        ssrf.resolve_target(url, resolver=resolver_for("93.184.216.34"))


def test_unresolvable_host_is_refused():
    def fail(*args, **kwargs):
        raise socket.gaierror("no such host")

    with pytest.raises(ssrf.UrlRefused, match="does not resolve"):
        ssrf.resolve_target("https://nowhere.example.com/", resolver=fail)


def test_allow_loopback_adds_loopback_only(monkeypatch):
    monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK", "1")
    get_settings.cache_clear()
    assert ssrf.resolve_target("https://localhost/", resolver=resolver_for("127.0.0.1", "::1")).address == "127.0.0.1"
    assert ssrf.resolve_target("https://[::ffff:127.0.0.1]/").address == "::ffff:7f00:1"
    for private in ("10.0.0.1", "192.168.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0"):
        with pytest.raises(ssrf.UrlRefused):
            ssrf.resolve_target("https://localhost/", resolver=resolver_for(private))


def test_a_delivery_attempt_to_a_forbidden_address_is_refused_before_connecting(monkeypatch):
    # Given DNS that points the receiver's name at the metadata service
    monkeypatch.setattr(socket, "getaddrinfo", resolver_for("169.254.169.254"))
    # When an attempt is made (the autouse fixture fails the test on any connect)
    result = attempts.send_signed("https://hooks.example.com/in", "whsec_" + "a" * 44, "evt_1", "{}")
    # Then it is a failed attempt naming the refusal, without a status code
    assert not result.ok
    assert result.entry.status_code is None
    assert "link-local" in result.entry.error


# --- destinations: https on port 443, or an allow-listed host:port ---


def _allow(monkeypatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com:8443/in", "https://hooks.example.com:80/", "https://93.184.216.34:22/"]
)
def test_another_port_than_443_is_refused_before_any_lookup(url):
    # Given a resolver that records every lookup (and no allow-list)
    resolve = resolver_for("93.184.216.34")
    # When a URL names another port
    with pytest.raises(ssrf.UrlRefused) as refused:
        ssrf.resolve_target(url, resolver=resolve)
    # Then it is refused by field, saying what is allowed, without resolving the name
    assert refused.value.field == "url" and refused.value.http_status == 400
    assert "https on port 443" in refused.value.message
    assert resolve.calls == []


def test_port_443_may_be_named_explicitly():
    assert ssrf.resolve_target("https://hooks.example.com:443/", resolver=resolver_for("93.184.216.34")).port == 443


def test_the_refusal_names_the_field_it_was_checked_for():
    with pytest.raises(ssrf.UrlRefused) as refused:
        ssrf.validate_url(
            "https://hooks.example.com:8443/", field="webhook_url", resolver=resolver_for("93.184.216.34")
        )
    assert refused.value.field == "webhook_url"


def test_an_allow_listed_host_and_port_is_allowed_and_nothing_more(monkeypatch):
    # Given one host allowed on 8443 and any host on 9443
    _allow(monkeypatch, WEBHOOK_ALLOWED_DESTINATIONS="Hooks.Example.com:8443, *:9443")
    public = resolver_for("93.184.216.34")
    # Then those pass
    assert ssrf.resolve_target("https://hooks.example.com:8443/in", resolver=public).port == 8443
    assert ssrf.resolve_target("https://other.example.com:9443/in", resolver=public).port == 9443
    # But another host on 8443 is refused, and the answer lists what is allowed
    with pytest.raises(ssrf.UrlRefused) as refused:
        ssrf.resolve_target("https://other.example.com:8443/in", resolver=public)
    assert "Hooks.Example.com:8443" in refused.value.message and "*:9443" in refused.value.message
    # And an allowed port never opens a forbidden address
    with pytest.raises(ssrf.UrlRefused, match="private"):
        ssrf.resolve_target("https://other.example.com:9443/in", resolver=resolver_for("10.0.0.8"))


def test_local_mode_allows_any_port_on_loopback_only(monkeypatch):
    _allow(monkeypatch, WEBHOOK_ALLOW_HTTP="1", WEBHOOK_ALLOW_LOOPBACK="1")
    assert ssrf.resolve_target("http://127.0.0.1:53123/hook").port == 53123
    assert ssrf.resolve_target("http://localhost:8080/", resolver=resolver_for("127.0.0.1", "::1")).port == 8080
    # A public receiver on another port is still refused, after the lookup that tells it apart
    with pytest.raises(ssrf.UrlRefused, match="port 8080 is not allowed"):
        ssrf.resolve_target("http://hooks.example.com:8080/", resolver=resolver_for("93.184.216.34"))
    with pytest.raises(ssrf.UrlRefused, match="port 8080"):
        ssrf.resolve_target("http://both.example.com:8080/", resolver=resolver_for("127.0.0.1", "93.184.216.34"))


@pytest.mark.parametrize("entry", ["hooks.example.com", "hooks.example.com:", ":443", "*:0", "*:70000", "h:x"])
def test_a_malformed_allow_list_entry_is_an_error(entry):
    with pytest.raises(ValueError, match="host:port"):
        ssrf.parse_destination(entry)


def test_allow_list_entries_parse_to_host_and_port():
    assert ssrf.parse_destination(" Hooks.Example.com:8443 ") == ("hooks.example.com", 8443)
    assert ssrf.parse_destination("*:9443") == ("*", 9443)
    assert ssrf.parse_destination("[2606:2800::1]:8443") == ("2606:2800::1", 8443)


def test_a_delivery_attempt_to_another_port_is_refused_before_connecting(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", resolver_for("93.184.216.34"))
    result = attempts.send_signed("https://hooks.example.com:8443/in", "whsec_" + "a" * 44, "evt_1", "{}")
    assert not result.ok and result.entry.status_code is None
    assert "port 8443 is not allowed" in result.entry.error
