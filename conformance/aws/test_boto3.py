"""boto3's identitystore and sso-admin clients against the emulator: paging, membership, permission sets,
asynchronous account assignments, and AWS's error codes."""

import pytest
from botocore.exceptions import ClientError

SEEDED_USERS = 14
PROD_PAYMENTS = "111122223333"


def code(e):
    return e.value.response["Error"]["Code"]


def user_id(store, instance, email):
    return store.get_user_id(
        IdentityStoreId=instance["IdentityStoreId"],
        AlternateIdentifier={"UniqueAttribute": {"AttributePath": "userName", "AttributeValue": email}},
    )["UserId"]


def group_id(store, instance, name):
    return store.get_group_id(
        IdentityStoreId=instance["IdentityStoreId"],
        AlternateIdentifier={"UniqueAttribute": {"AttributePath": "displayName", "AttributeValue": name}},
    )["GroupId"]


def permission_sets(sso, instance):
    arns = [
        arn
        for page in sso.get_paginator("list_permission_sets").paginate(
            InstanceArn=instance["InstanceArn"], PaginationConfig={"PageSize": 2}
        )
        for arn in page["PermissionSets"]
    ]
    return {
        sso.describe_permission_set(InstanceArn=instance["InstanceArn"], PermissionSetArn=a)["PermissionSet"]["Name"]: a
        for a in arns
    }


def test_one_instance_with_its_identity_store(instance):
    assert instance["InstanceArn"] == "arn:aws:sso:::instance/ssoins-7223a1f8c0d5e6b2"
    assert instance["IdentityStoreId"] == "d-9067a1b2c3"
    assert instance["Status"] == "ACTIVE"


def test_users_page_by_next_token(store, instance):
    pages = list(
        store.get_paginator("list_users").paginate(
            IdentityStoreId=instance["IdentityStoreId"], PaginationConfig={"PageSize": 5}
        )
    )
    assert len(pages) == 3
    assert all("NextToken" in p for p in pages[:-1]) and "NextToken" not in pages[-1]
    users = [u for p in pages for u in p["Users"]]
    assert len(users) == len({u["UserId"] for u in users}) == SEEDED_USERS
    lena = next(u for u in users if u["UserName"] == "lena.fischer@example.com")
    assert lena["Emails"] == [{"Value": "lena.fischer@example.com", "Type": "work", "Primary": True}]
    assert lena["DisplayName"] == "Lena Fischer"
    with pytest.raises(ClientError) as e:
        store.list_users(IdentityStoreId=instance["IdentityStoreId"], NextToken="garbage")
    assert code(e) == "ValidationException"


def test_groups_and_their_members(store, instance):
    groups = [
        g
        for p in store.get_paginator("list_groups").paginate(
            IdentityStoreId=instance["IdentityStoreId"], PaginationConfig={"PageSize": 3}
        )
        for g in p["Groups"]
    ]
    names = {g["DisplayName"] for g in groups}
    assert {"Production Access Demo", "Payments Oncall", "Platform Engineers", "Engineering"} == names
    demo = group_id(store, instance, "Production Access Demo")
    assert demo == "90676b2e31-5c1a9f4e-2d7b-4e8a-9c3f-1b2a3c4d5e6f"
    members = store.list_group_memberships(IdentityStoreId=instance["IdentityStoreId"], GroupId=demo)[
        "GroupMemberships"
    ]
    users = {user_id(store, instance, e) for e in ["sam.okafor@example.com", "nina.petrova@example.com"]}
    assert {m["MemberId"]["UserId"] for m in members} == users


def test_create_and_delete_membership(store, instance, admin):
    store_id = instance["IdentityStoreId"]
    group = group_id(store, instance, "Platform Engineers")
    user = user_id(store, instance, "okta-demo-user@example.com")
    created = store.create_group_membership(IdentityStoreId=store_id, GroupId=group, MemberId={"UserId": user})
    assert created["IdentityStoreId"] == store_id
    with pytest.raises(ClientError) as e:
        store.create_group_membership(IdentityStoreId=store_id, GroupId=group, MemberId={"UserId": user})
    assert code(e) == "ConflictException"
    found = store.get_group_membership_id(IdentityStoreId=store_id, GroupId=group, MemberId={"UserId": user})
    assert found["MembershipId"] == created["MembershipId"]
    store.delete_group_membership(IdentityStoreId=store_id, MembershipId=created["MembershipId"])
    with pytest.raises(ClientError) as e:
        store.delete_group_membership(IdentityStoreId=store_id, MembershipId=created["MembershipId"])
    assert code(e) == "ResourceNotFoundException"
    assert admin.get("/writes")["writes"][f"membership/{group}/{user}"] == 2


