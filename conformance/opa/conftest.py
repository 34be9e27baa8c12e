"""Fixtures for checking the grantflow OPA emulator with `requests` against the documented API.

OPA has no official Python client, so this suite speaks the documented paths and shapes directly:
  https://developer.okta.com/docs/api/openapi/opa/  (tags "secrets", "security-policy", "resource-groups")
  https://developer.okta.com/docs/api/openapi/asa   (service tokens; "handle 401 by creating a new token")
and the Okta Terraform provider (okta/terraform-provider-oktapam, oktapam/client/*.go) for how a client uses them.
"""

import pytest
import requests

from conformance.sandbox_admin import Admin, system_info


@pytest.fixture(scope="session")
def info():
    return system_info("opa")


@pytest.fixture
def admin(info):
    return Admin(info["admin_url"])


@pytest.fixture(autouse=True)
def fresh_team(info):
    """Every test starts from the seeded demo team with default limits and no faults."""
    Admin(info["admin_url"]).post("/reset")
    yield


class Opa:
    """A minimal OPA client: service token, then `Authorization: Bearer` on every call (okta_pam_client.go)."""

    def __init__(self, info):
        self.team = info["credentials"]["team"]
        self.base = f"{info['base_url']}/v1/teams/{self.team}"
        self.key_id = info["credentials"]["key_id"]
        self.key_secret = info["credentials"]["key_secret"]
        self.token = None

    def mint(self):
        r = requests.post(
            f"{self.base}/service_token",
            json={"key_id": self.key_id, "key_secret": self.key_secret},
            headers={"Accept": "application/json"},
            timeout=10,
        )
        r.raise_for_status()
        self.token = r.json()["bearer_token"]
        return r.json()

    def call(self, method, path, body=None, **params):
        if self.token is None:
            self.mint()
        return requests.request(
            method,
            f"{self.base}/{path}" if not path.startswith("http") else path,
            json=body,
            params=params or None,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
            timeout=10,
        )

    def list_all(self, path, **params):
        """Follows `Link: rel="next"` (with its `offset`) until the last page, as the provider does."""
        items, url, pages = [], path, 0
        while url:
            r = self.call("GET", url, **(params if pages == 0 else {}))
            assert r.status_code == 200, r.text
            items.extend(r.json()["list"])
            pages += 1
            url = r.links.get("next", {}).get("url")
        return items, pages


@pytest.fixture
def opa(info):
    return Opa(info)
