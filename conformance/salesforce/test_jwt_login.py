"""simple-salesforce's OAuth 2.0 JWT bearer login (consumer_key + privatekey_file) against the emulator's
`/services/oauth2/token`: the assertion exactly as simple-salesforce signs it (`aud` https://login.salesforce.com,
`exp` a numeric string three minutes ahead), the session and instance_url it gets, a session that expires, and
Salesforce's refusals. simple-salesforce builds its token URL as https://{domain}.salesforce.com, which cannot
name a loopback host, so the test's requests Session hands what is addressed to login.salesforce.com to the
emulator (the request itself is left as the client made it)."""

import pytest
import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed


class ToEmulator(HTTPAdapter):
    """Sends requests for https://login.salesforce.com to the emulator's base URL, path and body unchanged."""

    def __init__(self, base_url):
        super().__init__()
        self.base_url = base_url

    def send(self, request, **kwargs):
        request.url = self.base_url + request.url.split("salesforce.com", 1)[1]
        return super().send(request, **kwargs)


def jwt_login(info, tmp_path, username=None, consumer_key=None):
    key = tmp_path / "connected-app.key"
    key.write_text(info["credentials"]["private_key"])
    session = requests.Session()
    session.mount("https://login.salesforce.com", ToEmulator(info["base_url"]))
    return Salesforce(
        username=username or info["settings"]["username"],
        consumer_key=consumer_key or info["settings"]["consumer_key"],
        privatekey_file=str(key),
        version="59.0",
        session=session,
    )


def test_a_jwt_login_opens_a_session_on_the_emulators_instance(info, admin, tmp_path):
    sf = jwt_login(info, tmp_path)
    assert "https://" + sf.sf_instance == info["base_url"]
    users = sf.query("SELECT Id, Username FROM User")
    assert users["totalSize"] > 0
    tokens = admin.get("/tokens")
    assert tokens["issued"] == 1 and tokens["refused"] == 0, tokens


def test_an_expired_session_is_invalid_session_id_and_the_client_logs_in_again(info, admin, tmp_path):
    sf = jwt_login(info, tmp_path)
    sf.query("SELECT Id FROM User LIMIT 1")
    admin.post("/tokens", {"expire_now": True})
    # simple-salesforce reads 401 [{"errorCode": "INVALID_SESSION_ID"}] as an expired session and repeats its
    # JWT login, then the query.
    assert sf.query("SELECT Id FROM User LIMIT 1")["totalSize"] == 1
    tokens = admin.get("/tokens")
    assert tokens["issued"] == 2 and tokens["expired_presented"] == 1, tokens


# simple-salesforce warns how to self-authorize an app for "user hasn't approved this consumer".
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "who, code, message",
    [
        ({"username": "nobody@example.com"}, "invalid_grant", "user hasn't approved this consumer"),
        ({"consumer_key": "3MVG9unknown"}, "invalid_client_id", "client identifier invalid"),
    ],
)
def test_refusals_are_salesforces_oauth_errors(info, admin, tmp_path, who, code, message):
    with pytest.raises(SalesforceAuthenticationFailed) as e:
        jwt_login(info, tmp_path, **who)
    assert e.value.code == code and e.value.auth_message == message
    assert admin.get("/tokens")["issued"] == 0
