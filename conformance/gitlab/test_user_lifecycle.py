"""python-gitlab against the GitLab emulator's administrator user lifecycle: users.create with reset_password or
force_random_password, the 409 for a taken email, block, deactivate (refused for a blocked user), delete, profile
changes through User.save() (PUT /users/:id), and the write counts."""

import gitlab
import pytest


def test_create_block_deactivate_and_delete_users(gl, admin):
    nia = gl.users.create(
        {"email": "nia.park@example.com", "username": "nia.park", "name": "Nia Park", "force_random_password": True}
    )
    assert (nia.state, nia.username) == ("active", "nia.park")
    assert admin.get("/writes")["writes"][f"user/{nia.id}"] == 1
    with pytest.raises(gitlab.exceptions.GitlabCreateError) as taken:
        gl.users.create(
            {"email": "NIA.PARK@example.com", "username": "nia2", "name": "Nia Two", "reset_password": True}
        )
    assert taken.value.response_code == 409

    assert nia.block() is True and nia.state == "blocked"
    assert gl.users.get(nia.id).state == "blocked"
    assert nia.block() is True, "blocking a blocked user answers the same"
    with pytest.raises(gitlab.exceptions.GitlabDeactivateError) as refused:
        nia.deactivate()
    assert refused.value.response_code == 403
    assert "blocked user cannot be deactivated" in refused.value.error_message

    tom = gl.users.list(search="tom.baker@example.com")[0]
    assert tom.deactivate() is True and tom.state == "deactivated"
    assert gl.users.get(tom.id).state == "deactivated"

    nia.delete()
    with pytest.raises(gitlab.exceptions.GitlabGetError) as gone:
        gl.users.get(nia.id)
    assert gone.value.response_code == 404
    assert gl.users.list(search="nia.park@example.com") == []
    with pytest.raises(gitlab.exceptions.GitlabHttpError) as missing:
        gl.http_post(f"/users/{nia.id}/block")
    assert missing.value.response_code == 404


def test_save_changes_only_the_fields_set_and_keeps_the_rest(gl, admin):
    tom = gl.users.list(search="tom.baker@example.com")[0]
    user = gl.users.get(tom.id)
    username, email = user.username, user.email
    user.name = "Tom Baker-Ross"
    user.organization = "Acme Payments"
    user.external = True
    user.save()
    again = gl.users.get(tom.id)
    assert (again.name, again.organization, again.external) == ("Tom Baker-Ross", "Acme Payments", True)
    assert (again.username, again.email, again.state, again.location) == (username, email, "active", "")
    assert admin.get("/writes")["writes"][f"user/{tom.id}"] == 1

    again.location = "Lisbon"
    again.save()
    assert gl.users.get(tom.id).location == "Lisbon"
    assert gl.users.get(tom.id).organization == "Acme Payments", "not sent, so kept"

    user.name = ""
    with pytest.raises(gitlab.exceptions.GitlabUpdateError) as blank:
        user.save()
    assert blank.value.response_code == 400
    with pytest.raises(gitlab.exceptions.GitlabUpdateError) as missing:
        gl.users.update(999999, {"name": "Nobody"})
    assert missing.value.response_code == 404
