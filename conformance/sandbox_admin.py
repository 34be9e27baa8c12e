"""Shared by the GitLab and Slack suites: the sandbox info for one system and its `/__sandbox` admin endpoint."""

import json
import os
import pathlib

import pytest
import requests


def system_info(key):
    """The `SystemInfo` of `key` from the file named by GRANTFLOW_SANDBOX_INFO (written by the Rust driver)."""
    path = os.environ.get("GRANTFLOW_SANDBOX_INFO")
    if not path:
        pytest.fail("GRANTFLOW_SANDBOX_INFO must name the sandbox info JSON file")
    return json.loads(pathlib.Path(path).read_text())["systems"][key]


def service_info(key):
    """The `ServiceInfo` of `key` (a service for flows, such as the 1Password Connect emulator `vault`)."""
    path = os.environ.get("GRANTFLOW_SANDBOX_INFO")
    if not path:
        pytest.fail("GRANTFLOW_SANDBOX_INFO must name the sandbox info JSON file")
    return json.loads(pathlib.Path(path).read_text())["services"][key]


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
