"""Fixtures for running Okta's own Python SDK (and plain requests) against the grantflow Okta emulator."""

import asyncio
import json
import os
import pathlib

import pytest
import requests

# The SDK refuses http:// org URLs unless this testing flag is set; passing it in the Client dict does not
# reach config["testing"] (the dict is nested under "client"), so it must come from the environment.
os.environ.setdefault("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", "true")


@pytest.fixture(scope="session")
def okta_info():
    path = os.environ.get("GRANTFLOW_SANDBOX_INFO")
    if not path:
        pytest.fail("GRANTFLOW_SANDBOX_INFO must name the sandbox info JSON file")
    info = json.loads(pathlib.Path(path).read_text())
    return info["systems"]["okta"]


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
def admin(okta_info):
    return Admin(okta_info["admin_url"])


@pytest.fixture(autouse=True)
def fresh_org(okta_info):
    """Every test starts from the seeded demo org with default limits and no faults."""
    Admin(okta_info["admin_url"]).post("/reset")
    yield


@pytest.fixture
def run():
    return asyncio.run


@pytest.fixture
def sdk(okta_info):
    """Returns a factory: the SDK's aiohttp session must be created inside the running event loop."""
    from okta.client import Client

    def make(**extra):
        config = {"orgUrl": okta_info["base_url"], "token": okta_info["credentials"]["token"]}
        config.update(extra)
        return Client(config)

    return make


@pytest.fixture
def api(okta_info):
    """A requests session that authenticates like a plain API client."""
    s = requests.Session()
    s.headers["Authorization"] = "SSWS " + okta_info["credentials"]["token"]
    s.headers["Accept"] = "application/json"
    s.base = okta_info["base_url"]
    return s


def value(x):
    """SDK enums compare by .value; plain strings pass through."""
    return getattr(x, "value", x)


def link_urls(headers, rel):
    """Collects Link URLs with the given rel from either a multidict or a plain dict of headers."""
    if hasattr(headers, "getall"):
        raw = headers.getall("Link", []) or headers.getall("link", [])
    else:
        raw = [v for k, v in dict(headers).items() if k.lower() == "link"]
    out = []
    for line in raw:
        for part in line.split(","):
            part = part.strip()
            if part.endswith(f'rel="{rel}"'):
                out.append(part[part.index("<") + 1 : part.index(">")])
    return out
