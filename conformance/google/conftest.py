"""Fixtures for running google-api-python-client (bundled discovery document) against the grantflow Google emulator."""

import json
import os
import pathlib

import pytest
import requests


@pytest.fixture(scope="session")
def info():
    path = os.environ.get("GRANTFLOW_SANDBOX_INFO")
    if not path:
        pytest.fail("GRANTFLOW_SANDBOX_INFO must name the sandbox info JSON file")
    return json.loads(pathlib.Path(path).read_text())["systems"]["google"]


class Admin:
    def __init__(self, url):
        self.url = url

    def get(self, path):
        r = requests.get(self.url + path, timeout=10)
        r.raise_for_status()
        return r.json()

    def post(self, path, body=None):
        r = requests.post(self.url + path, json=body or {}, timeout=10)
        r.raise_for_status()
        return r.json() if r.content else None


@pytest.fixture
def admin(info):
    return Admin(info["admin_url"])


@pytest.fixture(autouse=True)
def fresh_customer(info):
    """Every test starts from the seeded demo customer with the default quota and no faults."""
    Admin(info["admin_url"]).post("/reset")
    yield


@pytest.fixture
def directory(info):
    """Returns a factory for the Directory service, built from the discovery document bundled with the client."""
    import google.oauth2.credentials
    from googleapiclient.discovery import build

    def make(token=None):
        creds = google.oauth2.credentials.Credentials(token=token or info["credentials"]["token"])
        return build(
            "admin",
            "directory_v1",
            credentials=creds,
            client_options={"api_endpoint": info["base_url"] + "/"},
            static_discovery=True,
            cache_discovery=False,
        )

    return make


def reason(http_error):
    """The first `errors[].reason` of a Google error body."""
    body = json.loads(http_error.content.decode())
    return body["error"]["errors"][0]["reason"]
