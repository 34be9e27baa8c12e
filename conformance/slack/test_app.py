"""The Slack app's wire against the emulator, checked by slack_sdk itself.

- `WebClient.chat_postMessage` / `chat_update` (slack_sdk sends both as JSON, with blocks as arrays) and a
  form body with blocks as JSON text.
- The emulator playing a person: a slash command and a button click are POSTed to a small receiver on
  127.0.0.1, and slack_sdk's `SignatureVerifier` must accept what arrived (and refuse it altered or late).
"""

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock, SignatureVerifier

APPROVE = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Lena* asks for #platform"}},
    {
        "type": "actions",
        "block_id": "decide",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "value": "plan-42",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Approve"},
            },
            {"type": "button", "action_id": "deny", "value": "plan-42", "text": {"type": "plain_text", "text": "Deny"}},
        ],
    },
]


class Receiver:
    """The app's side, as small as it gets: keeps each request's raw body and headers, answers `reply`."""

    def __init__(self):
        self.received = []
        self.reply = (200, b"", "text/plain")
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                # Header names are case-insensitive; this emulator sends them in lower case, as HTTP/2 would.
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.received.append({"path": self.path, "headers": headers, "body": body})
                status, content, content_type = receiver.reply
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(admin):
    r = Receiver()
    admin.post("/app", {"command_url": r.url + "/slack/commands", "interactivity_url": r.url + "/slack/interactions"})
    yield r
    r.close()


@pytest.fixture
def verifier(info):
    return SignatureVerifier(info["credentials"]["signing_secret"])


class Later(Clock):
    def __init__(self, seconds):
        self.seconds = seconds

    def now(self):
        return time.time() + self.seconds


def channel_id(client, name):
    return next(
        c["id"]
        for page in client.conversations_list(types="public_channel,private_channel")
        for c in page["channels"]
        if c["name"] == name
    )


def uid(client, email):
    return client.users_lookupByEmail(email=email)["user"]["id"]


def test_post_and_update_with_blocks_as_json(client, admin):
    eng = channel_id(client, "eng")
    posted = client.chat_postMessage(channel=eng, text="Lena asks for #platform", blocks=APPROVE)
    assert posted["ok"] and posted["channel"] == eng
    ts = posted["ts"]
    assert posted["message"]["text"] == "Lena asks for #platform"
    assert posted["message"]["blocks"][1]["elements"][0]["action_id"] == "approve"
    assert posted["message"]["blocks"][0]["block_id"], "Slack fills in the block_id left out"

    dm = client.chat_postMessage(channel=uid(client, "lena.fischer@example.com"), text="Your request is in")
    assert dm["channel"].startswith("D")

    updated = client.chat_update(channel=eng, ts=ts, text="Approved by Priya", blocks=[])
    assert updated["ok"] and updated["ts"] == ts and updated["text"] == "Approved by Priya"
    kept = admin.get(f"/messages?channel={eng}")["messages"]
    assert [m["text"] for m in kept] == ["Approved by Priya"]
    assert "blocks" not in kept[0] and kept[0]["edited"]["ts"]

    with pytest.raises(SlackApiError) as e:
        client.chat_postMessage(channel="C0NOPE", text="x")
    assert e.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as e:
        client.api_call("chat.postMessage", json={"channel": eng})
    assert e.value.response["error"] == "no_text"
    with pytest.raises(SlackApiError) as e:
        client.chat_postMessage(channel=eng, text="x", blocks=[{"type": "no-such-block"}])
    assert e.value.response["error"] == "invalid_blocks"
    with pytest.raises(SlackApiError) as e:
        client.chat_update(channel=eng, ts="1.000000", text="x")
    assert e.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as e:
        client.chat_postMessage(channel=channel_id(client, "platform-oncall"), text="x")
    assert e.value.response["error"] == "not_in_channel"


def test_a_form_body_carries_blocks_as_json_text(client, info):
    eng = channel_id(client, "eng")
    r = requests.post(
        info["base_url"] + "/api/chat.postMessage",
        data={"channel": eng, "text": "fallback", "blocks": json.dumps(APPROVE)},
        headers={"Authorization": "Bearer " + info["credentials"]["token"]},
        timeout=10,
    )
    body = r.json()
    assert body["ok"], body
    assert body["message"]["blocks"][1]["elements"][1]["value"] == "plan-42"


