"""Okta's official Python SDK (okta 3.x) against the emulator: the calls grantflow's flows depend on."""

import time
from urllib.parse import parse_qs, urlparse

from conftest import link_urls, value
from okta.models.add_group_request import AddGroupRequest
from okta.models.create_user_request import CreateUserRequest
from okta.models.update_user_request import UpdateUserRequest

DEMO = "okta-demo-user@example.com"


def new_user(login, password=None):
    body = {"profile": {"firstName": "Conf", "lastName": "Ormance", "email": login, "login": login}}
    if password:
        body["credentials"] = {"password": {"value": password}}
    return CreateUserRequest.from_dict(body)


def test_create_and_activate_users(sdk, run):
    async def go():
        client = sdk()
        user, _, err = await client.create_user(new_user("staged.conf@example.com"), activate=False)
        assert err is None, err
        assert value(user.status) == "STAGED"
        assert user.id.startswith("00u") and len(user.id) == 20
        token, _, err = await client.activate_user(user.id, send_email=False)
        assert err is None, err
        assert token.activation_token
        fetched, _, err = await client.get_user(user.id)
        assert err is None, err
        # No password: activation leaves the user PROVISIONED until they finish the welcome flow.
        assert value(fetched.status) == "PROVISIONED"

        active, _, err = await client.create_user(new_user("active.conf@example.com", "Sup3r-Secret-pw!"))
        assert err is None, err
        assert value(active.status) == "ACTIVE"
        assert active.activated is not None

        _, _, err = await client.create_user(new_user("ACTIVE.conf@example.com"))
        assert err is not None
        assert err.status == 400 and err.error_code == "E0000001"
        assert "already exists" in err.error_causes[0]["errorSummary"]

    run(go())


def test_list_users_follows_link_header_across_pages(sdk, run):
    async def go():
        client = sdk()
        seen, pages, after = [], 0, None
        while True:
            kwargs = {"limit": 2}
            if after:
                kwargs["after"] = after
            users, resp, err = await client.list_users(**kwargs)
            assert err is None, err
            pages += 1
            assert len(users) <= 2
            seen.extend(u.profile.login for u in users)
            # ApiResponse.headers is a plain dict, so of the separate Link lines only the last survives here;
            # the SDK's own pagination reads aiohttp's response.links instead.
            nexts = link_urls(resp.headers, "next")
            if not nexts:
                break
            after = parse_qs(urlparse(nexts[0]).query)["after"][0]
        assert pages >= 3
        assert len(seen) == len(set(seen)) == 29
        assert "former.engineer@example.com" not in seen

    run(go())


def test_get_user_by_login(sdk, run):
    async def go():
        user, resp, err = await sdk().get_user(DEMO)
        assert err is None, err
        assert user.profile.login == DEMO
        assert user.profile.department == "Platform"
        assert user.profile.title == "Site Reliability Engineer"
        assert value(user.status) == "ACTIVE"

    run(go())


def test_partial_update_keeps_other_fields(sdk, run):
    async def go():
        client = sdk()
        user, _, err = await client.get_user(DEMO)
        assert err is None, err
        updated, _, err = await client.update_user(
            user.id, UpdateUserRequest.from_dict({"profile": {"title": "Principal SRE"}})
        )
        assert err is None, err
        assert updated.profile.title == "Principal SRE"
        assert updated.profile.department == "Platform"
        assert updated.profile.login == DEMO

    run(go())


def test_group_membership_add_list_remove(sdk, run, admin):
    async def go():
        client = sdk()
        group, _, err = await client.add_group(
            AddGroupRequest.from_dict({"profile": {"name": "Conformance Group", "description": "made by the SDK"}})
        )
        assert err is None, err
        assert group.id.startswith("00g")
        assert value(group.type) == "OKTA_GROUP"
        user, _, err = await client.get_user(DEMO)
        assert err is None, err

        result = await client.assign_user_to_group(group.id, user.id)
        assert result[-1] is None, result
        members, _, err = await client.list_group_users(group.id)
        assert err is None, err
        assert [m.id for m in members] == [user.id]
        assert admin.get("/writes")["writes"][f"group/{group.id}/user/{user.id}"] == 1

        result = await client.unassign_user_from_group(group.id, user.id)
        assert result[-1] is None, result
        members, _, err = await client.list_group_users(group.id)
        assert err is None, err
        assert members == []

    run(go())


