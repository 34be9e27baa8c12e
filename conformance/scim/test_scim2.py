"""scim2-tester's full check run, the scim2 CLI's `test`, and the protocol features the tester does not reach
(filters, pagination, PATCH member paths, ETags, the provider's 429), through scim2-client."""

import collections
import os
import pathlib
import subprocess
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import Group, ListResponse, PatchOp, PatchOperation, SearchRequest, User
from scim2_tester import Status, check_server


def test_every_scim2_tester_check_succeeds(base_url, auth, record_property):
    client = SyncSCIMClient(Client(base_url=base_url, headers=auth))
    results = check_server(client)
    counts = collections.Counter(r.status.name for r in results)
    record_property("summary", f"scim2-tester check_server: {len(results)} checks, {dict(counts)}")
    not_ok = [f"{r.status.name} {r.resource_type or ''} {r.title}: {r.reason}" for r in results if r.status != Status.SUCCESS]
    assert not not_ok, "\n".join(not_ok)
    # Discovery, the 405s, misc and both resource types' CRUD and PATCH checks all ran.
    assert len(results) >= 60, len(results)
    assert {r.resource_type for r in results} >= {"User", "Group"}


def test_the_scim2_cli_test_command_exits_zero(base_url, auth, record_property):
    scim2 = pathlib.Path(sys.executable).parent / "scim2"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIM_CLI")}
    run = subprocess.run(
        [str(scim2), "--url", base_url, "-h", f"Authorization: {auth['Authorization']}", "test"],
        capture_output=True, text=True, timeout=240, env=env, stdin=subprocess.DEVNULL,
    )
    lines = run.stdout.splitlines()
    record_property("summary", f"scim2 test: exit {run.returncode}, "
                   f"{sum(l.startswith('SUCCESS') for l in lines)} SUCCESS lines of {len(lines)}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert not [l for l in lines if l.startswith(("ERROR", "SKIPPED"))]


def test_filters_follow_the_rfc_grammar(scim, http):
    def names(flt):
        resp = scim.query(User, query_parameters=SearchRequest(filter=flt, count=100))
        return sorted(u.user_name for u in resp.resources or [])

    assert names('userName eq "NEW.HIRE@example.com"') == ["new.hire@example.com"]
    assert names('emails[type eq "work" and value ew "@example.com"] and (name.givenName sw "ok" or name.familyName sw "OK")') == [
        "okta-demo-user@example.com", "sam.okafor@example.com"]
    assert names('active eq false') == ["former.engineer@example.com"]
    assert names('not (active eq true) or (userName co "petrova" and title pr)') == [
        "former.engineer@example.com", "nina.petrova@example.com"]
    assert names('groups.display eq "Platform" and externalId gt "E1009"') == [
        "nina.petrova@example.com", "sam.okafor@example.com"]
    # scim2-client refuses to send a malformed filter, so this one goes out by hand.
    bad = http.get("/Users", params={"filter": "userName eq"})
    assert bad.status_code == 400 and bad.json()["scimType"] == "invalidFilter"
    unknown = http.post("/Users/.search", json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                                "filter": 'shoeSize gt "9"'})
    assert unknown.status_code == 400 and unknown.json()["scimType"] == "invalidFilter"


def test_pages_follow_start_index_and_count(scim):
    seen = []
    start = 1
    while True:
        page = scim.query(User, query_parameters=SearchRequest(start_index=start, count=3))
        assert isinstance(page, ListResponse)
        assert page.total_results == 11 and page.start_index == start
        seen += [u.id for u in page.resources or []]
        if start + 3 > page.total_results:
            break
        start += 3
    assert len(seen) == len(set(seen)) == 11


