"""Fixtures for running python-gitlab (GitLab's official Python client) against the grantflow GitLab emulator."""

import gitlab
import pytest

from conformance.sandbox_admin import Admin, system_info


@pytest.fixture(scope="session")
def info():
    return system_info("gitlab")


@pytest.fixture
def admin(info):
    return Admin(info["admin_url"])


@pytest.fixture(autouse=True)
def fresh_instance(info):
    """Every test starts from the seeded demo instance with default limits and no faults."""
    Admin(info["admin_url"]).post("/reset")
    yield


@pytest.fixture
def gl(info):
    return gitlab.Gitlab(info["base_url"], private_token=info["credentials"]["token"])
