"""google-api-python-client against the Google emulator's user lifecycle: users.insert with a password to change at
the first sign-in, users.get (basic and full projection), users.update (patch semantics: a suspension, names, org
unit, custom schema fields), users.patch, users.delete, and the conflicts and errors the client sees."""

import pytest
from googleapiclient.errors import HttpError

from conftest import reason

NEW = {
    "primaryEmail": "nia.park@example.com",
    "name": {"givenName": "Nia", "familyName": "Park"},
    "password": "Temp-Pass-123!",
    "changePasswordAtNextLogin": True,
    "orgUnitPath": "/Sales",
    "customSchemas": {"Employment": {"costCenter": "S-1"}},
}


def test_insert_get_update_suspend_and_delete_a_user(directory, admin):
    users = directory().users()
    created = users.insert(body=NEW).execute()
    assert created["kind"] == "admin#directory#user" and created["id"]
    assert created["changePasswordAtNextLogin"] is True and created["suspended"] is False
    assert "password" not in created
    writes = admin.get("/writes")["writes"]
    assert writes[f"user/{created['id']}"] == 1

    # basic (the default) leaves custom fields out; full brings them.
    basic = users.get(userKey="nia.park@example.com").execute()
    assert "customSchemas" not in basic and basic["orgUnitPath"] == "/Sales"
    full = users.get(userKey=created["id"], projection="full").execute()
    assert full["customSchemas"] == {"Employment": {"costCenter": "S-1"}}

    # update keeps what it is not sent.
    updated = users.update(
        userKey="nia.park@example.com",
        body={"orgUnitPath": "/Engineering", "customSchemas": {"Employment": {"costCenter": "ENG-1"}}},
    ).execute()
    assert updated["orgUnitPath"] == "/Engineering"
    assert updated["name"]["givenName"] == "Nia" and updated["changePasswordAtNextLogin"] is True
    assert updated["customSchemas"]["Employment"]["costCenter"] == "ENG-1"
    renamed = users.patch(userKey=created["id"], body={"name": {"familyName": "Parker"}}).execute()
    assert (renamed["name"]["givenName"], renamed["name"]["familyName"]) == ("Nia", "Parker")

    suspended = users.update(userKey=created["id"], body={"suspended": True}).execute()
    assert suspended["suspended"] is True and suspended["suspensionReason"]
    listed = users.list(customer="my_customer", query=None, maxResults=500).execute()["users"]
    assert [u["suspended"] for u in listed if u["id"] == created["id"]] == [True]

    assert users.delete(userKey="nia.park@example.com").execute() in ("", None)
    with pytest.raises(HttpError) as gone:
        users.get(userKey=created["id"]).execute()
    assert gone.value.resp.status == 404 and reason(gone.value) == "notFound"


def test_insert_refuses_a_taken_email_and_missing_fields(directory):
    users = directory().users()
    with pytest.raises(HttpError) as taken:
        users.insert(body={**NEW, "primaryEmail": "tom.baker@example.com"}).execute()
    assert taken.value.resp.status == 409 and reason(taken.value) == "duplicate"
    for missing in ("password", "name"):
        body = {k: v for k, v in NEW.items() if k != missing}
        with pytest.raises(HttpError) as refused:
            users.insert(body=body).execute()
        assert refused.value.resp.status == 400 and reason(refused.value) == "required", missing
    with pytest.raises(HttpError) as long_name:
        users.insert(body={**NEW, "name": {"givenName": "N" * 61, "familyName": "Park"}}).execute()
    assert long_name.value.resp.status == 400 and reason(long_name.value) == "invalid"
    with pytest.raises(HttpError) as unknown:
        users.update(userKey="nobody@example.com", body={"suspended": True}).execute()
    assert unknown.value.resp.status == 404


def test_a_lost_answer_leaves_the_user_created_once(directory, admin):
    users = directory().users()
    admin.post("/network", {"reset_next_writes": 1})
    with pytest.raises(Exception):
        users.insert(body=NEW).execute(num_retries=0)
    found = users.get(userKey="nia.park@example.com").execute()
    assert found["primaryEmail"] == "nia.park@example.com"
    with pytest.raises(HttpError) as again:
        users.insert(body=NEW).execute()
    assert reason(again.value) == "duplicate"
