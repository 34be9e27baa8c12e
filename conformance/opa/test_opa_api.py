"""The OPA emulator against the documented Okta Privileged Access API, spoken with `requests`.

Docs: https://developer.okta.com/docs/api/openapi/opa/opa/tag/security-policy/ (security policies),
https://developer.okta.com/docs/api/openapi/opa/opa/tag/secrets/ (secret folders),
https://developer.okta.com/docs/api/openapi/opa/opa/tag/resource-groups/ (resource groups and projects),
https://developer.okta.com/docs/api/openapi/asa (service tokens and 401s).
"""

import time
import urllib.parse

import requests


def rg_and_project(opa):
    rgs, _ = opa.list_all("resource_groups")
    rg = next(r for r in rgs if r["name"] == "payments")
    projects, _ = opa.list_all(f"resource_groups/{rg['id']}/projects")
    project = next(p for p in projects if p["name"] == "payments-prod")
    return rg, project


def test_service_token_is_a_bearer_that_expires_and_a_bad_key_is_refused(opa, info, admin):
    token = opa.mint()
    assert token["team_name"].lower() == info["credentials"]["team"].lower()
    assert token["bearer_token"] and token["expires_at"].endswith("Z")
    assert opa.call("GET", "users").status_code == 200
    admin.post("/expire-tokens")
    expired = opa.call("GET", "users")
    assert expired.status_code == 401 and "message" in expired.json()
    opa.mint()
    assert opa.call("GET", "users").status_code == 200
    bad = requests.post(f"{opa.base}/service_token", json={"key_id": opa.key_id, "key_secret": "nope"}, timeout=10)
    assert bad.status_code == 401
    no_bearer = requests.get(f"{opa.base}/users", timeout=10)
    assert no_bearer.status_code == 401


def test_lists_are_wrapped_and_paged_by_link_offset(opa):
    users, pages = opa.list_all("users", count=5)
    assert pages == 3 and len(users) == len({u["id"] for u in users}) == 12
    assert {"id", "name", "status", "user_type"} <= set(users[0])
    first = opa.call("GET", "users", count=5)
    next_url = first.links["next"]["url"]
    assert urllib.parse.parse_qs(urllib.parse.urlparse(next_url).query)["offset"] == ["5"]
    ravi = opa.call("GET", "users/ravi.patel").json()
    assert ravi["status"] == "ACTIVE"


def test_groups_by_name_with_contains_create_membership_and_delete(opa):
    found = opa.call("GET", "groups", contains="payments").json()["list"]
    assert [g["name"] for g in found] == ["payments-engineers"]
    created = opa.call("POST", "groups", {"name": "secrets-team", "roles": ["end_user"]})
    assert created.status_code == 201 and created.json()["roles"] == ["end_user"]
    assert opa.call("POST", "groups", {"name": "secrets-team", "roles": []}).status_code == 409
    assert opa.call("GET", "groups/secrets-team").json()["name"] == "secrets-team"
    assert opa.call("PUT", "groups/secrets-team", {"roles": ["resource_admin"]}).status_code == 204
    assert opa.call("GET", "groups/secrets-team").json()["roles"] == ["resource_admin"]
    assert opa.call("POST", "groups/secrets-team/users", {"name": "ravi.patel"}).status_code == 204
    members = opa.call("GET", "groups/secrets-team/users").json()["list"]
    assert [m["name"] for m in members] == ["ravi.patel"]
    assert opa.call("DELETE", "groups/secrets-team/users/ravi.patel").status_code == 204
    assert opa.call("DELETE", "groups/secrets-team").status_code == 204
    assert opa.call("GET", "groups/secrets-team").status_code == 404


