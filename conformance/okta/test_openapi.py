"""Every endpoint the emulator serves, validated against Okta's published OpenAPI spec (management-minimal.yaml)."""

import pathlib

import pytest
import yaml

from conftest import Admin

def _find_spec():
    """`shared/vendor-specs` beside the checkout, found from any depth (a worktree sits one level deeper)."""
    here = pathlib.Path(__file__).resolve()
    candidates = [p / "shared" / "vendor-specs" / "okta" / "management-minimal.yaml" for p in here.parents]
    return next((c for c in candidates if c.exists()), candidates[0])


SPEC = _find_spec()

DEMO = "okta-demo-user@example.com"


@pytest.fixture(scope="session")
def openapi(okta_info):
    from openapi_core import Config, OpenAPI

    if not SPEC.exists():
        pytest.fail(f"Okta OpenAPI spec not found at {SPEC}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC.open("rb") as f:
        spec = yaml.load(f, Loader=loader)
    # The spec's server is a template (https://{yourOktaDomain}); point it at the emulator so paths resolve.
    spec["servers"] = [{"url": okta_info["base_url"]}]
    # Skipping the meta-validation of a 3.4 MB spec keeps the session fast; the spec is Okta's own.
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


class Checker:
    """Sends requests and validates each response against the spec, collecting every failure."""

    def __init__(self, api, openapi):
        self.api = api
        self.openapi = openapi
        self.failures = []
        self.checked = 0

    def __call__(self, method, path, expect, json=None, params=None, auth=True):
        from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
        from openapi_core.templating.responses.exceptions import ResponseNotFound

        headers = {} if auth else {"Authorization": ""}
        r = self.api.request(method, self.api.base + path, json=json, params=params, headers=headers, timeout=10)
        label = f"{method} {path} -> {r.status_code}"
        if r.status_code != expect:
            self.failures.append(f"{label}: expected {expect}: {r.text[:300]}")
            return r
        if not r.content:
            # openapi-core reports "missing data" for `content: {}` responses; the spec means "no body", so
            # check that directly: nothing sent, and no JSON content type (the Python SDK would parse it).
            if "json" in r.headers.get("Content-Type", ""):
                self.failures.append(f"{label}: empty body must not claim a JSON content type")
            self.checked += 1
            return r
        try:
            self.openapi.validate_response(RequestsOpenAPIRequest(r.request), RequestsOpenAPIResponse(r))
            self.checked += 1
        except ResponseNotFound:
            # A status the spec doesn't list for this operation (e.g. 409 E0000062, documented only in the
            # error-code catalogue): it must still be Okta's Error object.
            self.check_error_body(label, r)
        except Exception as e:  # noqa: BLE001 - report every schema mismatch, not just the first
            detail = getattr(e, "__cause__", None) or e
            self.failures.append(f"{label}: {type(e).__name__}: {detail}"[:1500])
        return r

    def check_error_body(self, label, r):
        try:
            body = r.json()
        except ValueError:
            self.failures.append(f"{label}: error body is not JSON")
            return
        keys = {"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"}
        if set(body) != keys or not all(isinstance(body[k], str) for k in keys - {"errorCauses"}):
            self.failures.append(f"{label}: not an Okta Error body: {body}")
        self.checked += 1

    def done(self):
        assert not self.failures, "\n".join(self.failures)
        assert self.checked > 0


@pytest.fixture
def check(api, openapi):
    return Checker(api, openapi)


def test_user_endpoints_match_spec(check):
    users = check("GET", "/api/v1/users", 200, params={"limit": 3}).json()
    assert len(users) == 3
    check("GET", "/api/v1/users", 200, params={"search": 'profile.department eq "Platform"'})
    check("GET", "/api/v1/users", 200, params={"filter": 'status eq "ACTIVE"', "limit": 2})
    check("GET", "/api/v1/users", 200, params={"q": "okta"})
    demo = check("GET", f"/api/v1/users/{DEMO}", 200).json()
    uid = demo["id"]
    check("GET", f"/api/v1/users/{uid}/groups", 200)
    check("GET", f"/api/v1/users/{uid}/appLinks", 200)
    check("POST", f"/api/v1/users/{uid}", 200, json={"profile": {"title": "Principal SRE"}})
    full = {"firstName": "Okta", "lastName": "Demo", "email": DEMO, "login": DEMO, "department": "Platform"}
    check("PUT", f"/api/v1/users/{uid}", 200, json={"profile": full})
    created = check(
        "POST",
        "/api/v1/users",
        200,
        params={"activate": "false"},
        json={"profile": {"firstName": "Spec", "lastName": "Check", "email": "spec@example.com", "login": "spec@example.com"}},
    ).json()
    check("POST", "/api/v1/users", 400, json={"profile": {"firstName": "D", "lastName": "U", "email": DEMO, "login": DEMO}})
    check("GET", "/api/v1/users/missing@example.com", 404)
    check("DELETE", f"/api/v1/users/{created['id']}", 204)
    check("DELETE", f"/api/v1/users/{created['id']}", 204)
    check.done()


def test_lifecycle_endpoints_match_spec(check):
    user = check(
        "POST",
        "/api/v1/users",
        200,
        params={"activate": "false"},
        json={
            "profile": {"firstName": "Life", "lastName": "Cycle", "email": "lc@example.com", "login": "lc@example.com"},
            "credentials": {"password": {"value": "Sup3r-Secret-pw!"}},
        },
    ).json()
    lc = f"/api/v1/users/{user['id']}/lifecycle"
    check("POST", f"{lc}/activate", 200, params={"sendEmail": "false"})
    check("POST", f"{lc}/activate", 403)
    check("POST", f"{lc}/suspend", 200)
    check("POST", f"{lc}/suspend", 400)
    check("POST", f"{lc}/unsuspend", 200)
    check("POST", f"{lc}/reactivate", 403)
    check("POST", f"{lc}/unlock", 200)
    check("POST", f"{lc}/reset_factors", 200)
    check("POST", f"{lc}/expire_password", 200)
    check("POST", f"{lc}/reset_password", 200, params={"sendEmail": "false"})
    check("DELETE", f"/api/v1/users/{user['id']}/sessions", 204, params={"oauthTokens": "true"})
    check("POST", f"{lc}/deactivate", 200)
    check("POST", f"/api/v1/users/00uNOSUCHUSER0000000/lifecycle/suspend", 404)
    check.done()


def test_group_endpoints_match_spec(check):
    demo = check("GET", f"/api/v1/users/{DEMO}", 200).json()
    check("GET", "/api/v1/groups", 200)
    check("GET", "/api/v1/groups", 200, params={"q": "Eng", "limit": 5})
    check("GET", "/api/v1/groups", 200, params={"search": 'profile.name sw "Pay"', "expand": "stats"})
    g = check("POST", "/api/v1/groups", 200, json={"profile": {"name": "Spec Group", "description": "d"}}).json()
    gid = g["id"]
    check("POST", "/api/v1/groups", 400, json={"profile": {"name": "Spec Group"}})
    check("GET", f"/api/v1/groups/{gid}", 200)
    check("PUT", f"/api/v1/groups/{gid}", 200, json={"profile": {"name": "Spec Group 2", "description": "e"}})
    check("PUT", f"/api/v1/groups/{gid}/users/{demo['id']}", 204)
    check("PUT", f"/api/v1/groups/{gid}/users/{demo['id']}", 204)
    check("GET", f"/api/v1/groups/{gid}/users", 200)
    check("DELETE", f"/api/v1/groups/{gid}/users/{demo['id']}", 204)
    check("GET", f"/api/v1/groups/{gid}/apps", 200)
    check("DELETE", f"/api/v1/groups/{gid}", 204)
    check("GET", f"/api/v1/groups/{gid}", 404)
    check.done()


def test_app_endpoints_match_spec(check):
    apps = check("GET", "/api/v1/apps", 200, params={"limit": 200}).json()
    by_label = {a["label"]: a["id"] for a in apps}
    check("GET", "/api/v1/apps", 200, params={"filter": 'status eq "ACTIVE"', "q": "G"})
    jira = by_label["Jira"]
    check("GET", f"/api/v1/apps/{jira}", 200)
    check("GET", "/api/v1/apps/0oaNOSUCHAPP00000000", 404)
    check("GET", f"/api/v1/apps/{jira}/users", 200, params={"expand": "user"})
    grace = check("GET", "/api/v1/users/grace.lee@example.com", 200).json()["id"]
    check("POST", f"/api/v1/apps/{jira}/users", 200, json={"id": grace, "scope": "USER"})
    check("POST", f"/api/v1/apps/{jira}/users", 409, json={"id": grace, "scope": "USER"})
    check("GET", f"/api/v1/apps/{jira}/users/{grace}", 200)
    check("DELETE", f"/api/v1/apps/{jira}/users/{grace}", 204)
    groups = check("GET", f"/api/v1/apps/{jira}/groups", 200).json()
    assert groups
    finance = check("GET", "/api/v1/groups", 200, params={"q": "Finance"}).json()[0]["id"]
    check("PUT", f"/api/v1/apps/{jira}/groups/{finance}", 200, json={"priority": 5})
    check("GET", f"/api/v1/apps/{jira}/groups/{finance}", 200)
    check("GET", f"/api/v1/apps/{jira}/groups", 200, params={"expand": "group"})
    check("DELETE", f"/api/v1/apps/{jira}/groups/{finance}", 204)
    check.done()


def test_system_log_and_throttling_match_spec(check, admin: Admin):
    check("POST", "/api/v1/groups", 200, json={"profile": {"name": "Logged"}})
    events = check("GET", "/api/v1/logs", 200, params={"filter": 'eventType eq "group.lifecycle.create"'}).json()
    assert len(events) == 1
    check("GET", "/api/v1/logs", 200, params={"sortOrder": "DESCENDING", "limit": 5})
    check("GET", "/api/v1/logs", 400, params={"since": "2001-01-01T00:00:00Z"})
    admin.post("/rate-limits", {"buckets": {"logs": 1}})
    check("GET", "/api/v1/logs", 200)
    r = check("GET", "/api/v1/logs", 429)
    assert r.headers["X-Rate-Limit-Remaining"] == "0"
    check.done()


def test_unauthenticated_requests_get_e0000011(api):
    r = api.get(api.base + "/api/v1/users", headers={"Authorization": "SSWS nope"}, timeout=10)
    assert r.status_code == 401
    body = r.json()
    assert body["errorCode"] == "E0000011"
    assert set(body) == {"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"}
