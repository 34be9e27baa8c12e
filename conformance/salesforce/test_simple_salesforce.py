"""simple-salesforce 1.12 against the emulator over HTTPS: SOQL with paging and relationship fields,
PermissionSetAssignment create/delete, Salesforce's error array, and Sforce-Limit-Info as api_usage."""

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

SMALL_PAGES = {"Sforce-Query-Options": "batchSize=5"}


def one(sf, soql):
    records = sf.query(soql)["records"]
    assert len(records) == 1, records
    return records[0]


def user_id(sf, email):
    return one(sf, f"SELECT Id FROM User WHERE Email = '{email}'")["Id"]


def set_id(sf, name):
    return one(sf, f"SELECT Id FROM PermissionSet WHERE Name = '{name}'")["Id"]


def test_query_pages_through_next_records_url(sf):
    first = sf.query("SELECT Id, Username, IsActive FROM User", headers=SMALL_PAGES)
    assert first["totalSize"] == 12 and not first["done"] and len(first["records"]) == 5
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    everything = sf.query_all("SELECT Id, Username, IsActive FROM User", headers=SMALL_PAGES)["records"]
    assert len({r["Id"] for r in everything}) == 12
    liam = [r for r in everything if r["Username"] == "liam.miller@example.com"]
    assert liam[0]["IsActive"] is False
    assert liam[0]["attributes"]["type"] == "User"
    assert liam[0]["attributes"]["url"] == f"/services/data/v59.0/sobjects/User/{liam[0]['Id']}"


def test_where_in_and_relationship_fields(sf):
    rows = sf.query_all(
        "SELECT Id, Assignee.Username, PermissionSet.Name FROM PermissionSetAssignment "
        "WHERE PermissionSet.Name IN ('Engineering_Read_Only', 'Sandbox_Deploy') AND PermissionSet.IsOwnedByProfile = false"
    )["records"]
    held = sorted((r["Assignee"]["Username"], r["PermissionSet"]["Name"]) for r in rows)
    assert held == [
        ("marco.rossi@example.com", "Engineering_Read_Only"),
        ("marco.rossi@example.com", "Sandbox_Deploy"),
        ("priya.raman@example.com", "Engineering_Read_Only"),
        ("sam.okafor@example.com", "Sandbox_Deploy"),
    ]
    assert rows[0]["PermissionSet"]["attributes"]["type"] == "PermissionSet"
    owned = sf.query("SELECT Id, Name, Profile.Name FROM PermissionSet WHERE IsOwnedByProfile = true")
    assert owned["totalSize"] == 5
    assert {r["Profile"]["Name"] for r in owned["records"]} >= {"Standard User", "Sales User"}
    assert sf.query("SELECT Id FROM User LIMIT 3")["totalSize"] == 3


def test_create_get_and_delete_a_permission_set_assignment(sf, admin):
    hire, deploy = user_id(sf, "new.hire@example.com"), set_id(sf, "Sandbox_Deploy")
    created = sf.PermissionSetAssignment.create({"AssigneeId": hire, "PermissionSetId": deploy})
    assert created["success"] is True and created["errors"] == [] and created["id"].startswith("0Pa")
    got = sf.PermissionSetAssignment.get(created["id"])
    assert got["AssigneeId"] == hire and got["PermissionSetId"] == deploy
    assert admin.get("/writes")["writes"][f"permission_set/Sandbox_Deploy/assigned/{hire}"] == 1

    assert sf.PermissionSetAssignment.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as e:
        sf.PermissionSetAssignment.get(created["id"])
    assert e.value.content[0]["errorCode"] == "NOT_FOUND"
    assert admin.get("/writes")["writes"][f"permission_set/Sandbox_Deploy/assigned/{hire}"] == 2


def test_a_duplicate_assignment_is_duplicate_value(sf):
    marco, deploy = user_id(sf, "marco.rossi@example.com"), set_id(sf, "Sandbox_Deploy")
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.PermissionSetAssignment.create({"AssigneeId": marco, "PermissionSetId": deploy})
    assert e.value.status == 400
    assert e.value.content[0]["errorCode"] == "DUPLICATE_VALUE"
    assert set(e.value.content[0]) == {"message", "errorCode", "fields"}


def test_update_a_user_and_required_fields_on_create(sf):
    liam = user_id(sf, "liam.miller@example.com")
    assert sf.User.update(liam, {"IsActive": True}) == 204
    assert sf.User.get(liam)["IsActive"] is True
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.User.create({"Email": "x@example.com"})
    error = e.value.content[0]
    assert error["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert "Username" in error["fields"] and "LastName" in error["fields"]


def test_malformed_soql_and_a_bad_session(sf, info):
    with pytest.raises(SalesforceMalformedRequest) as e:
        sf.query("SELECT FROM User")
    assert e.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    bad = Salesforce(instance_url=info["base_url"], session_id="00Dnot!valid", version="59.0")
    with pytest.raises(SalesforceExpiredSession) as e:
        bad.query("SELECT Id FROM User")
    assert e.value.content[0]["errorCode"] == "INVALID_SESSION_ID"


def test_api_usage_is_parsed_and_the_limit_refuses_with_request_limit_exceeded(sf, admin):
    sf.query("SELECT Id FROM Profile")
    usage = sf.api_usage["api-usage"]
    assert usage.total == 15000 and usage.used >= 1
    admin.post("/rate-limits", {"window_seconds": 60, "all": 2})
    sf.query("SELECT Id FROM Profile")
    assert (sf.api_usage["api-usage"].used, sf.api_usage["api-usage"].total) == (1, 2)
    sf.query("SELECT Id FROM Profile")
    with pytest.raises(SalesforceRefusedRequest) as e:
        sf.query("SELECT Id FROM Profile")
    assert e.value.status == 403
    assert e.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_a_new_opportunity_is_found_by_its_created_date(sf):
    """What grantflow's record feed asks: records created at or after a cursor, oldest first."""
    before = sf.query("SELECT Id, CreatedDate FROM Opportunity ORDER BY CreatedDate DESC LIMIT 1")["records"]
    created = sf.Opportunity.create({"Name": "Acme renewal", "StageName": "Prospecting", "CloseDate": "2027-03-31"})
    assert created["success"] is True
    opportunity = sf.Opportunity.get(created["id"])
    assert opportunity["Name"] == "Acme renewal"
    stamped = opportunity["CreatedDate"]
    assert stamped.endswith("+0000") and opportunity["CreatedById"].startswith("005")
    since = stamped[:19] + "Z"
    rows = sf.query_all(
        f"SELECT Id, Name, CreatedDate FROM Opportunity WHERE CreatedDate >= {since} ORDER BY CreatedDate"
    )["records"]
    assert created["id"] in [r["Id"] for r in rows]
    next_year = str(int(stamped[:4]) + 1) + stamped[4:19] + "Z"
    later = sf.query(f"SELECT Id FROM Opportunity WHERE CreatedDate > {next_year}")
    assert later["totalSize"] == 0
    assert before == [] or before[0]["Id"] != created["id"]
    # Salesforce sets its audit fields itself.
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Opportunity.create(
            {"Name": "x", "StageName": "Prospecting", "CloseDate": "2027-03-31", "CreatedDate": "2020-01-01T00:00:00Z"}
        )
    assert refused.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
