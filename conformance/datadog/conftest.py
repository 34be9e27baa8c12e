"""Fixtures for running Datadog's official Python client (`datadog-api-client`) against the grantflow Datadog
emulator."""

import pytest
from datadog_api_client import ApiClient, Configuration

from conformance.sandbox_admin import Admin, system_info


@pytest.fixture(scope="session")
def info():
    return system_info("datadog")


@pytest.fixture
def admin(info):
    return Admin(info["admin_url"])


@pytest.fixture(autouse=True)
def fresh_org(info):
    """Every test starts from the seeded demo monitors with default limits and no faults."""
    Admin(info["admin_url"]).post("/reset")
    yield


def _configuration(info, api_key=None, application_key=None, **options):
    creds = info["credentials"]
    return Configuration(
        host=info["base_url"],
        api_key={
            "apiKeyAuth": api_key or creds["api_key"],
            "appKeyAuth": application_key or creds["application_key"],
        },
        **options,
    )


@pytest.fixture
def configuration(info):
    """Makes the client's configuration for the emulator: its URL as the host, and the two keys by the names of
    the client's security schemes (either may be replaced by a wrong one), with further `Configuration`
    options."""
    return lambda **options: _configuration(info, **options)


@pytest.fixture
def client(configuration):
    with ApiClient(configuration()) as api_client:
        yield api_client
