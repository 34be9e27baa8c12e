"""The SDK's PrivateKey (OAuth service app) mode, group push mappings and event hooks against the emulator, and
their responses validated against Okta's OpenAPI spec."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto import jwk
from okta.models.add_group_request import AddGroupRequest
from okta.models.create_group_push_mapping_request import CreateGroupPushMappingRequest
from okta.models.event_hook import EventHook
from okta.models.update_group_push_mapping_request import UpdateGroupPushMappingRequest

from conftest import value
from test_openapi import Checker, openapi  # noqa: F401 - the fixture is used by name

READ_SCOPES = ["okta.users.read", "okta.groups.read", "okta.apps.read"]


def service_app(admin, client_id, scopes):
    """A fresh RSA key registered as a service app's JWKS; returns the PEM private key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = json.loads(jwk.JWK.from_pem(pem.encode()).export_public())
    public.update({"kid": "k1", "alg": "RS256", "use": "sig"})
    admin.post("/oauth/clients", {"client_id": client_id, "jwks": {"keys": [public]}, "scopes": scopes})
    return pem


def private_key_client(okta_info, client_id, pem, scopes):
    from okta.client import Client

    return Client(
        {
            "orgUrl": okta_info["base_url"],
            "authorizationMode": "PrivateKey",
            "clientId": client_id,
            "scopes": scopes,
            "privateKey": pem,
            "kid": "k1",
        }
    )


def test_private_key_mode_obtains_a_token_and_calls_the_api(okta_info, admin, run):
    pem = service_app(admin, "0oasdk1", READ_SCOPES + ["okta.users.manage"])

    async def go():
        client = private_key_client(okta_info, "0oasdk1", pem, READ_SCOPES + ["okta.users.manage"])
        users, _, err = await client.list_users(limit=5)
        assert err is None, err
        assert users and users[0].id.startswith("00u")
        # The cached token serves the next call too, including a manage call within its scopes.
        result = await client.revoke_user_sessions(users[0].id, oauth_tokens=True)
        assert result[-1] is None, result[-1]

    run(go())
    counters = admin.get("/counters")
    assert sum(counters["oauth_tokens_revoked"].values()) == 1


def test_a_token_without_the_scope_is_refused_with_okta_403(okta_info, admin, run):
    pem = service_app(admin, "0oasdk2", READ_SCOPES)

    async def go():
        client = private_key_client(okta_info, "0oasdk2", pem, READ_SCOPES)
        users, _, err = await client.list_users(limit=1)
        assert err is None, err
        result = await client.revoke_user_sessions(users[0].id)
        err = result[-1]
        assert err is not None
        assert err.status == 403
        assert err.error_code == "E0000006"

    run(go())


