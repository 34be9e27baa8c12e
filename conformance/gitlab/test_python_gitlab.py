"""python-gitlab 8.x against the emulator: users, nested groups by full path, members, a group's projects, errors and
rate limits."""

import time

import gitlab
import pytest
import requests

SEEDED_USERS = 15


def user_id(gl, email):
    found = gl.users.list(search=email, get_all=True)
    assert len(found) == 1, found
    return found[0].id


def test_create_user_and_list_every_page(gl):
    created = gl.users.create(
        {"email": "conf.user@example.com", "username": "conf.user", "name": "Conf User", "reset_password": True}
    )
    assert created.id and created.username == "conf.user"

    pages = gl.users.list(per_page=4, iterator=True)
    usernames = [u.username for u in pages]
    assert pages.total == SEEDED_USERS + 1
    assert pages.total_pages == 4
    assert len(usernames) == len(set(usernames)) == SEEDED_USERS + 1
    assert len(gl.users.list(get_all=True, per_page=3)) == SEEDED_USERS + 1

    with pytest.raises(gitlab.GitlabCreateError) as e:
        gl.users.create({"email": "CONF.USER@example.com", "username": "other", "name": "X", "reset_password": True})
    assert e.value.response_code == 409
    assert "Email has already been taken" in str(e.value)

    with pytest.raises(gitlab.GitlabCreateError) as e:
        gl.users.create({"email": "x@example.com", "username": "x", "name": "X"})
    assert e.value.response_code == 400


def test_groups_by_url_encoded_full_path_and_subgroups(gl):
    infra = gl.groups.get("acme/platform/infra")
    assert infra.full_path == "acme/platform/infra"
    assert infra.full_name == "Acme / Platform / Infrastructure"
    platform = gl.groups.get("acme/platform")
    assert infra.parent_id == platform.id
    acme = gl.groups.get("acme")
    assert sorted(g.full_path for g in acme.subgroups.list(get_all=True)) == [
        "acme/engineering",
        "acme/payments",
        "acme/platform",
    ]
    assert len(acme.descendant_groups.list(get_all=True)) == 4
    assert len(list(gl.groups.list(per_page=2, iterator=True))) == 5

    child = gl.groups.create({"name": "Conformance", "path": "conformance", "parent_id": platform.id})
    assert gl.groups.get("acme/platform/conformance").id == child.id


def test_members_add_change_remove(gl, admin):
    payments = gl.groups.get("acme/payments", lazy=True)
    tom = user_id(gl, "tom.baker@example.com")
    member = payments.members.create({"user_id": tom, "access_level": gitlab.const.AccessLevel.DEVELOPER})
    assert member.access_level == 30

    with pytest.raises(gitlab.GitlabCreateError) as e:
        payments.members.create({"user_id": tom, "access_level": 30})
    assert e.value.response_code == 409
    assert e.value.error_message == "Member already exists"

    member = payments.members.get(tom)
    member.access_level = gitlab.const.AccessLevel.MAINTAINER
    member.save()
    assert payments.members.get(tom).access_level == 40

    payments.members.delete(tom)
    with pytest.raises(gitlab.GitlabGetError) as e:
        payments.members.get(tom)
    assert e.value.response_code == 404
    assert e.value.error_message == "404 Member Not Found"

    gid = gl.groups.get("acme/payments").id
    assert admin.get("/writes")["writes"][f"group/{gid}/member/{tom}"] == 3


def test_inherited_membership_and_adding_below_it(gl):
    infra = gl.groups.get("acme/platform/infra", lazy=True)
    direct = {m.username: m.access_level for m in infra.members.list(get_all=True)}
    assert direct == {"kim.tanaka": 30, "diego.alvarez": 30}
    effective = {m.username: m.access_level for m in infra.members_all.list(get_all=True)}
    assert effective["priya.raman"] == 50
    assert effective["sam.okafor"] == 40
    assert effective["okta-demo-user"] == 20
    assert effective["kim.tanaka"] == 30
    sam = user_id(gl, "sam.okafor@example.com")
    assert infra.members_all.get(sam).access_level == 40

    with pytest.raises(gitlab.GitlabCreateError) as e:
        infra.members.create({"user_id": sam, "access_level": 30})
    assert e.value.response_code == 400
    assert e.value.error_message == {
        "access_level": ["should be greater than or equal to Maintainer inherited membership from group Platform"]
    }
    assert infra.members.create({"user_id": sam, "access_level": 50}).access_level == 50


def test_a_groups_projects_every_page(gl):
    engineering = gl.groups.get("acme/engineering")
    # Its own two projects and checkout-api, which Payments shares with it (`with_shared` is true by default).
    projects = engineering.projects.list(get_all=True, per_page=1)
    assert sorted(p.path_with_namespace for p in projects) == [
        "acme/engineering/checkout-web",
        "acme/engineering/design-system",
        "acme/payments/checkout-api",
    ]
    shared = next(p for p in projects if p.path == "checkout-api")
    assert shared.namespace["full_path"] == "acme/payments"
    assert shared.namespace["kind"] == "group"
    assert shared.shared_with_groups[0]["group_id"] == engineering.id
    assert shared.shared_with_groups[0]["group_access_level"] == gitlab.const.AccessLevel.REPORTER
    web = next(p for p in projects if p.path == "checkout-web")
    assert web.namespace["id"] == engineering.id
    assert web.web_url.endswith("/acme/engineering/checkout-web")
    assert web.name_with_namespace == "Acme / Engineering / checkout-web"
    assert web.archived is False and web.visibility == "private" and web.default_branch == "main"

    own = engineering.projects.list(get_all=True, with_shared=False)
    assert sorted(p.path for p in own) == ["checkout-web", "design-system"]

    # A subgroup's projects are its own listing's, unless include_subgroups asks for them.
    acme = gl.groups.get("acme", lazy=True)
    assert [p.path_with_namespace for p in acme.projects.list(get_all=True)] == ["acme/handbook"]
    assert len(acme.projects.list(get_all=True, include_subgroups=True)) == 8

    # By full path as well as by id.
    assert [p.id for p in gl.groups.get("acme/payments", lazy=True).projects.list(get_all=True, order_by="id")] == [
        p.id for p in gl.groups.get(gl.groups.get("acme/payments").id, lazy=True).projects.list(get_all=True, order_by="id")
    ]