def test_secret_folders_keep_opas_name_rule_and_answer_with_their_path(opa):
    rg, project = rg_and_project(opa)
    base = f"resource_groups/{rg['id']}/projects/{project['id']}/secret_folders"
    bad = opa.call("POST", base, {"name": "has spaces", "description": ""})
    assert bad.status_code == 400 and "message" in bad.json()
    created = opa.call("POST", base, {"name": "payments-secrets", "description": "d"})
    assert created.status_code == 201, created.text
    folder = created.json()
    assert folder["path"] == [{"id": folder["id"], "name": "payments-secrets"}]
    assert {"created_at", "created_by", "updated_at", "updated_by"} <= set(folder)
    listed = opa.call("GET", base).json()["list"]
    entry = next(f for f in listed if f["name"] == "payments-secrets")
    assert entry["type"] == "folder" and entry["project"]["name"] == "payments-prod"
    assert entry["resource_group"] == {"id": rg["id"], "name": "payments", "type": "resource_group", "missing": False}
    updated = opa.call("PUT", f"{base}/{folder['id']}", {"name": "payments-secrets", "description": "new"})
    assert updated.status_code in (200, 204)
    assert opa.call("GET", f"{base}/{folder['id']}").json()["description"] == "new"
    assert opa.call("DELETE", f"{base}/{folder['id']}").status_code == 204
    assert opa.call("GET", f"{base}/{folder['id']}").status_code == 404


def policy_body(name, group_id, folder_id):
    # The create request of the docs' sample, with the extra discriminators some SDKs send.
    return {
        "name": name,
        "description": "Payments secrets",
        "active": True,
        "principals": {"user_groups": [{"id": group_id}]},
        "rules": [{
            "name": "Allow secret access",
            "resource_type": "secret_based_resource",
            "resource_selector": {"_type": "default", "selectors": [{
                "selector_type": "secret_folder",
                "selector": {"secret_folder": {"id": folder_id}},
            }]},
            "privileges": [{"privilege_type": "secret", "privilege_value": {
                "_type": "secret", "list": True, "folder_create": True, "folder_update": True,
                "folder_delete": False, "secret_create": True, "secret_update": True,
                "secret_reveal": True, "secret_delete": False}}],
            "conditions": [],
        }],
    }


def test_security_policies_echo_principals_as_named_objects_and_refuse_duplicates(opa):
    rg, project = rg_and_project(opa)
    folders = opa.call("GET", f"resource_groups/{rg['id']}/projects/{project['id']}/secret_folders").json()["list"]
    group = opa.call("GET", "groups/payments-engineers").json()
    created = opa.call("POST", "security_policy", policy_body("payments-access", group["id"], folders[0]["id"]))
    assert created.status_code in (200, 201), created.text
    policy = created.json()
    assert policy["principals"]["user_groups"] == [
        {"id": group["id"], "name": "payments-engineers", "type": "user_group", "missing": False}
    ]
    assert policy["rules"][0]["security_policy_id"] == policy["id"]
    again = opa.call("POST", "security_policy", policy_body("payments-access", group["id"], folders[0]["id"]))
    assert again.status_code == 409 and "message" in again.json()
    listed = opa.call("GET", "security_policy").json()["list"]
    assert {"payments-access", "payments-shared-access"} <= {p["name"] for p in listed}
    body = policy_body("payments-access", group["id"], folders[0]["id"])
    body["active"] = False
    assert opa.call("PUT", f"security_policy/{policy['id']}", body).status_code in (200, 204)
    assert opa.call("GET", f"security_policy/{policy['id']}").json()["active"] is False
    assert opa.call("DELETE", f"security_policy/{policy['id']}").status_code == 204
    assert opa.call("GET", f"security_policy/{policy['id']}").status_code == 404


def test_rate_limit_answers_429_with_retry_at_in_unix_seconds(opa, admin):
    opa.mint()
    admin.post("/rate-limits", {"window_seconds": 2, "all": 1})
    assert opa.call("GET", "users").status_code == 200
    limited = opa.call("GET", "users")
    assert limited.status_code == 429
    retry_at = int(limited.headers["X-RateLimit-Retry-At"])
    assert time.time() - 1 <= retry_at <= time.time() + 3


def test_injected_server_errors_answer_5xx(opa, admin):
    opa.mint()
    admin.post("/faults", {"error_rate": 1.0, "error_status": 503})
    assert opa.call("GET", "users").status_code == 503