def test_the_token_endpoint_has_okta_response_shape(okta_info, admin):
    import requests

    pem = service_app(admin, "0oasdk3", READ_SCOPES)
    import jwt as pyjwt

    aud = okta_info["base_url"] + "/oauth2/v1/token"
    now = int(time.time())
    claims = {"iss": "0oasdk3", "sub": "0oasdk3", "aud": aud, "iat": now, "exp": now + 300, "jti": "j-1"}
    assertion = pyjwt.encode(claims, pem, algorithm="RS256", headers={"kid": "k1"})
    form = {
        "grant_type": "client_credentials",
        "scope": "okta.users.read",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    r = requests.post(aud, data=form, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "okta.users.read"
    again = requests.post(aud, data=form, timeout=10)
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"
    form["client_assertion"] = pyjwt.encode(dict(claims, jti="j-2"), pem, algorithm="RS256")
    form["scope"] = "okta.users.manage"
    refused = requests.post(aud, data=form, timeout=10)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"


def test_group_push_mappings_through_the_sdk(sdk, run):
    async def go():
        client = sdk()
        apps, _, err = await client.list_applications()
        assert err is None, err
        app = next(a for a in apps if a.label == "GitHub")
        groups, _, err = await client.list_groups(q="Engineering")
        assert err is None, err
        group = groups[0]
        body = CreateGroupPushMappingRequest.from_dict({"sourceGroupId": group.id, "targetGroupName": "eng"})
        mapping, _, err = await client.create_group_push_mapping(app.id, body)
        assert err is None, err
        assert value(mapping.status) == "ACTIVE" and mapping.source_group_id == group.id
        listed, _, err = await client.list_group_push_mappings(app.id)
        assert err is None, err
        assert [m.id for m in listed] == [mapping.id]

        result = await client.delete_group_push_mapping(app.id, mapping.id, False)
        err = result[-1]
        assert err is not None and err.status == 400 and err.error_code == "E0000027"

        inactive = UpdateGroupPushMappingRequest.from_dict({"status": "INACTIVE"})
        updated, _, err = await client.update_group_push_mapping(app.id, mapping.id, inactive)
        assert err is None, err
        assert value(updated.status) == "INACTIVE"
        result = await client.delete_group_push_mapping(app.id, mapping.id, False)
        assert result[-1] is None, result[-1]
        fetched = await client.get_group_push_mapping(app.id, mapping.id)
        assert fetched[-1].status == 404

    run(go())


def test_a_declared_group_is_replaced_then_deleted_through_the_sdk(sdk, run):
    """What grantflow's update_resource and delete_resource send for an Okta group: PUT /api/v1/groups/{id} with
    the whole profile, then DELETE /api/v1/groups/{id}."""

    async def go():
        client = sdk()
        created, _, err = await client.add_group(
            AddGroupRequest.from_dict({"profile": {"name": "Declared Lifecycle", "description": "before"}})
        )
        assert err is None, err
        replaced, _, err = await client.replace_group(
            created.id,
            AddGroupRequest.from_dict({"profile": {"name": "Declared Lifecycle", "description": "after"}}),
        )
        assert err is None, err
        assert replaced.id == created.id
        assert replaced.profile.actual_instance.description == "after"
        fetched, _, err = await client.get_group(created.id)
        assert err is None, err
        assert fetched.profile.actual_instance.description == "after"
        result = await client.delete_group(created.id)
        assert result[-1] is None, result[-1]
        gone = await client.get_group(created.id)
        assert gone[-1].status == 404 and gone[-1].error_code == "E0000007"

    run(go())


class Receiver(BaseHTTPRequestHandler):
    """An event-hook endpoint: answers the challenge, records deliveries, fails the first one with 500."""

    deliveries = []
    fail_first = True

    def log_message(self, *args):
        pass

    def do_GET(self):
        challenge = self.headers.get("x-okta-verification-challenge", "")
        body = json.dumps({"verification": challenge}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        payload = json.loads(self.rfile.read(length))
        Receiver.deliveries.append({"auth": self.headers.get("Authorization"), "payload": payload})
        if Receiver.fail_first:
            Receiver.fail_first = False
            self.send_response(500)
        else:
            self.send_response(204)
        self.end_headers()


@pytest.fixture
def receiver():
    Receiver.deliveries = []
    Receiver.fail_first = True
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def test_event_hooks_are_verified_and_deliver_okta_envelope_with_one_retry(sdk, run, admin, receiver, api):
    async def go():
        client = sdk()
        hook = EventHook.from_dict(
            {
                "name": "conformance",
                "events": {"type": "EVENT_TYPE", "items": ["group.user_membership.add"]},
                "channel": {
                    "type": "HTTP",
                    "version": "1.0.0",
                    "config": {
                        "uri": receiver,
                        "authScheme": {"type": "HEADER", "key": "Authorization", "value": "s3cret"},
                    },
                },
            }
        )
        created, _, err = await client.create_event_hook(hook)
        assert err is None, err
        assert value(created.verification_status) == "UNVERIFIED"
        verified, _, err = await client.verify_event_hook(created.id)
        assert err is None, err
        assert value(verified.verification_status) == "VERIFIED"

    run(go())
    demo = api.get(api.base + "/api/v1/users/okta-demo-user@example.com").json()
    group = api.get(api.base + "/api/v1/groups", params={"q": "Finance"}).json()[0]
    assert api.put(f"{api.base}/api/v1/groups/{group['id']}/users/{demo['id']}").status_code == 204
    # Okta delivers in the background; the flush only makes it prompt.
    deadline = time.time() + 10
    attempts = admin.post("/hooks/deliver")["deliveries"]
    while len(attempts) < 2 and time.time() < deadline:
        time.sleep(0.1)
        attempts = admin.post("/hooks/deliver")["deliveries"]
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, 500), (2, 204)], attempts
    first, second = Receiver.deliveries[:2]
    assert first["auth"] == "s3cret"
    assert first["payload"]["eventId"] == second["payload"]["eventId"], "a retry keeps the eventId"
    payload = first["payload"]
    assert payload["eventType"] == "com.okta.event_hook" and payload["cloudEventsVersion"] == "0.1"
    events = payload["data"]["events"]
    assert [e["eventType"] for e in events] == ["group.user_membership.add"]


def test_new_endpoints_validate_against_the_spec(api, openapi):  # noqa: F811
    check = Checker(api, openapi)
    apps = api.get(api.base + "/api/v1/apps").json()
    app = next(a for a in apps if a["label"] == "GitHub")["id"]
    group = api.get(api.base + "/api/v1/groups", params={"q": "Sales"}).json()[0]["id"]
    base = f"/api/v1/apps/{app}/group-push/mappings"
    created = check("POST", base, 201, json={"sourceGroupId": group, "targetGroupName": "sales", "status": "INACTIVE"})
    mapping = created.json()["id"]
    check("GET", base, 200)
    check("GET", f"{base}/{mapping}", 200)
    check("PATCH", f"{base}/{mapping}", 200, json={"status": "ACTIVE"})
    check("DELETE", f"{base}/{mapping}", 400, params={"deleteTargetGroup": "false"})
    check("PATCH", f"{base}/{mapping}", 200, json={"status": "INACTIVE"})
    check("DELETE", f"{base}/{mapping}", 204, params={"deleteTargetGroup": "false"})
    check("GET", f"{base}/{mapping}", 404)
    hook = check(
        "POST",
        "/api/v1/eventHooks",
        200,
        json={
            "name": "spec",
            "events": {"type": "EVENT_TYPE", "items": ["user.lifecycle.create"]},
            "channel": {"type": "HTTP", "version": "1.0.0", "config": {"uri": "https://127.0.0.1:9/hook"}},
        },
    ).json()["id"]
    check("GET", "/api/v1/eventHooks", 200)
    check("GET", f"/api/v1/eventHooks/{hook}", 200)
    check("POST", f"/api/v1/eventHooks/{hook}/lifecycle/deactivate", 200)
    check("DELETE", f"/api/v1/eventHooks/{hook}", 204)
    target = api.post(api.base + "/api/v1/groups", json={"profile": {"name": "Rule target"}}).json()["id"]
    rule = check(
        "POST",
        "/api/v1/groups/rules",
        200,
        json={
            "type": "group_rule",
            "name": "Engineers",
            "conditions": {"expression": {"value": 'user.department == "Engineering"', "type": "urn:okta:expression:1.0"}},
            "actions": {"assignUserToGroups": {"groupIds": [target]}},
        },
    ).json()["id"]
    check("GET", "/api/v1/groups/rules", 200)
    check("GET", f"/api/v1/groups/rules/{rule}", 200)
    check("POST", f"/api/v1/groups/rules/{rule}/lifecycle/activate", 204)
    members = api.get(f"{api.base}/api/v1/groups/{target}/users").json()
    assert members and all(m["profile"].get("department") == "Engineering" for m in members)
    check("POST", f"/api/v1/groups/rules/{rule}/lifecycle/deactivate", 204)
    check("DELETE", f"/api/v1/groups/rules/{rule}", 202, params={"removeUsers": "true"})
    assert api.get(f"{api.base}/api/v1/groups/{target}/users").json() == []
    users = api.get(api.base + "/api/v1/users", params={"limit": 1}).json()
    check("POST", f"/api/v1/users/{users[0]['id']}/lifecycle/expire_password_with_temp_password", 200)
    assert not check.failures, "\n".join(check.failures)
