"""Fixtures for running python-gitlab (GitLab's official Python client) against the grantflow GitLab emulator."""

import json
import os
import pathlib

import gitlab
import pytest
import requests


@pytest.fixture(scope="session")
def info():
    path = os.environ.get("GRANTFLOW_SANDBOX_INFO")
    if not path:
        pytest.fail("GRANTFLOW_SANDBOX_INFO must name the sandbox info JSON file")
    return json.loads(pathlib.Path(path).read_text())["systems"]["gitlab"]


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
def fresh_instance(info):
    """Every test starts from the seeded demo instance with default limits and no faults."""
    Admin(info["admin_url"]).post("/reset")
    yield


@pytest.fixture
def gl(info):
    return gitlab.Gitlab(info["base_url"], private_token=info["credentials"]["token"])
