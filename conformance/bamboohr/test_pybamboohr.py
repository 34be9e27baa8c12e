"""PyBambooHR 0.8.1 against the BambooHR emulator: the directory, one employee's fields (classic names and the
OpenAPI aliases), the change feed keyed by id, Basic auth, the 429 with Retry-After, and webhook
administration (the private key shown once)."""

import datetime

import pytest
import requests


def test_the_directory_lists_current_employees_with_their_directory_fields(bamboo):
    employees = bamboo.get_employee_directory()
    by_email = {e["workEmail"]: e for e in employees}
    assert len(employees) == 29, "the former engineer is not current"
    assert "former.engineer@example.com" not in by_email
    lena = by_email["lena.fischer@example.com"]
    assert lena["id"] == "103"
    assert lena["displayName"] == "Lena Fischer"
    assert lena["jobTitle"] == "Senior Engineer"
    assert lena["department"] == "Engineering"
    assert lena["supervisor"] == "Raman, Priya"


def test_one_employee_reads_the_fields_asked_for(bamboo):
    fields = [
        "firstName", "lastName", "workEmail", "hireDate", "terminationDate", "status",
        "department", "division", "jobTitle", "location", "supervisorEId", "supervisor", "employeeNumber",
    ]
    lena = bamboo.get_employee(103, fields)
    assert lena["id"] == "103"
    assert lena["workEmail"] == "lena.fischer@example.com"
    assert lena["status"] == "Active"
    assert lena["terminationDate"] == "0000-00-00"
    assert lena["supervisorEId"] == "101"
    assert lena["supervisor"] == "Raman, Priya"
    assert lena["division"] == "Product & Engineering"
    assert set(lena) == set(fields) | {"id"}, "only the fields asked for, and the id"
    former = bamboo.get_employee(99, ["status", "terminationDate", "workEmail"])
    assert former == {
        "id": "99",
        "status": "Inactive",
        "terminationDate": "2026-09-30",
        "workEmail": "former.engineer@example.com",
    }
    # Without a field list PyBambooHR asks for every field it knows; unknown ones are left out.
    everything = bamboo.get_employee(103)
    assert everything["firstName"] == "Lena" and "ssn" not in everything


def test_the_openapi_field_names_are_accepted_beside_the_classic_ones(bamboo):
    lena = bamboo._query("employees/103", {"fields": "jobTitleName,reportsToId,reportsToName"})
    assert lena == {
        "id": "103",
        "jobTitleName": "Senior Engineer",
        "reportsToId": "101",
        "reportsToName": "Raman, Priya",
    }
    with pytest.raises(requests.HTTPError) as missing:
        bamboo.get_employee(999999, ["firstName"])
    assert missing.value.response.status_code == 404


def test_the_change_feed_is_keyed_by_employee_id(bamboo, admin):
    since = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(seconds=1)
    import time

    time.sleep(1.2)
    admin.post("/employees", {"id": "103", "department": "Platform"})
    admin.post("/employees", {"id": "300", "firstName": "Ada", "lastName": "Quinn",
                              "workEmail": "ada.quinn@example.com", "hireDate": "2027-02-01"})
    admin.post("/employees", {"id": "144", "deleted": True})
    feed = bamboo.get_employee_changes(since=since)
    assert set(feed) == {"latest", "employees"}
    assert isinstance(feed["employees"], dict), "a map keyed by id, not a list"
    assert {k: v["action"] for k, v in feed["employees"].items()} == {
        "103": "Updated",
        "300": "Inserted",
        "144": "Deleted",
    }
    assert all(v["id"] == k and v["lastChanged"] for k, v in feed["employees"].items())
    inserted = bamboo.get_employee_changes(since=since, _type="inserted")
    assert list(inserted["employees"]) == ["300"]
    assert bamboo.get_employee(103, ["department"])["department"] == "Platform"


def test_a_wrong_api_key_is_a_401(make_client):
    with pytest.raises(requests.HTTPError) as refused:
        make_client(api_key="not-the-key").get_employee_directory()
    assert refused.value.response.status_code == 401
    assert refused.value.response.headers["www-authenticate"].startswith("Basic")


def test_a_spent_rate_limit_is_a_429_with_retry_after(bamboo, admin):
    admin.post("/rate-limits", {"window_seconds": 60, "all": 1})
    bamboo.get_employee(103, ["firstName"])
    with pytest.raises(requests.HTTPError) as limited:
        bamboo.get_employee(103, ["firstName"])
    response = limited.value.response
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["x-bamboohr-error-message"]


def test_webhooks_show_their_private_key_once(info):
    base = f"{info['base_url'].rstrip('/')}/api/v1/webhooks"
    auth = (info["credentials"]["api_key"], "x")
    headers = {"Accept": "application/json"}
    created = requests.post(base, auth=auth, headers=headers, timeout=10, json={
        "name": "hr-sync", "url": "https://hooks.example.com/bamboohr",
        "monitorFields": ["department", "jobTitle"], "format": "json",
    })
    assert created.status_code == 201
    body = created.json()
    assert len(body["privateKey"]) >= 32
    shown = requests.get(f"{base}/{body['id']}", auth=auth, headers=headers, timeout=10).json()
    assert shown["name"] == "hr-sync" and "privateKey" not in shown
    listed = requests.get(base, auth=auth, headers=headers, timeout=10).json()["webhooks"]
    assert [w["name"] for w in listed] == ["grantflow", "hr-sync"]
    plain = requests.post(base, auth=auth, headers=headers, timeout=10,
                          json={"name": "x", "url": "http://hooks.example.com/"})
    assert plain.status_code == 400, "BambooHR posts to HTTPS only"
    assert requests.delete(f"{base}/{body['id']}", auth=auth, headers=headers, timeout=10).status_code == 200
