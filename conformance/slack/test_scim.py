"""slack_sdk's SCIMClient (Slack's SCIM API, what Business+ and Enterprise Grid offer for accounts) against the
emulator: create a member, find them with a filter, change their profile, deactivate them with DELETE, and see
each in the Web API (users.lookupByEmail) as Slack shows it. The SDK speaks SCIM 1.1 (`/scim/v1/`: PATCH with a
partial user); grantflow's connector speaks 2.0 (`/scim/v2/`: PATCH with a PatchOp), checked here too."""

import requests
from slack_sdk.scim import SCIMClient
from slack_sdk.scim.v1.user import User, UserEmail, UserName


def scim(info, version="v1"):
    return SCIMClient(token=info["credentials"]["scim_token"], base_url=f"{info['base_url']}/scim/{version}/")


def test_a_member_created_through_scim_is_a_workspace_member(info, client, admin):
    c = scim(info)
    created = c.create_user(
        User(
            user_name="nia.park",
            name=UserName(given_name="Nia", family_name="Park"),
            emails=[UserEmail(value="nia.park@example.com", primary=True)],
            title="Sales Engineer",
        )
    )
    assert created.status_code == 201, created.raw_body
    user = created.user
    assert user.user_name == "nia.park" and user.active is True
    found = c.search_users(start_index=1, count=10, filter='userName eq "nia.park"')
    assert found.status_code == 200 and [u.id for u in found.users] == [user.id]
    by_email = c.search_users(start_index=1, count=10, filter='emails.value eq "NIA.PARK@example.com"')
    assert [u.id for u in by_email.users] == [user.id]

    member = client.users_lookupByEmail(email="nia.park@example.com")["user"]
    assert member["id"] == user.id and member["name"] == "nia.park"
    assert member["real_name"] == "Nia Park" and member["deleted"] is False
    assert member["profile"]["title"] == "Sales Engineer"
    assert admin.get("/writes")["writes"][f"user/{user.id}"] == 1

    again = c.create_user(User(user_name="nia.park", emails=[UserEmail(value="other@example.com")]))
    assert again.status_code == 409 and again.snake_cased_body["scim_type"] == "uniqueness"


def test_a_profile_patch_and_a_delete_that_deactivates(info, client, admin):
    c = scim(info)
    user_id = client.users_lookupByEmail(email="sam.okafor@example.com")["user"]["id"]
    patched = c.patch_user(user_id, {"title": "Staff Engineer", "name": {"givenName": "Samuel", "familyName": "Okafor"}})
    assert patched.status_code == 200, patched.raw_body
    assert patched.user.title == "Staff Engineer"
    assert client.users_info(user=user_id)["user"]["profile"]["title"] == "Staff Engineer"

    # SCIM 2.0's PatchOp, as grantflow sends it.
    v2 = requests.patch(
        f"{info['base_url']}/scim/v2/Users/{user_id}",
        headers={"Authorization": f"Bearer {info['credentials']['scim_token']}"},
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "replace", "path": "title", "value": "Principal Engineer"}]},
    )
    assert v2.status_code == 200 and v2.json()["title"] == "Principal Engineer"

    deleted = c.delete_user(user_id)
    assert deleted.status_code == 204
    # Slack never deletes a member: DELETE deactivates them, and they stay listed.
    read = c.read_user(user_id)
    assert read.status_code == 200 and read.user.active is False
    assert client.users_info(user=user_id)["user"]["deleted"] is True
    assert admin.get("/writes")["writes"][f"user/{user_id}"] == 3


def test_the_bot_token_is_not_a_scim_token(info):
    c = SCIMClient(token=info["credentials"]["token"], base_url=f"{info['base_url']}/scim/v2/")
    refused = c.search_users(start_index=1, count=1)
    assert refused.status_code == 401
