"""Fixtures for running simple-salesforce against the grantflow Salesforce emulator, which serves HTTPS only
(simple-salesforce hard-codes https://) with a certificate signed by the CA the sandbox info names."""

import os

import pytest
import requests
from simple_salesforce import Salesforce

from conformance.sandbox_admin import system_info


@pytest.fixture(scope="session")
def info():
    info = system_info("salesforce")
    # requests prefers REQUESTS_CA_BUNDLE over Session.verify, so trust the sandbox's CA through it.
    os.environ["REQUESTS_CA_BUNDLE"] = info["ca_certificate"]
    return info


class HttpsAdmin:
    """The `/__sandbox` admin endpoint over the emulator's HTTPS."""

    def __init__(self, info):
        self.url = info["admin_url"]
        self.verify = info["ca_certificate"]

    def get(self, path):
        r = requests.get(self.url + path, timeout=10, verify=self.verify)
        r.raise_for_status()
        return r.json()

    def post(self, path, body=None):
        r = requests.post(self.url + path, json=body or {}, timeout=10, verify=self.verify)
        r.raise_for_status()
        return r.json() if r.content else None


@pytest.fixture
def admin(info):
    return HttpsAdmin(info)


@pytest.fixture(autouse=True)
def fresh_org(info):
    """Every test starts from the seeded demo org with default limits and no faults."""
    HttpsAdmin(info).post("/reset")
    yield


@pytest.fixture
def sf(info):
    return Salesforce(
        instance_url=info["base_url"],
        session_id=info["credentials"]["token"],
        version="59.0",
        session=requests.Session(),
    )
