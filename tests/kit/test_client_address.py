"""Which client a request comes from (issue 15, finding 9): X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from starlette.requests import Request

from service.kit.config import Settings, networks
from service.kit.security import client_address

PROXIES = networks("10.0.0.5, 172.18.0.0/16")


def request_from(peer: str, *forwarded: str) -> Request:
    """A request as the server sees it: the TCP peer and any X-Forwarded-For headers."""
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "client": (peer, 40000), "headers": headers})


@pytest.mark.parametrize(("peer", "forwarded", "client"), [
    ("203.0.113.1", ["198.51.100.2"], "203.0.113.1"),  # not through a trusted proxy: the header is the client's
    ("10.0.0.5", [], "10.0.0.5"),  # the proxy itself
    ("10.0.0.5", ["198.51.100.2"], "198.51.100.2"),
    ("10.0.0.5", ["1.2.3.4, 198.51.100.2"], "198.51.100.2"),  # the client's own claim at the left is ignored
    ("172.18.0.3", ["1.2.3.4", "198.51.100.2, 10.0.0.5"], "198.51.100.2"),  # two trusted hops, two headers
    ("10.0.0.5", ["10.0.0.5, 172.18.0.9"], "10.0.0.5"),  # only proxies: the peer
    ("10.0.0.5", ["2001:db8::7"], "2001:db8::7"),
])
def test_the_client_is_the_nearest_untrusted_hop(peer: str, forwarded: list[str], client: str) -> None:
    assert client_address(request_from(peer, *forwarded), PROXIES) == client


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_address(request_from("127.0.0.1", "198.51.100.2")) == "127.0.0.1"


def test_a_bad_proxy_address_stops_start_up() -> None:
    with pytest.raises(ValidationError, match="trusted_proxies"):
        Settings(trusted_proxies="10.0.0.5, proxy.example")
    assert Settings(trusted_proxies="10.0.0.0/8").trusted_networks() == networks("10.0.0.0/8")
