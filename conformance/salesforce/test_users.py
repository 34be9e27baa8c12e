"""simple-salesforce 1.12 creating, reading, updating, freezing and deactivating Users against the emulator, as
grantflow's Salesforce connector does for accounts as code (sf.User.create / update / query, sf.UserLogin)."""

import pytest
from simple_salesforce.exceptions import SalesforceError, SalesforceMalformedRequest


def profile_id(sf, name):
    rows = sf.query(f"SELECT Id FROM Profile WHERE Name = '{name}'")["records"]
    assert len(rows) == 1, rows
    return rows[0]["Id"]


def new_user(sf, username, profile="Sales Engineer"):
    return {
        "Username": username,
        "LastName": "Park",
        "FirstName": "Nia",
        "Email": "nia.park@example.com",
        "Alias": "npark",
        "TimeZoneSidKey": "GMT",
        "LocaleSidKey": "en_US",
        "EmailEncodingKey": "UTF-8",
        "LanguageLocaleKey": "en_US",
        "ProfileId": profile_id(sf, profile),
    }


def test_profiles_include_sales_engineer_and_standard_user(sf):
    names = {r["Name"] for r in sf.query_all("SELECT Id, Name FROM Profile")["records"]}
    assert {"Sales Engineer", "Standard User"} <= names


def test_create_read_and_find_a_user_by_username(sf, admin):
    created = sf.User.create(new_user(sf, "nia.park@example.com"))
    assert created["success"] is True and created["errors"] == [] and created["id"].startswith("005")
    got = sf.User.get(created["id"])
    assert got["Username"] == "nia.park@example.com" and got["IsActive"] is True
    rows = sf.query(
        "SELECT Id, IsActive, Profile.Name FROM User WHERE Username = 'NIA.PARK@example.com' LIMIT 1"
    )["records"]
    assert rows[0]["Id"] == created["id"] and rows[0]["Profile"]["Name"] == "Sales Engineer"
    assert admin.get("/writes")["writes"][f"User/{created['id']}"] == 1
    # Salesforce keeps a UserLogin for every user.
    login = sf.query(f"SELECT Id, IsFrozen FROM UserLogin WHERE UserId = '{created['id']}'")["records"]
    assert len(login) == 1 and login[0]["IsFrozen"] is False and login[0]["Id"].startswith("060")


def test_a_taken_username_is_duplicate_username(sf):
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.User.create(new_user(sf, "marco.rossi@example.com"))
    error = e.value.content[0]
    assert e.value.status == 400
    assert error["errorCode"] == "DUPLICATE_USERNAME" and error["fields"] == ["Username"]


def test_an_unknown_profile_is_an_invalid_cross_reference(sf):
    user = new_user(sf, "x.y@example.com")
    user["ProfileId"] = "00e8d0000099999AAA"
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.User.create(user)
    assert e.value.content[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"


def test_update_profile_then_freeze_then_deactivate(sf, admin):
    created = sf.User.create(new_user(sf, "nia.park@example.com", profile="Standard User"))["id"]
    assert sf.User.update(created, {"ProfileId": profile_id(sf, "Sales Engineer"), "Title": "Sales Engineer"}) == 204
    row = sf.query(f"SELECT Title, Profile.Name FROM User WHERE Id = '{created}'")["records"][0]
    assert (row["Title"], row["Profile"]["Name"]) == ("Sales Engineer", "Sales Engineer")

    login = sf.query(f"SELECT Id FROM UserLogin WHERE UserId = '{created}'")["records"][0]["Id"]
    assert sf.UserLogin.update(login, {"IsFrozen": True}) == 204
    frozen = sf.query("SELECT UserId FROM UserLogin WHERE IsFrozen = true")["records"]
    assert created in [r["UserId"] for r in frozen]
    assert sf.UserLogin.get(login)["IsFrozen"] is True

    assert sf.User.update(created, {"IsActive": False}) == 204
    assert sf.User.get(created)["IsActive"] is False
    assert admin.get("/writes")["writes"][f"User/{created}"] == 3


def test_users_cannot_be_deleted_and_user_logins_are_not_created(sf):
    marco = sf.query("SELECT Id FROM User WHERE Username = 'marco.rossi@example.com'")["records"][0]["Id"]
    with pytest.raises(SalesforceError) as e:
        sf.User.delete(marco)
    assert e.value.content[0]["errorCode"] == "DELETE_FAILED"
    with pytest.raises(SalesforceError) as e:
        sf.UserLogin.create({"UserId": marco})
    assert e.value.status == 405
    login = sf.query(f"SELECT Id FROM UserLogin WHERE UserId = '{marco}'")["records"][0]["Id"]
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.UserLogin.update(login, {"UserId": marco})
    assert e.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