def test_a_slash_command_arrives_signed_as_slack_signs(admin, info, receiver, verifier):
    receiver.reply = (200, json.dumps({"response_type": "ephemeral", "text": "On it"}).encode(), "application/json")
    answer = admin.post("/slash-command", {"user": "lena.fischer@example.com", "channel": "eng", "text": "add me to #platform"})
    assert answer["status"] == 200 and answer["json"] == {"response_type": "ephemeral", "text": "On it"}

    [got] = receiver.received
    assert got["path"] == "/slack/commands"
    assert got["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert verifier.is_valid_request(got["body"], got["headers"])
    assert verifier.is_valid(got["body"], got["headers"]["x-slack-request-timestamp"], got["headers"]["x-slack-signature"])
    assert got["body"].decode() == answer["request"]["body"]

    form = {k: v[0] for k, v in urllib.parse.parse_qs(got["body"].decode()).items()}
    assert form["command"] == "/grantflow" and form["text"] == "add me to #platform"
    assert form["channel_name"] == "eng" and form["user_id"].startswith("U")
    assert form["trigger_id"] and form["team_id"] and form["api_app_id"]

    tampered = got["body"].replace(b"platform", b"platforn")
    assert not verifier.is_valid_request(tampered, got["headers"])
    assert not SignatureVerifier("another-secret").is_valid_request(got["body"], got["headers"])
    assert not SignatureVerifier(info["credentials"]["signing_secret"], clock=Later(301)).is_valid_request(
        got["body"], got["headers"]
    )
    assert not verifier.is_valid_request(got["body"], {})

    # The response_url takes the app's later answer; in_channel shows it in the channel.
    r = requests.post(form["response_url"], json={"response_type": "in_channel", "text": "Lena was added"}, timeout=10)
    assert r.status_code == 200 and r.json() == {"ok": True}
    responses = admin.get("/responses")["responses"]
    assert [(x["via"], x["text"]) for x in responses] == [("reply", "On it"), ("response_url", "Lena was added")]
    assert "Lena was added" in [m["text"] for m in admin.get(f"/messages?channel={form['channel_id']}")["messages"]]


def test_a_button_click_arrives_signed_with_the_message_and_the_action(client, admin, info, receiver, verifier):
    eng = channel_id(client, "eng")
    ts = client.chat_postMessage(channel=eng, text="Lena asks for #platform", blocks=APPROVE)["ts"]

    answer = admin.post("/click", {"user": "priya.raman@example.com", "ts": ts, "action_id": "approve"})
    assert answer["status"] == 200

    [got] = receiver.received
    assert got["path"] == "/slack/interactions"
    assert verifier.is_valid_request(got["body"], got["headers"])
    fields = urllib.parse.parse_qs(got["body"].decode())
    assert list(fields) == ["payload"]
    payload = json.loads(fields["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == uid(client, "priya.raman@example.com")
    assert payload["channel"]["id"] == eng and payload["container"]["message_ts"] == ts
    assert payload["message"]["ts"] == ts and payload["message"]["blocks"][1]["block_id"] == "decide"
    [action] = payload["actions"]
    assert (action["type"], action["action_id"], action["block_id"], action["value"]) == (
        "button",
        "approve",
        "decide",
        "plan-42",
    )
    assert float(action["action_ts"]) > 0 and payload["trigger_id"] and payload["response_url"]

    tampered = got["body"].replace(b"plan-42", b"plan-43")
    assert tampered != got["body"]
    assert not verifier.is_valid_request(tampered, got["headers"])

    r = requests.post(payload["response_url"], json={"replace_original": True, "text": "Approved by Priya"}, timeout=10)
    assert r.status_code == 200
    [message] = [m for m in admin.get(f"/messages?channel={eng}")["messages"] if m["ts"] == ts]
    assert message["text"] == "Approved by Priya" and "blocks" not in message
    r = requests.post(payload["response_url"], json={"delete_original": True}, timeout=10)
    assert r.status_code == 200
    assert ts not in [m["ts"] for m in admin.get(f"/messages?channel={eng}")["messages"]]


def test_person_calls_check_their_input(client, admin, info):
    url = info["admin_url"]

    def call(path, body):
        r = requests.post(url + path, json=body, timeout=10)
        return r.status_code, r.json().get("error", "")

    status, error = call("/slash-command", {"user": "lena.fischer@example.com"})
    assert status == 400 and "command_url" in error
    status, error = call("/app", {"command_url": "http://example.com/slack"})
    assert status == 400 and "loopback" in error
    admin.post("/app", {"command_url": "http://127.0.0.1:9/x", "interactivity_url": "http://127.0.0.1:9/y"})
    for body, named in [
        ({"user": "nobody@example.com"}, "user"),
        ({"user": "former.engineer@example.com"}, "deactivated"),
        ({"user": "lena.fischer@example.com", "channel": "no-such-channel"}, "channel"),
        ({"user": "lena.fischer@example.com", "channel": "platform-oncall"}, "private"),
        ({"user": "lena.fischer@example.com", "text": "x" * 5000}, "text"),
        ({"user": "lena.fischer@example.com", "command": "grantflow"}, "command"),
        ({"user": "lena.fischer@example.com", "extra": 1}, "extra"),
    ]:
        status, error = call("/slash-command", body)
        assert status == 400 and named in error, (body, error)
    ts = client.chat_postMessage(channel=channel_id(client, "eng"), text="x", blocks=APPROVE)["ts"]
    status, error = call("/click", {"user": "priya.raman@example.com", "ts": ts, "action_id": "nope"})
    assert status == 400 and "approve, deny" in error
    status, error = call("/click", {"user": "priya.raman@example.com", "ts": "1.000000", "action_id": "approve"})
    assert status == 400 and "ts" in error
    # Nobody listens on port 9: the admin call says so instead of hanging.
    r = requests.post(url + "/click", json={"user": "priya.raman@example.com", "ts": ts, "action_id": "deny"}, timeout=10)
    assert r.status_code == 502 and "could not be reached" in r.json()["error"]


def test_a_new_channel_is_sent_to_the_events_url_signed_after_its_challenge(client, admin, verifier):
    r = Receiver()
    try:
        # Slack first checks the URL: an app that does not echo the challenge is refused.
        r.reply = (200, b"nope", "text/plain")
        with pytest.raises(requests.HTTPError):
            admin.post("/app", {"events_url": r.url + "/slack/events"})
        challenge = r.received[0]
        assert json.loads(challenge["body"])["type"] == "url_verification"
        assert verifier.is_valid_request(challenge["body"], challenge["headers"])

        r.received.clear()
        original = r.server.RequestHandlerClass.do_POST

        def echo(handler):
            length = int(handler.headers.get("Content-Length", "0"))
            body = handler.rfile.read(length)
            headers = {k.lower(): v for k, v in handler.headers.items()}
            r.received.append({"path": handler.path, "headers": headers, "body": body})
            parsed = json.loads(body)
            answer = json.dumps({"challenge": parsed.get("challenge")}).encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(answer)))
            handler.end_headers()
            handler.wfile.write(answer)

        r.server.RequestHandlerClass.do_POST = echo
        try:
            admin.post("/app", {"events_url": r.url + "/slack/events"})
            created = client.conversations_create(name="incident-77")
            deadline = time.time() + 5
            while len(r.received) < 2 and time.time() < deadline:
                time.sleep(0.05)
        finally:
            r.server.RequestHandlerClass.do_POST = original
        event = r.received[1]
        assert verifier.is_valid_request(event["body"], event["headers"])
        envelope = json.loads(event["body"])
        assert envelope["type"] == "event_callback" and envelope["event_id"].startswith("Ev")
        assert envelope["event"]["type"] == "channel_created"
        assert envelope["event"]["channel"]["id"] == created["channel"]["id"]
        assert envelope["event"]["channel"]["name"] == "incident-77"
        # A private channel is not a channel_created event.
        client.conversations_create(name="secret-77", is_private=True)
        time.sleep(0.3)
        assert len(r.received) == 2
    finally:
        admin.post("/app", {"events_url": ""})
        r.close()
