"""google-auth's service account with domain-wide delegation (service_account.Credentials with a subject) against
the Google emulator's token endpoint: the key file the sandbox publishes (its token_uri points at the emulator),
the signed JWT grant the client makes, tokens that expire, and Google's OAuth error bodies."""

import json

import google.auth.transport.requests
import pytest
from google.auth.exceptions import RefreshError
from google.oauth2 import service_account
from googleapiclient.discovery import build

SCOPES = [
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.group",
]


def key_info(info):
    return json.loads(info["credentials"]["service_account_key"])


def delegated(info, subject=None, scopes=SCOPES, key=None):
    return service_account.Credentials.from_service_account_info(
        key or key_info(info),
        scopes=scopes,
        subject=subject or info["settings"]["subject"],
    )


def directory_with(info, credentials):
    return build(
        "admin",
        "directory_v1",
        credentials=credentials,
        client_options={"api_endpoint": info["base_url"] + "/"},
        static_discovery=True,
        cache_discovery=False,
    )


def test_the_key_file_is_googles_shape_and_its_token_uri_is_the_emulator(info):
    key = key_info(info)
    assert key["type"] == "service_account"
    for field in ["client_email", "private_key", "private_key_id", "token_uri", "client_id"]:
        assert key[field], field
    assert key["token_uri"] == info["base_url"] + "/token"
    assert key["private_key"].startswith("-----BEGIN PRIVATE KEY-----")


def test_a_delegated_token_is_minted_once_and_reads_the_directory(info, admin):
    credentials = delegated(info)
    svc = directory_with(info, credentials)
    users = svc.users().list(customer="my_customer", maxResults=5).execute()
    assert len(users["users"]) == 5
    groups = svc.groups().list(customer="my_customer").execute()
    assert groups["groups"]
    assert credentials.token and credentials.expiry is not None
    tokens = admin.get("/tokens")
    assert tokens["issued"] == 1 and tokens["refused"] == 0, tokens


def test_a_token_google_ends_early_is_refreshed_on_the_401_and_the_call_repeated(info, admin):
    svc = directory_with(info, delegated(info))
    svc.users().list(customer="my_customer", maxResults=1).execute()
    admin.post("/tokens", {"expire_now": True})
    # The client's authorized transport refreshes on 401 and sends the request again.
    users = svc.users().list(customer="my_customer", maxResults=1).execute()
    assert users["users"]
    tokens = admin.get("/tokens")
    assert tokens["issued"] == 2 and tokens["expired_presented"] == 1, tokens


def test_a_token_with_a_read_only_scope_cannot_write(info):
    svc = directory_with(info, delegated(info, scopes=[SCOPES[0]]))
    from googleapiclient.errors import HttpError

    with pytest.raises(HttpError) as e:
        svc.groups().insert(body={"email": "new-group@example.com", "name": "New"}).execute()
    assert e.value.resp.status == 403
    assert json.loads(e.value.content)["error"]["errors"][0]["reason"] == "insufficientPermissions"


@pytest.mark.parametrize(
    "change, error, words",
    [
        ({"subject": "nobody@example.com"}, "invalid_grant", "Invalid email or User ID"),
        (
            {"scopes": ["https://www.googleapis.com/auth/cloud-platform"]},
            "unauthorized_client",
            "Client is unauthorized",
        ),
        ({"client_email": "someone-else@x.iam.gserviceaccount.com"}, "invalid_grant", "Invalid JWT Signature."),
    ],
)
def test_refusals_are_googles_oauth_errors(info, admin, change, error, words):
    key = key_info(info)
    if "client_email" in change:
        key["client_email"] = change["client_email"]
    credentials = delegated(
        info,
        subject=change.get("subject"),
        scopes=change.get("scopes", SCOPES),
        key=key,
    )
    with pytest.raises(RefreshError) as e:
        credentials.refresh(google.auth.transport.requests.Request())
    body = e.value.args[1]
    assert body["error"] == error, body
    assert words in body["error_description"], body
    assert admin.get("/tokens")["issued"] == 0
