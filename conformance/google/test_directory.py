"""google-api-python-client against the Google emulator: users, groups, members with roles, paging, errors, quota."""

import time

import pytest
from google.auth.exceptions import RefreshError
from googleapiclient.errors import HttpError

from conftest import reason


def list_all(collection, field, **kwargs):
    """Follows nextPageToken with the client's own list_next()."""
    items, pages = [], 0
    request = collection.list(**kwargs)
    while request is not None:
        response = request.execute()
        pages += 1
        items.extend(response.get(field, []))
        request = collection.list_next(request, response)
    return items, pages


def test_users_are_listed_across_pages(directory):
    svc = directory()
    users, pages = list_all(svc.users(), "users", customer="my_customer", maxResults=5)
    emails = [u["primaryEmail"] for u in users]
    assert len(emails) == 14 and len(set(emails)) == 14
    assert pages == 3
    assert "okta-demo-user@example.com" in emails
    assert all(u["kind"] == "admin#directory#user" for u in users)
    former = svc.users().get(userKey="former.engineer@example.com").execute()
    assert former["suspended"] is True


def test_users_list_requires_a_customer_or_domain(directory):
    with pytest.raises(HttpError) as e:
        directory().users().list().execute()
    assert e.value.resp.status == 400


def test_create_a_user_and_a_group_then_manage_members_by_email(directory):
    svc = directory()
    created = svc.users().insert(
        body={"primaryEmail": "new.person@example.com", "name": {"givenName": "New", "familyName": "Person"}, "password": "s3cret-Pass"}
    ).execute()
    assert created["primaryEmail"] == "new.person@example.com" and created["id"]
    group = svc.groups().insert(body={"email": "squad@example.com", "name": "Squad", "description": "d"}).execute()
    assert group["directMembersCount"] == "0"

    # The client sends groups/squad%40example.com/members: the email travels percent-encoded in the path.
    member = svc.members().insert(groupKey="squad@example.com", body={"email": "new.person@example.com", "role": "OWNER"}).execute()
    assert (member["role"], member["type"], member["email"]) == ("OWNER", "USER", "new.person@example.com")
    svc.members().insert(groupKey=group["id"], body={"email": "tom.baker@example.com"}).execute()

    owners, _ = list_all(svc.members(), "members", groupKey="squad@example.com", roles="OWNER")
    assert [m["email"] for m in owners] == ["new.person@example.com"]
    everyone, _ = list_all(svc.members(), "members", groupKey="squad@example.com")
    assert sorted(m["role"] for m in everyone) == ["MEMBER", "OWNER"]

    patched = svc.members().patch(groupKey="squad@example.com", memberKey="tom.baker@example.com", body={"role": "MANAGER"}).execute()
    assert patched["role"] == "MANAGER"
    assert svc.members().get(groupKey="squad@example.com", memberKey="tom.baker@example.com").execute()["role"] == "MANAGER"
    assert svc.members().hasMember(groupKey="squad@example.com", memberKey="tom.baker@example.com").execute() == {"isMember": True}

    # delete has no response schema, so the client's RawModel turns the 204 into "".
    assert svc.members().delete(groupKey="squad@example.com", memberKey="tom.baker@example.com").execute() == ""
    with pytest.raises(HttpError) as e:
        svc.members().get(groupKey="squad@example.com", memberKey="tom.baker@example.com").execute()
    assert e.value.resp.status == 404 and reason(e.value) == "notFound"
    groups, _ = list_all(svc.groups(), "groups", userKey="new.person@example.com")
    assert [g["email"] for g in groups] == ["squad@example.com"]


def test_members_page_and_an_empty_group_has_no_members_key(directory):
    svc = directory()
    members, pages = list_all(svc.members(), "members", groupKey="engineering@example.com", maxResults=2)
    assert len(members) == 6 and pages == 3
    svc.groups().insert(body={"email": "empty@example.com", "name": "Empty"}).execute()
    assert "members" not in svc.members().list(groupKey="empty@example.com").execute()


