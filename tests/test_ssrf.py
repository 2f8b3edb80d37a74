"""Destination URLs can't reach the server's own network (SSRF), at creation and at connect.

With SCORELET_ALLOW_PRIVATE_DESTINATIONS off (the default of the shared test
server) every address below is refused without any connection being made.
"""

from __future__ import annotations

import ipaddress

import pytest

from conftest import LiveServer
from scorelet.routing import ssrf
from scorelet.routing.sender import Sender

REFUSED = [
    "127.0.0.1",
    "127.8.9.10",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # CGNAT
    "224.0.0.1",  # multicast
    "240.0.0.1",  # reserved
    "0.0.0.0",
    "192.0.2.10",  # documentation
    "::1",
    "fe80::1",
    "fc00::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:8.8.8.8",  # mapped, even to a public address
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "ff02::1",
]


@pytest.mark.parametrize("address", REFUSED)
def test_private_and_special_addresses_are_refused(address: str) -> None:
    assert ssrf.refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert ssrf.refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",  # a name that resolves to loopback
        "https://[::ffff:10.0.0.1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.1.1/hook",
    ],
)
def test_the_api_refuses_a_destination_on_a_private_address(server: LiveServer, url: str) -> None:
    assert not server.settings.allow_private_destinations
    with server.admin() as admin:
        answer = admin.post(
            "/api/v1/destinations", json={"name": "inside", "type": "webhook", "url": url}
        )
        assert answer.status_code == 422, answer.text
        assert (answer.json()["code"], answer.json()["field"]) == ("destination_refused", "url")
        assert "SCORELET_ALLOW_PRIVATE_DESTINATIONS" in answer.json()["detail"]
        linear = admin.post(
            "/api/v1/destinations",
            json={
                "name": "inside",
                "type": "linear",
                "api_key": "lin_api_12345678",
                "team": "t",
                "api_url": url,
            },
        )
        assert (linear.status_code, linear.json()["field"]) == (422, "api_url")
        assert all(
            d["name"] != "inside" for d in admin.get("/api/v1/destinations").json()["destinations"]
        )


async def test_the_check_runs_again_at_connect_time_without_connecting() -> None:
    sender = Sender(allow_private=False)
    try:
        answer, _ = await sender.post("http://localhost:9/hook", b"{}", {}, 0.0)
    finally:
        await sender.close()
    assert not answer.ok
    assert answer.status is None
    assert "loopback" in (answer.error or "")


async def test_the_connection_goes_to_the_checked_address() -> None:
    target = await ssrf.target("http://localhost:8123/hooks?a=1", allow_private=True)
    assert target.url in ("http://127.0.0.1:8123/hooks?a=1", "http://[::1]:8123/hooks?a=1")
    assert (target.host, target.host_header) == ("localhost", "localhost:8123")
    v6 = await ssrf.target("https://[::1]/x", allow_private=True)
    assert v6.url == "https://[::1]/x"
