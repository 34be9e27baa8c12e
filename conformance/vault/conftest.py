"""Fixtures for running 1Password's official Connect SDK (`onepasswordconnectsdk`) against the grantflow 1Password
Connect emulator (a sandbox service, published under `services`)."""

import pytest
from onepasswordconnectsdk.client import new_client

from conformance.sandbox_admin import Admin, service_info


@pytest.fixture(scope="session")
def info():
    return service_info("vault")


@pytest.fixture
def admin(info):
    return Admin(info["admin_url"])


@pytest.fixture(autouse=True)
def fresh_vaults(info):
    """Every test starts from the seeded vaults, empty, with default limits and no faults."""
    Admin(info["admin_url"]).post("/reset")
    yield


@pytest.fixture
def client(info):
    """The SDK's synchronous client, as an application makes it: Connect's URL and token."""
    return new_client(info["base_url"], info["credentials"]["token"])
