"""Autodiscover as a phone uses it ([MS-ASCMD] 2.2.2.1, the mobilesync schema of
[MS-OXDSCLI]): a POST with Basic auth to /autodiscover/autodiscover.xml, answered with the
ActiveSync URL, which then serves the account.

Every test's docstring starts with ``ASSERTS:``. pyactivesync has no Autodiscover
helper, so this speaks HTTP with requests, verifying the server's certificate as the
rest of the suite does.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests

pytestmark = pytest.mark.autodiscover

PATH = "/autodiscover/autodiscover.xml"
REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"
RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
AUTODISCOVER_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"


def request_body(email: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n'
        f'<Autodiscover xmlns="{REQUEST_NS}"><Request>'
        f"<EMailAddress>{email}</EMailAddress>"
        f"<AcceptableResponseSchema>{RESPONSE_NS}</AcceptableResponseSchema>"
        f"</Request></Autodiscover>"
    ).encode()


def session(server) -> requests.Session:
    s = requests.Session()
    s.verify = server.tls_verify
    s.trust_env = False  # loopback only; see conftest.new_client
    return s


def test_mobilesync_autodiscover_then_sync(easd_server) -> None:
    """ASSERTS: the mobilesync request with Alice's login is answered 200 in the response
    schema's namespaces, with her DisplayName and EMailAddress and a MobileSync server whose
    Url and Name are the ActiveSync URL; that URL answers OPTIONS for her with the protocol
    versions. The same request with a wrong password gets 401 and a Basic challenge."""
    alice = easd_server.alice
    http = session(easd_server)
    r = http.post(easd_server.base_url + PATH, data=request_body(alice.email),
                  auth=(alice.email, alice.password),
                  headers={"Content-Type": "text/xml"}, timeout=15)
    assert r.status_code == 200, r.text
    root = ET.fromstring(r.content)
    assert root.tag == f"{{{AUTODISCOVER_NS}}}Autodiscover"
    ns = {"r": RESPONSE_NS}
    response = root.find("r:Response", ns)
    assert response is not None, r.text
    assert response.findtext("r:User/r:DisplayName", namespaces=ns) == alice.name
    assert response.findtext("r:User/r:EMailAddress", namespaces=ns) == alice.email
    servers = response.findall("r:Action/r:Settings/r:Server", ns)
    assert [s.findtext("r:Type", namespaces=ns) for s in servers] == ["MobileSync"], r.text
    url = servers[0].findtext("r:Url", namespaces=ns)
    assert url == easd_server.eas_url
    assert servers[0].findtext("r:Name", namespaces=ns) == url

    options = http.options(url, auth=(alice.email, alice.password), timeout=15)
    assert options.status_code == 200
    assert "16.1" in options.headers.get("MS-ASProtocolVersions", "").split(",")

    wrong = http.post(easd_server.base_url + PATH, data=request_body(alice.email),
                      auth=(alice.email, alice.password + "x"),
                      headers={"Content-Type": "text/xml"}, timeout=15)
    assert wrong.status_code == 401
    assert wrong.headers.get("WWW-Authenticate", "").startswith("Basic")
    assert alice.name not in wrong.text