def test_an_existing_member_is_a_409_duplicate(directory):
    svc = directory()
    with pytest.raises(HttpError) as e:
        svc.members().insert(groupKey="engineering@example.com", body={"email": "lena.fischer@example.com", "role": "MEMBER"}).execute()
    assert e.value.resp.status == 409
    assert reason(e.value) == "duplicate"
    assert e.value.error_details[0]["message"] == "Member already exists."


def test_missing_objects_bad_input_and_bad_tokens(directory):
    svc = directory()
    with pytest.raises(HttpError) as e:
        svc.members().list(groupKey="nope@example.com").execute()
    assert e.value.resp.status == 404 and "groupKey" in str(e.value)
    with pytest.raises(HttpError) as e:
        svc.members().insert(groupKey="engineering@example.com", body={"role": "MEMBER"}).execute()
    assert e.value.resp.status == 400 and reason(e.value) == "required"
    # A 401 makes the client try to refresh the token, which a bare access token cannot: that is its error.
    with pytest.raises(RefreshError):
        directory(token="ya29.wrong").groups().list(customer="my_customer").execute()


def test_a_new_member_shows_in_listings_only_after_the_consistency_delay(directory, admin):
    svc = directory()
    admin.post("/faults", {"member_visibility_delay_ms": 1500})
    svc.members().insert(groupKey="platform@example.com", body={"email": "okta-demo-user@example.com"}).execute()
    listed = [m["email"] for m in svc.members().list(groupKey="platform@example.com").execute().get("members", [])]
    assert "okta-demo-user@example.com" not in listed
    assert svc.members().get(groupKey="platform@example.com", memberKey="okta-demo-user@example.com").execute()["role"] == "MEMBER"
    time.sleep(1.6)
    listed = [m["email"] for m in svc.members().list(groupKey="platform@example.com").execute()["members"]]
    assert "okta-demo-user@example.com" in listed


def test_user_rate_limit_is_a_403_the_client_retries(directory, admin):
    svc = directory()
    admin.post("/rate-limits", {"window_seconds": 1, "limit": 1, "reason": "userRateLimitExceeded"})
    svc.groups().list(customer="my_customer").execute()
    with pytest.raises(HttpError) as e:
        svc.groups().list(customer="my_customer").execute()
    assert e.value.resp.status == 403 and reason(e.value) == "userRateLimitExceeded"
    # With retries the client backs off (rand()*2**n seconds) and gets through once the window has passed.
    started = time.monotonic()
    response = svc.groups().list(customer="my_customer").execute(num_retries=4)
    assert len(response["groups"]) == 4
    assert time.monotonic() - started < 30


def test_quota_exceeded_is_not_retried_by_the_client(directory, admin):
    admin.post("/rate-limits", {"window_seconds": 60, "limit": 0, "reason": "quotaExceeded"})
    with pytest.raises(HttpError) as e:
        directory().users().list(customer="my_customer").execute(num_retries=2)
    assert e.value.resp.status == 403 and reason(e.value) == "quotaExceeded"


def test_server_errors_carry_googles_backend_error(directory, admin):
    admin.post("/faults", {"error_rate": 1.0, "error_status": 503})
    with pytest.raises(HttpError) as e:
        directory().groups().list(customer="my_customer").execute()
    assert e.value.resp.status == 503 and reason(e.value) == "backendError"


def test_writes_are_counted_per_membership(directory, admin):
    svc = directory()
    svc.members().insert(groupKey="platform@example.com", body={"email": "emma.jones@example.com"}).execute()
    with pytest.raises(HttpError):
        svc.members().insert(groupKey="platform@example.com", body={"email": "emma.jones@example.com"}).execute()
    writes = admin.get("/writes")["writes"]
    assert [v for k, v in writes.items() if "/member/" in k] == [2]