def test_list_application_group_assignments(sdk, run):
    async def go():
        client = sdk()
        apps, _, err = await client.list_applications(q="Checkout")
        assert err is None, err
        assert [a.label for a in apps] == ["Checkout Production Access"]
        groups, _, err = await client.list_groups(q="Production Access Demo")
        assert err is None, err
        assert len(groups) == 1
        assignments, _, err = await client.list_application_group_assignments(apps[0].id)
        assert err is None, err
        # Payments Oncall is assigned to the same app in the demo org.
        assert groups[0].id in [a.id for a in assignments]
        assert len(assignments) == 2

    run(go())


def test_missing_user_is_404_e0000007(sdk, run):
    async def go():
        user, _, err = await sdk().get_user("missing@example.com")
        assert user is None
        assert err.status == 404
        assert err.error_code == "E0000007"
        assert err.error_summary == "Not found: Resource not found: missing@example.com (User)"

    run(go())


def test_sdk_retries_through_429(sdk, run, admin):
    admin.post("/rate-limits", {"window_seconds": 1, "buckets": {"users": 1}})

    async def go():
        client = sdk(rateLimit={"maxRetries": 3})
        started = time.monotonic()
        for _ in range(3):
            users, _, err = await client.list_users(limit=1)
            assert err is None, err
            assert len(users) == 1
        return time.monotonic() - started

    elapsed = run(go())
    throttled = admin.get("/counters")["throttled"].get("users", 0)
    assert throttled >= 1, "the emulator must actually have answered 429"
    assert elapsed < 15


def test_lifecycle_and_sessions_through_sdk(sdk, run, admin):
    async def go():
        client = sdk()
        user, _, err = await client.get_user(DEMO)
        assert err is None, err
        result = await client.suspend_user(user.id)
        assert result[-1] is None, result
        fetched, _, _ = await client.get_user(user.id)
        assert value(fetched.status) == "SUSPENDED"
        result = await client.suspend_user(user.id)
        err = result[-1]
        assert err is not None and err.status == 400 and err.error_code == "E0000001"
        result = await client.unsuspend_user(user.id)
        assert result[-1] is None, result
        result = await client.reset_factors(user.id)
        assert result[-1] is None, result
        result = await client.revoke_user_sessions(user.id, oauth_tokens=True)
        assert result[-1] is None, result
        return user.id

    uid = run(go())
    counters = admin.get("/counters")
    assert counters["sessions_cleared"][uid] == 1
    assert counters["oauth_tokens_revoked"][uid] == 1
    assert counters["factors_reset"][uid] == 1