def test_permission_sets_page_and_describe(sso, instance):
    sets = permission_sets(sso, instance)
    assert set(sets) == {"prod-payments-admin", "staging-payments-admin", "platform-readonly", "PowerUserAccess"}
    assert sets["prod-payments-admin"] == (
        "arn:aws:sso:::permissionSet/ssoins-7223a1f8c0d5e6b2/ps-2b7f9c3e1a4d5f60"
    )
    described = sso.describe_permission_set(
        InstanceArn=instance["InstanceArn"], PermissionSetArn=sets["prod-payments-admin"]
    )["PermissionSet"]
    assert described["SessionDuration"] == "PT4H"
    accounts = sso.list_accounts_for_provisioned_permission_set(
        InstanceArn=instance["InstanceArn"], PermissionSetArn=sets["PowerUserAccess"]
    )["AccountIds"]
    assert set(accounts) == {"111122223333", "222233334444"}


def test_account_assignment_is_in_progress_then_succeeds(store, sso, instance):
    arn = permission_sets(sso, instance)["PowerUserAccess"]
    user = user_id(store, instance, "tom.baker@example.com")
    args = dict(
        InstanceArn=instance["InstanceArn"],
        TargetId=PROD_PAYMENTS,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=arn,
        PrincipalType="USER",
        PrincipalId=user,
    )
    listed = dict(InstanceArn=instance["InstanceArn"], AccountId=PROD_PAYMENTS, PermissionSetArn=arn)
    status = sso.create_account_assignment(**args)["AccountAssignmentCreationStatus"]
    assert status["Status"] == "IN_PROGRESS"
    assert len(status["RequestId"]) == 36
    assert user not in {a["PrincipalId"] for a in sso.list_account_assignments(**listed)["AccountAssignments"]}
    done = sso.describe_account_assignment_creation_status(
        InstanceArn=instance["InstanceArn"], AccountAssignmentCreationRequestId=status["RequestId"]
    )["AccountAssignmentCreationStatus"]
    assert done["Status"] == "SUCCEEDED" and done["PrincipalId"] == user
    rows = sso.list_account_assignments(**listed)["AccountAssignments"]
    assert {"AccountId": PROD_PAYMENTS, "PermissionSetArn": arn, "PrincipalType": "USER", "PrincipalId": user} in rows

    deletion = sso.delete_account_assignment(**args)["AccountAssignmentDeletionStatus"]
    assert deletion["Status"] == "IN_PROGRESS"
    deleted = sso.describe_account_assignment_deletion_status(
        InstanceArn=instance["InstanceArn"], AccountAssignmentDeletionRequestId=deletion["RequestId"]
    )["AccountAssignmentDeletionStatus"]
    assert deleted["Status"] == "SUCCEEDED"
    assert user not in {a["PrincipalId"] for a in sso.list_account_assignments(**listed)["AccountAssignments"]}


def test_longer_provisioning_and_a_failed_request(store, sso, instance, admin):
    admin.post("/assignments", {"in_progress_reads": 3, "in_progress_seconds": 600})
    arn = permission_sets(sso, instance)["PowerUserAccess"]
    user = user_id(store, instance, "tom.baker@example.com")
    status = sso.create_account_assignment(
        InstanceArn=instance["InstanceArn"],
        TargetId="999999999999",
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=arn,
        PrincipalType="USER",
        PrincipalId=user,
    )["AccountAssignmentCreationStatus"]
    seen = [status["Status"]]
    for _ in range(3):
        seen.append(
            sso.describe_account_assignment_creation_status(
                InstanceArn=instance["InstanceArn"], AccountAssignmentCreationRequestId=status["RequestId"]
            )["AccountAssignmentCreationStatus"]["Status"]
        )
    assert seen == ["IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS", "FAILED"]
    final = sso.describe_account_assignment_creation_status(
        InstanceArn=instance["InstanceArn"], AccountAssignmentCreationRequestId=status["RequestId"]
    )["AccountAssignmentCreationStatus"]
    assert "999999999999" in final["FailureReason"]


def test_throttling_is_a_client_error_with_aws_code(store, instance, admin):
    admin.post("/throttle", {"requests": 1})
    with pytest.raises(ClientError) as e:
        store.list_users(IdentityStoreId=instance["IdentityStoreId"])
    assert code(e) == "ThrottlingException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert store.list_users(IdentityStoreId=instance["IdentityStoreId"])["Users"]


def test_unknown_objects_are_resource_not_found(store, sso, instance):
    with pytest.raises(ClientError) as e:
        sso.describe_permission_set(
            InstanceArn=instance["InstanceArn"],
            PermissionSetArn="arn:aws:sso:::permissionSet/ssoins-7223a1f8c0d5e6b2/ps-0000000000000000",
        )
    assert code(e) == "ResourceNotFoundException"
    assert "ps-0000000000000000" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        store.describe_user(IdentityStoreId=instance["IdentityStoreId"], UserId="9067a1b2c3-nobody")
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(store.exceptions.ResourceNotFoundException):
        store.describe_group(IdentityStoreId=instance["IdentityStoreId"], GroupId="9067a1b2c3-nothing")


