"""PyGithub against the GitHub emulator: org membership, invitations, teams, team repository permissions, Link
paging, errors and the primary and secondary rate limits."""

import time

import pytest
from github import BadCredentialsException, GithubException, UnknownObjectException

from conftest import ORG


def test_org_members_are_paged_by_link_headers_with_absolute_urls(gh, info):
    g = gh(per_page=2)
    org = g.get_organization(ORG)
    assert org.url == f"{info['base_url']}/orgs/{ORG}"
    members = org.get_members()
    logins = [m.login for m in members]
    assert len(logins) == 9 and "okta-demo" not in logins and "emma-j" not in logins
    assert members.totalCount == 9
    admins = [m.login for m in org.get_members(role="admin")]
    assert admins == ["priya-r"]
    assert g.get_user("mrossi").email == "marco.rossi@example.com"


def test_inviting_a_user_is_a_pending_membership_until_accepted(gh, admin):
    g = gh()
    org = g.get_organization(ORG)
    emma = g.get_user("emma-j")
    assert not org.has_in_members(emma)
    org.add_to_members(emma, role="member")
    membership = emma.get_organization_membership(ORG)
    assert (membership.state, membership.role) == ("pending", "member")
    assert sorted(i.login for i in org.invitations()) == ["emma-j", "okta-demo"]
    admin.post("/hand-change", {"op": "accept_invitation", "user": "emma-j"})
    assert emma.get_organization_membership(ORG).state == "active"
    assert org.has_in_members(emma)
    org.remove_from_membership(emma)
    assert not org.has_in_members(emma)


def test_team_membership_roles_are_set_read_and_removed(gh):
    g = gh()
    team = g.get_organization(ORG).get_team_by_slug("backend")
    assert team.name == "Backend"
    aisha = g.get_user("aisha-k")
    team.add_membership(aisha, role="maintainer")
    assert team.get_team_membership("aisha-k").role == "maintainer"
    assert "aisha-k" in [m.login for m in team.get_members(role="maintainer")]
    team.add_membership(aisha, role="member")
    assert team.get_team_membership(aisha).role == "member"
    team.remove_membership(aisha)
    with pytest.raises(UnknownObjectException):
        team.get_team_membership("aisha-k")


def test_a_team_membership_for_an_outsider_is_pending(gh):
    g = gh()
    team = g.get_organization(ORG).get_team_by_slug("platform")
    team.add_membership(g.get_user("emma-j"))
    assert team.get_team_membership("emma-j").state == "pending"
    assert "emma-j" not in [m.login for m in team.get_members()]


def test_team_repository_permissions(gh):
    g = gh()
    team = g.get_organization(ORG).get_team_by_slug("backend")
    repo = f"{ORG}/platform-infra"
    assert team.get_repo_permission(repo) is None
    assert team.update_team_repository(repo, "maintain") is True
    p = team.get_repo_permission(repo)
    assert (p.admin, p.maintain, p.push, p.triage, p.pull) == (False, True, True, True, True)
    assert team.has_in_repos(repo)
    assert {r.name: r.permissions.push for r in team.get_repos()}["checkout-service"] is True
    team.update_team_repository(repo, "triage")
    assert team.get_repo_permission(repo).push is False
    team.remove_from_repos(repo)
    assert not team.has_in_repos(repo)
    # update_team_repository reports success as "the status was 204"; GitHub's 422 makes it False.
    assert team.update_team_repository(repo, "owner") is False
    assert not team.has_in_repos(repo)


def test_creating_a_team_and_a_duplicate_name(gh):
    org = gh().get_organization(ORG)
    team = org.create_team("Data Science", privacy="closed", description="ML")
    assert team.slug == "data-science"
    assert org.get_team_by_slug("data-science").description == "ML"
    with pytest.raises(GithubException) as e:
        org.create_team("Data Science")
    assert e.value.status == 422 and e.value.data["errors"][0]["code"] == "already_exists"


def test_missing_objects_and_bad_credentials(gh):
    with pytest.raises(UnknownObjectException):
        gh().get_organization(ORG).get_team_by_slug("no-such-team").name
    with pytest.raises(BadCredentialsException):
        gh(token="ghp_wrong").get_organization(ORG).login


def test_rate_limit_headers_and_the_primary_limit_is_waited_out(gh, admin):
    g = gh()
    g.get_organization(ORG).login
    remaining, limit = g.rate_limiting
    assert limit == 5000 and remaining == 4999
    admin.post("/rate-limits", {"window_seconds": 2, "limit": 2, "status": 403})
    org = g.get_organization(ORG)
    started = time.monotonic()
    for slug in ["backend", "platform", "payments"]:
        assert org.get_team_by_slug(slug).slug == slug
    assert time.monotonic() - started >= 0.5, "the third call waited for x-ratelimit-reset"
    assert time.monotonic() - started < 30


def test_secondary_limit_429_with_retry_after_is_retried(gh, admin):
    g = gh()
    team = g.get_organization(ORG).get_team_by_slug("payments")
    admin.post("/rate-limits", {"secondary_limit": 1, "secondary_window_seconds": 1, "secondary_status": 429})
    started = time.monotonic()
    team.add_membership(g.get_user("tbaker"))
    team.add_membership(g.get_user("lenaf"))
    assert time.monotonic() - started >= 0.5
    assert sorted(m.login for m in team.get_members()) == ["lenaf", "ravi-p", "tbaker"]


def test_secondary_limit_403_message_is_recognised(gh, admin):
    g = gh(retry=None)
    team = g.get_organization(ORG).get_team_by_slug("payments")
    admin.post("/rate-limits", {"secondary_limit": 0, "secondary_window_seconds": 60})
    with pytest.raises(GithubException) as e:
        team.add_membership(g.get_user("tbaker"))
    assert e.value.status == 403
    assert e.value.headers.get("retry-after")
    assert "secondary rate limit" in e.value.data["message"]


def test_server_errors_surface_with_their_status(gh, admin):
    admin.post("/faults", {"error_rate": 1.0, "error_status": 502})
    with pytest.raises(GithubException) as e:
        gh(retry=None).get_organization(ORG).login
    assert e.value.status == 502


def test_writes_are_counted_per_object(gh, admin):
    g = gh()
    team = g.get_organization(ORG).get_team_by_slug("backend")
    team.add_membership(g.get_user("aisha-k"))
    team.add_membership(g.get_user("aisha-k"))
    assert admin.get("/writes")["writes"] == {"team/backend/membership/aisha-k": 2}