def test_group_members_are_patched_by_value_path_and_by_value_list(scim):
    groups = scim.query(Group, query_parameters=SearchRequest(filter='displayName eq "Platform"'))
    group = groups.resources[0]
    hire = scim.query(User, query_parameters=SearchRequest(filter='userName eq "new.hire@example.com"')).resources[0]
    add = PatchOp[Group](operations=[PatchOperation(op=PatchOperation.Op.add, path="members",
                                                    value=[{"value": hire.id}])])
    patched = scim.modify(Group, group.id, add)
    assert hire.id in [m.value for m in patched.members]
    user = scim.query(User, hire.id)
    assert [g.display for g in user.groups] == ["Platform"]
    remove = PatchOp[Group](operations=[PatchOperation(op=PatchOperation.Op.remove,
                                                       path=f'members[value eq "{hire.id}"]')])
    patched = scim.modify(Group, group.id, remove)
    assert hire.id not in [m.value for m in patched.members or []]


def test_deactivation_with_a_pathless_replace_and_etags(http, scim):
    hire = scim.query(User, query_parameters=SearchRequest(filter='userName eq "new.hire@example.com"')).resources[0]
    url = f"/Users/{hire.id}"
    etag = http.get(url).headers["etag"]
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "value": {"active": "False"}}]}
    stale = http.patch(url, json=body, headers={"If-Match": 'W/"0"'})
    assert stale.status_code == 412 and stale.json()["status"] == "412"
    r = http.patch(url, json=body, headers={"If-Match": etag})
    assert r.status_code == 200 and r.json()["active"] is False
    assert r.headers["etag"] != etag
    assert http.get(url, headers={"If-None-Match": r.headers["etag"]}).status_code == 304


def test_deleted_resources_are_gone_and_unknown_urls_are_scim_errors(http, scim):
    hire = scim.query(User, query_parameters=SearchRequest(filter='userName eq "new.hire@example.com"')).resources[0]
    assert http.delete(f"/Users/{hire.id}").status_code == 204
    gone = http.get(f"/Users/{hire.id}")
    assert gone.status_code == 404 and gone.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert http.get("/Nope").json()["status"] == "404"
    assert http.post("/Schemas", json={}).status_code == 405
    dup = http.post("/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                    "userName": "PRIYA.RAMAN@example.com"})
    assert dup.status_code == 409 and dup.json()["scimType"] == "uniqueness"


def test_the_rate_limit_is_a_429_with_retry_after_and_a_scim_error(http, admin):
    admin.post("/rate-limits", {"window_seconds": 30, "all": 1})
    assert http.get("/Users").status_code == 200
    r = http.get("/Users")
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    assert r.json()["status"] == "429"


def test_a_wrong_token_is_a_401_scim_error(base_url):
    with Client(base_url=base_url, headers={"Authorization": "Bearer nope"}) as c:
        r = c.get("/Users")
    assert r.status_code == 401 and r.json()["status"] == "401"


def test_accounts_are_created_patched_deactivated_and_deleted(http, scim, admin):
    created = http.post("/Users", json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "nia.park@example.com",
        "name": {"givenName": "Nia", "familyName": "Park"}, "title": "Sales Engineer", "active": True,
        "emails": [{"value": "nia.park@example.com", "type": "work", "primary": True}],
    })
    assert created.status_code == 201
    nia = scim.query(User, query_parameters=SearchRequest(filter='userName eq "nia.park@example.com"')).resources[0]
    assert nia.title == "Sales Engineer" and nia.name.given_name == "Nia"
    patch = PatchOp[User](operations=[
        PatchOperation(op="replace", path="title", value="Staff Engineer"),
        PatchOperation(op="replace", path="name.givenName", value="Nia-Marie"),
    ])
    scim.modify(User, nia.id, patch)
    read = http.get(f"/Users/{nia.id}").json()
    assert read["title"] == "Staff Engineer" and read["name"]["givenName"] == "Nia-Marie"
    assert read["name"]["familyName"] == "Park", "attributes not named keep their values"
    scim.modify(User, nia.id, PatchOp[User](operations=[PatchOperation(op="replace", path="active", value=False)]))
    assert http.get(f"/Users/{nia.id}").json()["active"] is False
    assert http.delete(f"/Users/{nia.id}").status_code == 204
    assert http.get(f"/Users/{nia.id}").status_code == 404
    assert admin.get("/writes")["writes"][f"user/{nia.id}"] == 4