def test_an_unknown_access_key_is_refused(client_with_key, instance):
    stranger = client_with_key("identitystore", "AKIAUNKNOWNKEY000000")
    with pytest.raises(ClientError) as e:
        stranger.list_users(IdentityStoreId=instance["IdentityStoreId"])
    assert code(e) == "UnrecognizedClientException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_server_errors_carry_aws_codes(store, instance, admin):
    admin.post("/faults", {"error_rate": 1.0, "error_status": 500})
    with pytest.raises(ClientError) as e:
        store.list_groups(IdentityStoreId=instance["IdentityStoreId"])
    assert code(e) == "InternalServerException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_organizations_lists_accounts_and_their_tags(organizations):
    """The two Organizations reads production reach needs: account names and the environment tag."""
    pages = organizations.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 2})
    accounts = [a for page in pages for a in page["Accounts"]]
    by_id = {a["Id"]: a for a in accounts}
    assert set(by_id) == {"111122223333", "222233334444", "444455556666"}
    assert by_id["111122223333"]["Name"] == "prod-payments"
    assert by_id["111122223333"]["Arn"].startswith("arn:aws:organizations::")
    assert by_id["111122223333"]["Status"] == "ACTIVE"
    tags = organizations.get_paginator("list_tags_for_resource").paginate(ResourceId="444455556666")
    assert {t["Key"]: t["Value"] for page in tags for t in page["Tags"]} == {"environment": "staging"}
    prod = organizations.list_tags_for_resource(ResourceId="111122223333")["Tags"]
    assert {"Key": "environment", "Value": "production"} in prod


def test_organizations_refuses_an_unknown_account(organizations):
    with pytest.raises(organizations.exceptions.TargetNotFoundException) as raised:
        organizations.list_tags_for_resource(ResourceId="999999999999")
    assert raised.value.response["Error"]["Code"] == "TargetNotFoundException"
    with pytest.raises(ClientError) as bad:
        organizations.list_accounts(MaxResults=50)
    assert bad.value.response["Error"]["Code"] == "InvalidInputException"


def test_users_are_created_found_updated_and_deleted(store, instance, admin):
    store_id = instance["IdentityStoreId"]
    created = store.create_user(
        IdentityStoreId=store_id,
        UserName="nia.park@example.com",
        DisplayName="Nia Park",
        Name={"GivenName": "Nia", "FamilyName": "Park"},
        Emails=[{"Value": "nia.park@example.com", "Type": "work", "Primary": True}],
        Title="Sales Engineer",
    )
    user = created["UserId"]
    assert created["IdentityStoreId"] == store_id
    assert user_id(store, instance, "nia.park@example.com") == user
    by_email = store.get_user_id(
        IdentityStoreId=store_id,
        AlternateIdentifier={"UniqueAttribute": {"AttributePath": "emails.value", "AttributeValue": "nia.park@example.com"}},
    )
    assert by_email["UserId"] == user
    described = store.describe_user(IdentityStoreId=store_id, UserId=user)
    assert described["Title"] == "Sales Engineer" and described["Name"]["GivenName"] == "Nia"

    with pytest.raises(ClientError) as e:
        store.create_user(IdentityStoreId=store_id, UserName="NIA.PARK@example.com", DisplayName="Nia",
                          Name={"GivenName": "Nia", "FamilyName": "Park"})
    assert code(e) == "ConflictException"
    with pytest.raises(ClientError) as e:
        store.create_user(IdentityStoreId=store_id, UserName="nameless@example.com", DisplayName="Nameless")
    assert code(e) == "ValidationException"

    store.update_user(
        IdentityStoreId=store_id,
        UserId=user,
        Operations=[
            {"AttributePath": "title", "AttributeValue": "Staff Engineer"},
            {"AttributePath": "name.givenName", "AttributeValue": "Nia-Marie"},
            {"AttributePath": "displayName", "AttributeValue": "Nia-Marie Park"},
        ],
    )
    described = store.describe_user(IdentityStoreId=store_id, UserId=user)
    assert described["Title"] == "Staff Engineer"
    assert described["Name"]["GivenName"] == "Nia-Marie" and described["DisplayName"] == "Nia-Marie Park"
    with pytest.raises(ClientError) as e:
        store.update_user(IdentityStoreId=store_id, UserId=user,
                          Operations=[{"AttributePath": "shoeSize", "AttributeValue": "9"}])
    assert code(e) == "ValidationException"

    store.delete_user(IdentityStoreId=store_id, UserId=user)
    with pytest.raises(ClientError) as e:
        store.describe_user(IdentityStoreId=store_id, UserId=user)
    assert code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        store.delete_user(IdentityStoreId=store_id, UserId=user)
    assert code(e) == "ResourceNotFoundException"
    assert admin.get("/writes")["writes"][f"user/{user}"] == 3
