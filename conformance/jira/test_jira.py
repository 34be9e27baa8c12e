"""jira 3.x against the emulator: the Cloud constructor, project roles and their actors, group membership,
issues and the admin webhook they fire, a 429 the library retries, and errors as JIRAError."""

import hashlib
import hmac
import http.server
import json
import threading
import time

import pytest
from jira import JIRA, JIRAError

NEW_HIRE = "5b10ac8d82e05b22cc7d0008"
NINA = "5b10ac8d82e05b22cc7d0011"
SAM = "5b10ac8d82e05b22cc7d0010"


def actors(role):
    users = {a.actorUser.accountId for a in role.actors if a.type == "atlassian-user-role-actor"}
    groups = {a.actorGroup.name for a in role.actors if a.type == "atlassian-group-role-actor"}
    return users, groups


def test_constructor_reads_server_info_as_cloud(client, info):
    assert client.deploymentType == "Cloud"
    assert client.server_info()["versionNumbers"][0] >= 1001
    me = client.myself()
    assert me["emailAddress"] == info["credentials"]["email"]


def test_wrong_token_is_refused_with_jiras_error_body(info):
    with pytest.raises(JIRAError) as e:
        JIRA(server=info["base_url"], basic_auth=(info["credentials"]["email"], "not-the-token")).myself()
    assert e.value.status_code == 401
    assert "not authenticated" in e.value.text


def test_projects_and_their_roles(client, info):
    assert {p.key for p in client.projects()} == {"PLAT", "PAY", "SEC", "ENG"}
    roles = client.project_roles("PLAT")
    assert set(roles) == {"Administrators", "Developers", "Viewers"}
    # The role URLs point back at the address the client used, so the library can follow them.
    assert roles["Developers"]["url"].startswith(info["base_url"] + "/rest/api/2/project/")
    dev = client.project_role("PLAT", roles["Developers"]["id"])
    assert dev.name == "Developers"
    users, groups = actors(dev)
    assert users == {NINA, "5b10ac8d82e05b22cc7d0012"}
    assert groups == {"platform-team"}
    assert dev.scope.project.key == "PLAT"


def test_role_add_user_posts_to_the_self_url_and_update_replaces(client, admin):
    dev_id = client.project_roles("PLAT")["Developers"]["id"]
    role = client.project_role("PLAT", dev_id)
    role.add_user(users=NEW_HIRE)
    users, groups = actors(client.project_role("PLAT", dev_id))
    assert NEW_HIRE in users and groups == {"platform-team"}
    assert admin.get("/writes")["writes"][f"project/PLAT/role:Developers/user/{NEW_HIRE}"] == 1

    role = client.project_role("PLAT", dev_id)
    role.update(users=(SAM,), groups=("engineering",))
    users, groups = actors(client.project_role("PLAT", dev_id))
    assert users == {SAM} and groups == {"engineering"}


def test_adding_a_present_actor_is_a_400_with_error_messages(client):
    dev_id = client.project_roles("PLAT")["Developers"]["id"]
    with pytest.raises(JIRAError) as e:
        client.project_role("PLAT", dev_id).add_user(users=NINA)
    assert e.value.status_code == 400
    assert "already a member of the project role" in e.value.text


def test_add_and_remove_user_in_group_and_group_members(client, admin):
    before = client.group_members("payments-team")
    assert set(before) == {"5b10ac8d82e05b22cc7d0014", "5b10ac8d82e05b22cc7d0015"}
    assert before["5b10ac8d82e05b22cc7d0015"]["email"] == "ravi.patel@example.com"

    added = client.add_user_to_group(NEW_HIRE, "payments-team")
    assert added and added["name"] == "payments-team"
    assert NEW_HIRE in client.group_members("payments-team")
    with pytest.raises(JIRAError) as e:
        client.add_user_to_group(NEW_HIRE, "payments-team")
    assert e.value.status_code == 400

    assert client.remove_user_from_group(NEW_HIRE, "payments-team")
    assert NEW_HIRE not in client.group_members("payments-team")
    assert admin.get("/writes")["writes"][f"group/payments-team/member/{NEW_HIRE}"] == 2


def test_group_members_pages_through_the_legacy_expand(client):
    # 14 members, fetched 50 at a time by the library; the count proves the expand slice is honoured.
    members = client.group_members("jira-software-users")
    assert len(members) == 14
    assert all(m["active"] for m in members.values())


def test_groups_and_user_search(client):
    names = client.groups(query="team")
    assert names == ["payments-team", "platform-team"]
    found = client.search_users(query="new.hire@example.com")
    assert [u.accountId for u in found] == [NEW_HIRE]
    assert client.user(NEW_HIRE).emailAddress == "new.hire@example.com"


def test_a_429_is_retried_after_retry_after(client, admin):
    admin.post("/rate-limits", {"window_seconds": 1, "all": 2})
    started = time.monotonic()
    for _ in range(4):
        assert client.project_roles("PAY")
    # The library sleeps 2*max(Retry-After, 1)*U(0.5, 1) seconds before it retries.
    assert time.monotonic() - started >= 0.9


def test_a_missing_project_is_a_404_jiraerror_with_jiras_message(client):
    with pytest.raises(JIRAError) as e:
        client.project_roles("NOPE")
    assert e.value.status_code == 404
    assert "No project could be found with key 'NOPE'." in e.value.text


def test_an_issue_created_through_the_library_is_read_back_and_fires_the_signed_webhook(client, admin):
    received = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers.items()), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        admin.post("/webhooks", {"url": f"http://127.0.0.1:{server.server_port}/jira", "secret": "s3cret"})
        issue = client.create_issue(
            project="SEC", summary="Suspicious sign-in for kim", issuetype={"name": "Incident"}
        )
        assert issue.key == "SEC-1"
        assert issue.fields.issuetype.name == "Incident"
        assert issue.fields.project.key == "SEC"
        assert client.issue(issue.id).fields.summary == "Suspicious sign-in for kim"
        deadline = time.time() + 10
        while not received and time.time() < deadline:
            time.sleep(0.05)
        assert received, "no webhook delivery"
        headers, body = received[0]
        headers = {k.lower(): v for k, v in headers.items()}
        want = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        assert headers["x-hub-signature"] == want
        assert headers["x-atlassian-webhook-identifier"]
        event = json.loads(body)
        assert event["webhookEvent"] == "jira:issue_created"
        assert event["issue"]["key"] == "SEC-1"
        assert event["issue"]["fields"]["summary"] == "Suspicious sign-in for kim"
    finally:
        server.shutdown()


def test_an_issue_without_a_summary_or_of_an_unknown_type_is_refused(client):
    with pytest.raises(JIRAError) as e:
        client.create_issue(project="SEC", summary="", issuetype={"name": "Incident"})
    assert e.value.status_code == 400
    assert "summary" in e.value.text
    with pytest.raises(JIRAError) as e:
        client.create_issue(project="PLAT", summary="x", issuetype={"name": "Incident"})
    assert e.value.status_code == 400
    assert "valid issue type" in e.value.text