def test_app_assignments_and_links_through_sdk(sdk, run, admin):
    from okta.models.app_user_assign_request import AppUserAssignRequest
    from okta.models.application_group_assignment import ApplicationGroupAssignment

    async def go():
        client = sdk()
        user, _, err = await client.get_user(DEMO)
        assert err is None, err
        apps, _, err = await client.list_applications(q="Jira")
        assert err is None, err
        jira = apps[0].id
        app_user, _, err = await client.assign_user_to_application(
            jira, AppUserAssignRequest.from_dict({"id": user.id, "scope": "USER"})
        )
        assert err is None, err
        assert app_user.id == user.id and value(app_user.scope) == "USER"
        _, _, err = await client.assign_user_to_application(
            jira, AppUserAssignRequest.from_dict({"id": user.id, "scope": "USER"})
        )
        assert err.status == 409 and err.error_code == "E0000062"
        app_users, _, err = await client.list_application_users(jira)
        assert err is None, err
        assert user.id in [u.id for u in app_users]

        groups, _, err = await client.list_groups(q="Sales")
        assert err is None, err
        assignment, _, err = await client.assign_group_to_application(
            jira, groups[0].id, ApplicationGroupAssignment.from_dict({"priority": 3})
        )
        assert err is None, err
        assert assignment.id == groups[0].id
        assigned, _, err = await client.list_assigned_applications_for_group(groups[0].id)
        assert err is None, err
        assert jira in [a.id for a in assigned]

        links, _, err = await client.list_app_links(user.id)
        assert err is None, err
        assert {"Jira", "Slack", "Google Workspace"} <= {link.label for link in links}

        member_groups, _, err = await client.list_user_groups(user.id)
        assert err is None, err
        # GroupProfile is an anyOf wrapper in the generated SDK; the concrete profile is actual_instance.
        assert "Everyone" in [g.profile.actual_instance.name for g in member_groups]
        return jira, groups[0].id

    jira, gid = run(go())
    writes = admin.get("/writes")["writes"]
    assert writes[f"app/{jira}/group/{gid}"] == 1


def test_system_log_through_sdk(sdk, run):
    async def go():
        client = sdk()
        group, _, err = await client.add_group(AddGroupRequest.from_dict({"profile": {"name": "Audited"}}))
        assert err is None, err
        events, resp, err = await client.list_log_events(filter=f'target.id eq "{group.id}"')
        assert err is None, err
        assert [e.event_type for e in events] == ["group.lifecycle.create"]
        event = events[0]
        assert value(event.outcome.result) == "SUCCESS"
        assert value(event.severity) == "INFO"
        assert event.actor.type == "User"
        assert event.target[0].display_name == "Audited"
        # Polling (no `until`) always links onward.
        assert link_urls(resp.headers, "next")

    run(go())


def test_accounts_as_code_create_with_expired_password_deactivate_and_delete(sdk, run):
    """What grantflow's create_account and retire_account send: nextLogin=changePassword (only with
    activate=true and a password), suspend, deactivate, and DELETE, which deletes only a DEPROVISIONED user."""
    from okta.models.user_next_login import UserNextLogin

    async def go():
        client = sdk()
        _, _, err = await client.create_user(
            new_user("expired.conf@example.com", "Tmp-Pass-42!word"),
            activate=False,
            next_login=UserNextLogin.CHANGEPASSWORD,
        )
        assert err is not None and err.status == 400 and err.error_code == "E0000125", err
        _, _, err = await client.create_user(
            new_user("nopass.conf@example.com"), activate=True, next_login=UserNextLogin.CHANGEPASSWORD
        )
        assert err is not None and err.status == 400 and err.error_code == "E0000124", err
        user, _, err = await client.create_user(
            new_user("expired.conf@example.com", "Tmp-Pass-42!word"),
            activate=True,
            next_login=UserNextLogin.CHANGEPASSWORD,
        )
        assert err is None, err
        assert value(user.status) == "PASSWORD_EXPIRED"

        result = await client.suspend_user(user.id)
        err = result[-1]
        assert err is not None and err.error_code == "E0000001", "only an ACTIVE user is suspended"

        # DELETE of a user that is not deprovisioned deactivates it; a second DELETE removes it.
        result = await client.delete_user(user.id, send_email=False)
        assert result[-1] is None, result
        fetched, _, err = await client.get_user(user.id)
        assert err is None, err
        assert value(fetched.status) == "DEPROVISIONED"
        result = await client.deactivate_user(user.id, send_email=False)
        err = result[-1]
        assert err is not None and err.status == 403, "a DEPROVISIONED user is not deactivated again"
        result = await client.delete_user(user.id, send_email=False)
        assert result[-1] is None, result
        _, _, err = await client.get_user(user.id)
        assert err is not None and err.status == 404 and err.error_code == "E0000007"

    run(go())
