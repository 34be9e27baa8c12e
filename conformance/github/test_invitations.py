"""PyGithub against the GitHub emulator's organisation invitations: invite_user by email (someone without a GitHub
user, and a GitHub user's email) and by user, invitations(), the 422 for someone already a part of the organisation,
cancel_invitation (which sends the invitee's user id), the invitee accepting, and remove_from_membership."""

import pytest
from github import GithubException

from conftest import ORG


def invitation_emails(org):
    return sorted((i.email or "", i.login or "") for i in org.invitations())


def test_an_email_invitation_is_pending_until_the_invitee_signs_up_and_accepts(gh, admin):
    org = gh().get_organization(ORG)
    assert org.invite_user(email="nia.park@example.com", role="admin") is None
    invited = [i for i in org.invitations() if i.email == "nia.park@example.com"]
    assert len(invited) == 1
    assert invited[0].login is None and invited[0].role == "admin"
    assert admin.get("/writes")["writes"][f"org/invitation/{invited[0].id}"] == 1

    with pytest.raises(GithubException) as again:
        org.invite_user(email="NIA.PARK@example.com")
    assert again.value.status == 422
    assert "already a part of this organization" in again.value.data["errors"][0]["message"]

    accepted = admin.post("/invitations/accept", {"email": "nia.park@example.com", "login": "nia-p"})
    nia = gh().get_user("nia-p")
    assert nia.id == accepted["id"] and nia.email == "nia.park@example.com"
    assert org.has_in_members(nia)
    assert nia.get_organization_membership(ORG).role == "admin"
    assert all(i.email != "nia.park@example.com" for i in org.invitations())
    org.remove_from_membership(nia)
    assert not org.has_in_members(nia)


def test_a_github_users_email_invites_that_user_and_cancel_takes_their_id(gh, admin):
    g = gh()
    org = g.get_organization(ORG)
    org.invite_user(email="emma.jones@example.com")
    emma = g.get_user("emma-j")
    assert ("emma.jones@example.com", "emma-j") in invitation_emails(org)
    assert emma.get_organization_membership(ORG).state == "pending"
    # PyGithub's cancel_invitation puts the user's id where the invitation id goes.
    assert org.cancel_invitation(emma) is True
    assert ("emma.jones@example.com", "emma-j") not in invitation_emails(org)
    # Nothing left to cancel: GitHub's 404, which cancel_invitation reports as False.
    assert org.cancel_invitation(emma) is False

    org.invite_user(user=emma, role="direct_member")
    admin.post("/invitations/accept", {"email": "emma.jones@example.com"})
    assert org.has_in_members(emma)
    with pytest.raises(GithubException) as member:
        org.invite_user(user=emma)
    assert member.value.status == 422


def test_an_invitation_needs_an_email_or_a_user_and_a_known_role(gh, info):
    import requests

    url = f"{info['base_url']}/orgs/{ORG}/invitations"
    headers = {"Authorization": f"Bearer {info['credentials']['token']}"}
    for body in ({}, {"email": "x@example.com", "role": "owner"}, {"email": "not-an-email"}):
        r = requests.post(url, json=body, headers=headers, timeout=10)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["message"] == "Validation Failed"
    r = requests.delete(f"{url}/123456789", headers=headers, timeout=10)
    assert r.status_code == 404
