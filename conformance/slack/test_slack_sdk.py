"""slack_sdk 3.x WebClient against the emulator: users, channels, membership, errors and tiered rate limits."""

import time

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

SEEDED_USERS = 21


def uid(client, email):
    return client.users_lookupByEmail(email=email)["user"]["id"]


def test_auth_and_users_with_cursor_pagination(client):
    assert client.auth_test()["ok"]
    # The SDK's page iterator reuses one response object, so read each page as it comes.
    members, cursors = [], []
    for page in client.users_list(limit=6):
        members.extend(page["members"])
        cursors.append(page["response_metadata"]["next_cursor"])
    assert len(cursors) == 4 and cursors[-1] == "" and all(cursors[:-1])
    assert len(members) == len({m["id"] for m in members}) == SEEDED_USERS
    former = [m for m in members if m["profile"]["email"] == "former.engineer@example.com"]
    assert former[0]["deleted"] is True

    user = client.users_lookupByEmail(email="PRIYA.RAMAN@example.com")["user"]
    assert user["profile"]["email"] == "priya.raman@example.com" and user["is_admin"]
    with pytest.raises(SlackApiError) as e:
        client.users_lookupByEmail(email="nobody@example.com")
    assert e.value.response["error"] == "users_not_found"


def test_public_and_private_channels_page_by_cursor(client):
    public = [c for page in client.conversations_list(limit=2) for c in page["channels"]]
    assert {c["name"] for c in public} == {"general", "eng", "platform", "sales", "old-launch"}
    everything = [
        c
        for page in client.conversations_list(types="public_channel,private_channel", limit=3, exclude_archived=True)
        for c in page["channels"]
    ]
    names = {c["name"] for c in everything}
    assert {"platform-oncall", "payments-incidents", "finance-private"} <= names
    assert "old-launch" not in names
    oncall = next(c for c in everything if c["name"] == "platform-oncall")
    assert oncall["is_private"] and not oncall["is_channel"]
    with pytest.raises(SlackApiError) as e:
        client.conversations_list(cursor="not-a-cursor")
    assert e.value.response["error"] == "invalid_cursor"


def test_create_invite_members_kick(client, admin):
    channel = client.conversations_create(name="conformance", is_private=True)["channel"]
    assert channel["is_private"] and channel["name"] == "conformance"
    with pytest.raises(SlackApiError) as e:
        client.conversations_create(name="conformance")
    assert e.value.response["error"] == "name_taken"

    a, b = uid(client, "tom.baker@example.com"), uid(client, "aisha.khan@example.com")
    client.conversations_invite(channel=channel["id"], users=[a, b])
    with pytest.raises(SlackApiError) as e:
        client.conversations_invite(channel=channel["id"], users=a)
    assert e.value.response["error"] == "already_in_channel"

    members = [m for page in client.conversations_members(channel=channel["id"], limit=1) for m in page["members"]]
    assert a in members and b in members and len(members) == 3

    assert client.conversations_kick(channel=channel["id"], user=a)["ok"]
    with pytest.raises(SlackApiError) as e:
        client.conversations_kick(channel=channel["id"], user=a)
    assert e.value.response["error"] == "not_in_channel"
    writes = admin.get("/writes")["writes"]
    assert writes[f"channel/{channel['id']}/member/{a}"] == 2
    assert writes[f"channel/{channel['id']}/member/{b}"] == 1


def test_errors_use_the_ok_false_envelope(client, info):
    with pytest.raises(SlackApiError) as e:
        client.conversations_invite(channel="C0NOPE", users="U1")
    assert e.value.response.status_code == 200
    assert e.value.response["error"] == "channel_not_found"
    general = next(c for c in client.conversations_list()["channels"] if c["name"] == "general")
    with pytest.raises(SlackApiError) as e:
        client.conversations_kick(channel=general["id"], user=uid(client, "priya.raman@example.com"))
    assert e.value.response["error"] == "cant_kick_from_general"
    with pytest.raises(SlackApiError) as e:
        client.api_call("conversations.members")
    assert e.value.response["error"] == "invalid_arguments"

    bad = WebClient(token="xoxb-wrong", base_url=info["base_url"] + "/api/")
    with pytest.raises(SlackApiError) as e:
        bad.auth_test()
    assert e.value.response["error"] == "invalid_auth"
    r = requests.post(info["base_url"] + "/api/auth.test", timeout=10)
    assert r.json() == {"ok": False, "error": "not_authed"}


def test_arguments_from_query_form_and_json(client, info):
    token = info["credentials"]["token"]
    r = requests.get(
        info["base_url"] + "/api/users.lookupByEmail",
        params={"email": "sam.okafor@example.com", "token": token},
        timeout=10,
    )
    assert r.json()["user"]["name"] == "sam.okafor"
    oncall = next(
        c
        for page in client.conversations_list(types="private_channel")
        for c in page["channels"]
        if c["name"] == "platform-oncall"
    )
    demo = uid(client, "okta-demo-user@example.com")
    resp = client.api_call("conversations.invite", json={"channel": oncall["id"], "users": [demo]})
    assert resp["ok"]
    assert demo in client.conversations_members(channel=oncall["id"])["members"]


def test_tiered_rate_limit_429_and_the_retry_handler(client, admin, info):
    admin.post("/rate-limits", {"window_seconds": 1, "buckets": {"tier3": 1}})
    client.users_lookupByEmail(email="sam.okafor@example.com")
    with pytest.raises(SlackApiError) as e:
        client.users_lookupByEmail(email="sam.okafor@example.com")
    assert e.value.response.status_code == 429
    assert e.value.response["error"] == "ratelimited"
    assert int(e.value.response.headers["Retry-After"]) >= 1
    # Tier-4 methods have their own budget.
    client.conversations_members(channel=client.conversations_list()["channels"][0]["id"])

    patient = WebClient(token=info["credentials"]["token"], base_url=info["base_url"] + "/api/")
    patient.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    started = time.monotonic()
    for _ in range(2):
        assert patient.users_lookupByEmail(email="sam.okafor@example.com")["ok"]
    assert time.monotonic() - started >= 0.9
