"""Fixtures for running slack_sdk (Slack's official Python SDK) against the grantflow Slack emulator."""

import pytest
from slack_sdk import WebClient

from conformance.sandbox_admin import Admin, system_info


@pytest.fixture(scope="session")
def info():
    return system_info("slack")


@pytest.fixture
def admin(info):
    return Admin(info["admin_url"])


@pytest.fixture(autouse=True)
def fresh_workspace(info):
    """Every test starts from the seeded demo workspace with default limits and no faults."""
    Admin(info["admin_url"]).post("/reset")
    yield


@pytest.fixture
def client(info):
    return WebClient(token=info["credentials"]["token"], base_url=info["base_url"] + "/api/")