def test_a_groups_projects_page_by_page(gl):
    engineering = gl.groups.get("acme/engineering", lazy=True)
    pages = engineering.projects.list(per_page=2, iterator=True, order_by="id", sort="asc")
    assert pages.total == 3
    assert pages.total_pages == 2
    assert pages.per_page == 2
    assert pages.next_page == 2
    ids = [p.id for p in pages]
    assert len(ids) == len(set(ids)) == 3
    assert ids == sorted(ids)
    # One page, as asked: python-gitlab reads the paging headers and does not follow Link.
    first = engineering.projects.list(per_page=2, page=1, order_by="id", sort="asc")
    assert [p.id for p in first] == ids[:2]
    second = engineering.projects.list(per_page=2, page=2, order_by="id", sort="asc")
    assert [p.id for p in second] == ids[2:]


def test_a_groups_projects_by_archived_status(gl, info):
    infra = gl.groups.get("acme/platform/infra", lazy=True)
    assert sorted(p.path for p in infra.projects.list(get_all=True)) == ["chef-cookbooks", "platform-infra"]
    archived = infra.projects.list(get_all=True, archived=True)
    assert [(p.path, p.archived) for p in archived] == [("chef-cookbooks", True)]
    active = infra.projects.list(get_all=True, archived=False)
    assert [(p.path, p.archived) for p in active] == [("platform-infra", False)]

    r = requests.get(
        info["base_url"] + "/api/v4/groups/acme%2Fplatform%2Finfra/projects",
        headers={"PRIVATE-TOKEN": info["credentials"]["token"]},
        params={"archived": "maybe"},
        timeout=10,
    )
    assert r.status_code == 400 and r.json() == {"error": "archived is invalid"}


def test_an_unknown_groups_projects_are_404(gl, info):
    # Listed through a lazy group, the listing itself answers the 404 (python-gitlab's list error)...
    with pytest.raises(gitlab.GitlabListError) as e:
        gl.groups.get("acme/nope", lazy=True).projects.list(get_all=True)
    assert e.value.response_code == 404
    assert e.value.error_message == "404 Group Not Found"
    # ...and fetched first, the group's own 404 stops it before the listing.
    with pytest.raises(gitlab.GitlabGetError) as e:
        gl.groups.get(999999).projects.list(get_all=True)
    assert e.value.response_code == 404
    assert e.value.error_message == "404 Group Not Found"

    r = requests.get(info["base_url"] + "/api/v4/groups/acme/projects", timeout=10)
    assert r.status_code == 401, "the listing needs a token like every other"


def test_errors_use_gitlab_bodies(gl, info):
    with pytest.raises(gitlab.GitlabGetError) as e:
        gl.groups.get("acme/nope")
    assert e.value.response_code == 404
    assert e.value.error_message == "404 Group Not Found"

    bad = gitlab.Gitlab(info["base_url"], private_token="glpat-wrong")
    with pytest.raises(gitlab.GitlabAuthenticationError) as e:
        bad.auth()
    assert e.value.response_code == 401

    r = requests.post(
        info["base_url"] + "/api/v4/groups/acme%2Fpayments/members",
        headers={"PRIVATE-TOKEN": info["credentials"]["token"]},
        json={"user_id": 1},
        timeout=10,
    )
    assert r.status_code == 400 and r.json() == {"error": "access_level is missing"}

    r = requests.get(
        info["base_url"] + "/api/v4/groups/acme/payments/members",
        headers={"PRIVATE-TOKEN": info["credentials"]["token"]},
        timeout=10,
    )
    assert r.status_code == 404, "an unencoded full path is not a group id"


def test_rate_limit_429_is_obeyed_by_the_client(gl, admin, info):
    admin.post("/rate-limits", {"window_seconds": 1, "all": 2})
    started = time.monotonic()
    for _ in range(5):
        gl.groups.get("acme")
    assert time.monotonic() - started >= 1.0, "python-gitlab slept on Retry-After"

    time.sleep(1.1)
    headers = {"PRIVATE-TOKEN": info["credentials"]["token"]}
    responses = [requests.get(info["base_url"] + "/api/v4/groups", headers=headers, timeout=10) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    limited = responses[2]
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["RateLimit-Limit"] == "2"
    assert limited.headers["RateLimit-Remaining"] == "0"
    assert int(limited.headers["RateLimit-Reset"]) >= int(time.time())
    assert limited.json()["message"]["error"].startswith("This endpoint has been requested too many times")


def test_a_pending_person_appears_at_first_sso_login(gl, admin):
    assert gl.users.list(search="new.hire@example.com", get_all=True) == []
    user = admin.post("/first-login", {"email": "new.hire@example.com"})
    assert user["username"] == "new.hire" and user["name"] == "New Hire"
    assert user_id(gl, "new.hire@example.com") == user["id"]
    engineering = gl.groups.get("acme/engineering", lazy=True)
    assert engineering.members.create({"user_id": user["id"], "access_level": 30}).access_level == 30
    with pytest.raises(requests.HTTPError):
        admin.post("/first-login", {"email": "nobody@example.com"})
