"""Fixtures for running the `jira` library (pycontribs/jira) against the grantflow Jira Cloud emulator."""

import pytest
from jira import JIRA

from conformance.sandbox_admin import Admin, system_info


@pytest.fixture(scope="session")
def info():
    return system_info("jira")


@pytest.fixture
def admin(info):
    return Admin(info["admin_url"])


@pytest.fixture(autouse=True)
def fresh_site(info):
    """Every test starts from the seeded demo site with default limits and no faults."""
    Admin(info["admin_url"]).post("/reset")
    yield


@pytest.fixture
def client(info):
    creds = info["credentials"]
    return JIRA(server=info["base_url"], basic_auth=(creds["email"], creds["token"]))
