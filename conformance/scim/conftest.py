"""Fixtures for running scim2-tester, scim2-client and the scim2 CLI against the grantflow SCIM emulator."""

import pytest
from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient

from conformance.sandbox_admin import Admin, system_info


def pytest_terminal_summary(terminalreporter):
    """The check counts tests record as a `summary` property, shown even under `-q` (the driver's mode)."""
    for reports in terminalreporter.stats.values():
        for report in reports:
            for name, value in getattr(report, "user_properties", []):
                if name == "summary" and getattr(report, "when", "call") == "call":
                    terminalreporter.write_line(value)


@pytest.fixture(scope="session")
def info():
    return system_info("scim")


@pytest.fixture(scope="session")
def base_url(info):
    return info["base_url"] + "/scim/v2"


@pytest.fixture(scope="session")
def auth(info):
    return {"Authorization": "Bearer " + info["credentials"]["token"]}


@pytest.fixture
def admin(info):
    return Admin(info["admin_url"])


@pytest.fixture(autouse=True)
def fresh_provider(info):
    """Every test starts from the seeded demo provider with default limits and no faults."""
    Admin(info["admin_url"]).post("/reset")
    yield


@pytest.fixture
def http(base_url, auth):
    with Client(base_url=base_url, headers=auth) as c:
        yield c


@pytest.fixture
def scim(http):
    """A scim2-client that has discovered the emulator's schemas and resource types."""
    client = SyncSCIMClient(http)
    client.discover()
    return client
