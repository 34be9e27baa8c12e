"""onepasswordconnectsdk 2.x against the emulator: the vaults the token sees, a vault found by name, an item
with a concealed password created, read back, found by its title, and deleted, and the SDK's errors for a
wrong token and an unknown vault (Connect's `{"status", "message"}` body)."""

import pytest
from onepasswordconnectsdk.client import new_client
from onepasswordconnectsdk.errors import FailedToRetrieveItemException, FailedToRetrieveVaultException
from onepasswordconnectsdk.models import Field, Item, ItemVault

MANAGER_VAULT = "jonas.berg@example.com (private)"
TITLE = "new.hire@example.com temporary password"


def new_hire_item(vault_id):
    return Item(
        vault=ItemVault(id=vault_id),
        title=TITLE,
        category="LOGIN",
        tags=["onboarding"],
        fields=[
            Field(id="username", type="STRING", purpose="USERNAME", label="username", value="new.hire@example.com"),
            Field(id="password", type="CONCEALED", purpose="PASSWORD", label="password", value="Tmp-7f3c-91ab-e2"),
        ],
    )


def test_vaults_are_the_granted_ones_and_one_is_found_by_name(client):
    names = sorted(v.name for v in client.get_vaults())
    assert names == [
        "jonas.berg@example.com (private)",
        "marco.rossi@example.com (private)",
        "priya.raman@example.com (private)",
    ]
    vault = client.get_vault_by_title(MANAGER_VAULT)
    assert vault.name == MANAGER_VAULT
    assert len(vault.id) == 26
    assert client.get_vault(vault.id).name == MANAGER_VAULT
    assert vault.type == "USER_CREATED"
    assert vault.created_at is not None


def test_an_item_with_a_concealed_password_is_created_read_found_and_deleted(client, admin):
    vault = client.get_vault_by_title(MANAGER_VAULT)
    created = client.create_item(vault.id, new_hire_item(vault.id))
    assert len(created.id) == 26
    assert created.vault.id == vault.id
    assert created.category == "LOGIN"

    read = client.get_item(created.id, vault.id)
    password = next(f for f in read.fields if f.purpose == "PASSWORD")
    assert password.type == "CONCEALED"
    assert password.value == "Tmp-7f3c-91ab-e2"
    assert read.tags == ["onboarding"]

    # By title: the SDK lists with `filter=title eq "…"` and then reads the one match by id.
    assert client.get_item_by_title(TITLE, vault.id).id == created.id
    summaries = client.get_items(vault.id, filter_query=f'title eq "{TITLE}"')
    assert [s.id for s in summaries] == [created.id]
    assert client.get_items(vault.id, filter_query='title eq "someone else"') == []
    # Item and vault found by name, as `get_item` allows.
    assert client.get_item(TITLE, MANAGER_VAULT).id == created.id

    stored = admin.get("/items")["items"]
    assert [(i["vaultName"], i["title"]) for i in stored] == [(MANAGER_VAULT, TITLE)]

    client.delete_item(created.id, vault.id)
    assert client.get_items(vault.id) == []
    with pytest.raises(FailedToRetrieveItemException) as refused:
        client.get_item_by_id(created.id, vault.id)
    assert refused.value.status_code == 404
    assert "Item not found" in str(refused.value)


def test_a_wrong_token_and_an_unknown_vault_are_refused_with_connects_message(info, client):
    wrong = new_client(info["base_url"], "eyJnot-the-token")
    with pytest.raises(FailedToRetrieveVaultException) as refused:
        wrong.get_vaults()
    assert "401" in str(refused.value)
    assert "Invalid token signature" in str(refused.value)

    with pytest.raises(FailedToRetrieveVaultException) as missing:
        client.get_vault("abcdefghijklmnopqrstuvwxyz")
    assert "404" in str(missing.value)
    assert "Vault not found" in str(missing.value)

    with pytest.raises(FailedToRetrieveItemException) as bad:
        client.create_item(client.get_vault_by_title(MANAGER_VAULT).id, Item(title="no category"))
    assert "400" in str(bad.value)
    assert "category is required" in str(bad.value)
