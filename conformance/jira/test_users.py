"""jira 3.x and Jira Cloud's user management against the emulator: what grantflow's Jira connector calls for
accounts as code. The library's own methods are used where Jira Cloud takes them (search_users, user,
delete_user); creation goes through the library's authenticated session with `POST /rest/api/3/user`
`{"emailAddress", "products"}`, because the library's add_user sends the legacy Server body (name,
displayName, applicationKeys) that Jira Cloud refuses without `products`, which this suite checks too."""

import json

import pytest
from jira import JIRAError

NIA = "nia.park@example.com"


def create(client, body):
    """POST /rest/api/3/user through the library's session (which raises JIRAError on a refusal)."""
    url = client._options["server"] + "/rest/api/3/user"
    return client._session.post(url, data=json.dumps(body))


def test_a_user_is_created_with_products_and_found_by_email(client, admin):
    r = create(client, {"emailAddress": NIA, "products": ["jira-software"]})
    assert r.status_code == 201
    user = r.json()
    assert user["emailAddress"] == NIA and user["accountType"] == "atlassian" and user["active"] is True
    account = user["accountId"]
    assert admin.get("/writes")["writes"][f"user/{account}"] == 1
    found = client.search_users(query=NIA)
    assert [u.accountId for u in found] == [account]
    assert client.user(account).emailAddress == NIA
    # An account that exists with Jira access is answered as created, the same account.
    again = create(client, {"emailAddress": NIA, "products": ["jira-software"]})
    assert again.status_code == 201 and again.json()["accountId"] == account
    assert admin.get("/writes")["writes"][f"user/{account}"] == 1


def test_creation_errors_are_jiras_error_body(client):
    with pytest.raises(JIRAError) as e:
        create(client, {"products": ["jira-software"]})
    assert e.value.status_code == 400
    assert "emailAddress" in e.value.response.json()["errors"]
    with pytest.raises(JIRAError) as e:
        create(client, {"emailAddress": NIA, "products": ["confluence"]})
    body = e.value.response.json()
    assert e.value.status_code == 400 and "confluence" in body["errorMessages"][0]
    # The library's add_user sends Jira Server's body: Jira Cloud wants `products`.
    with pytest.raises(JIRAError) as e:
        client.add_user("nia", NIA, application_keys=["jira-software"])
    assert e.value.status_code == 400 and "products" in e.value.response.json()["errors"]


def test_a_deleted_user_leaves_jira_its_groups_and_roles(client, admin):
    account = create(client, {"emailAddress": NIA, "products": []}).json()["accountId"]
    client.add_user_to_group(account, "engineering")
    dev_id = client.project_roles("PLAT")["Developers"]["id"]
    client.project_role("PLAT", dev_id).add_user(users=account)
    # The library's delete_user names the user as `username` (here the account id).
    assert client.delete_user(account) is True
    assert client.search_users(query=NIA) == []
    with pytest.raises(JIRAError) as e:
        client.user(account)
    assert e.value.status_code == 404
    role = client.project_role("PLAT", dev_id)
    assert account not in {a.actorUser.accountId for a in role.actors if a.type == "atlassian-user-role-actor"}
    assert account not in [m["accountId"] for m in client.group_members("engineering").values()]
    assert admin.get("/writes")["writes"][f"user/{account}"] == 2
    # Deleting again, as the connector does (`accountId`): Jira's 404 in its error body.
    url = client._options["server"] + "/rest/api/3/user"
    with pytest.raises(JIRAError) as e:
        client._session.delete(url, params={"accountId": account})
    assert e.value.status_code == 404 and e.value.response.json()["errorMessages"]
