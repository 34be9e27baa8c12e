"""Fixtures for running boto3 (AWS's official Python SDK) against the grantflow IAM Identity Center emulator."""

import boto3
import pytest
from botocore.config import Config

from conformance.sandbox_admin import Admin, system_info

REGION = "eu-west-1"


@pytest.fixture(scope="session")
def info():
    return system_info("aws")


@pytest.fixture
def admin(info):
    return Admin(info["admin_url"])


@pytest.fixture(autouse=True)
def fresh_instance(info):
    """Every test starts from the seeded demo instance with default limits and no faults."""
    Admin(info["admin_url"]).post("/reset")
    yield


def make_client(info, service, access_key_id=None):
    creds = info["credentials"]
    return boto3.client(
        service,
        endpoint_url=info["base_url"],
        region_name=REGION,
        aws_access_key_id=access_key_id or creds["access_key_id"],
        aws_secret_access_key=creds["secret_access_key"],
        # One attempt: the tests look at the error itself, not at botocore's retries.
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


@pytest.fixture
def client_with_key(info):
    """A client factory for another access key id."""
    return lambda service, key: make_client(info, service, access_key_id=key)


@pytest.fixture
def store(info):
    return make_client(info, "identitystore")


@pytest.fixture
def sso(info):
    return make_client(info, "sso-admin")


@pytest.fixture
def organizations(info):
    return make_client(info, "organizations")


@pytest.fixture
def instance(sso):
    return sso.list_instances()["Instances"][0]
