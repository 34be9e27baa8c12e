"""Fixtures for running PyGithub against the grantflow GitHub emulator."""

import json
import os
import pathlib

import pytest
import requests

ORG = "example-demo"


@pytest.fixture(scope="session")
def info():
    path = os.environ.get("GRANTFLOW_SANDBOX_INFO")
    if not path:
        pytest.fail("GRANTFLOW_SANDBOX_INFO must name the sandbox info JSON file")
    return json.loads(pathlib.Path(path).read_text())["systems"]["github"]


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
def fresh_org(info):
    """Every test starts from the seeded demo org with default limits and no faults."""
    Admin(info["admin_url"]).post("/reset")
    yield


@pytest.fixture
def gh(info):
    """Returns a factory for a PyGithub client on the emulator; no pacing between calls, short secondary waits."""
    import github

    def make(token=None, retry="default", per_page=30):
        kwargs = dict(
            auth=github.Auth.Token(token or info["credentials"]["token"]),
            base_url=info["base_url"],
            per_page=per_page,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )
        kwargs["retry"] = github.GithubRetry(secondary_rate_wait=1) if retry == "default" else retry
        return github.Github(**kwargs)

    return make
