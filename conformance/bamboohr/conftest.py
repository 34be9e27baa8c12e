"""Fixtures for running a BambooHR Python client against the grantflow BambooHR emulator.

BambooHR's official SDK (`bamboohr-sdk`, BambooHR/bhr-api-python) is not published on PyPI, so the suite uses
PyBambooHR 0.8.1, the long-standing client: it speaks the legacy `api/gateway.php/{company}/v1/` prefix,
sends `Accept: application/json` and HTTP Basic with the API key as the user name. Its `base_url` is a plain
attribute, reassigned to the emulator after construction."""

import pytest
from PyBambooHR.PyBambooHR import PyBambooHR

from conformance.sandbox_admin import Admin, system_info


@pytest.fixture(scope="session")
def info():
    return system_info("bamboohr")


@pytest.fixture
def admin(info):
    return Admin(info["admin_url"])


@pytest.fixture(autouse=True)
def fresh_company(info):
    """Every test starts from the seeded demo employees with default limits and no faults."""
    Admin(info["admin_url"]).post("/reset")
    yield


def _client(info, api_key=None):
    company = info["settings"]["company_domain"]
    client = PyBambooHR(subdomain=company, api_key=api_key or info["credentials"]["api_key"])
    assert client.base_url == f"https://api.bamboohr.com/api/gateway.php/{company}/v1/"
    client.base_url = f"{info['base_url'].rstrip('/')}/api/gateway.php/{company}/v1/"
    return client


@pytest.fixture
def bamboo(info):
    return _client(info)


@pytest.fixture
def make_client(info):
    return lambda **kw: _client(info, **kw)
