"""datadog-api-client 2.x against the emulator: MonitorsApi.list_monitors with page/page_size, AuthenticationApi
.validate, the 403 for a wrong key (either key for a read, the API key for validate), and a 429 the client
waits out by X-RateLimit-Reset when its retry is enabled."""

import time

import pytest
import requests
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ApiException, ApiValueError, ForbiddenException
from datadog_api_client.v1.api.authentication_api import AuthenticationApi
from datadog_api_client.v1.api.monitors_api import MonitorsApi

SEEDED = [4012871, 4012872, 4019930, 4020001]


def many(count):
    return [
        {
            "id": 5000000 + i,
            "name": f"Synthetic monitor {i}",
            "type": "metric alert",
            "query": f"avg(last_5m):avg:system.load.1{{host:h{i}}} > 1",
            "tags": [f"service:s{i % 3}", "env:prod"],
            "overall_state": "OK",
            "priority": None,
        }
        for i in range(count)
    ]


def test_list_monitors_reads_the_fields_grantflow_uses(client):
    monitors = MonitorsApi(client).list_monitors()
    assert [m.id for m in monitors] == SEEDED
    checkout = monitors[0]
    assert checkout.name == "Checkout API error rate above 2%"
    assert str(checkout.type) == "query alert"
    assert str(checkout.overall_state) == "OK"
    assert checkout.priority == 1
    assert "service:checkout-api" in checkout.tags
    assert "{service:checkout-api,env:prod}" in checkout.query


def test_list_monitors_pages_from_zero_until_a_short_page(client, admin):
    admin.post("/monitors", {"monitors": many(23)})
    api = MonitorsApi(client)
    pages = []
    page = 0
    while True:
        batch = api.list_monitors(page=page, page_size=5)
        pages.append([m.id for m in batch])
        if len(batch) < 5:
            break
        page += 1
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert sum(pages, []) == [5000000 + i for i in range(23)]
    # Without a page, page_size pages nothing: every monitor comes back.
    assert len(api.list_monitors(page_size=5)) == 23
    # A page past the end is empty, not an error.
    assert api.list_monitors(page=9, page_size=5) == []


def test_the_clients_own_pagination_reads_every_monitor(client, admin):
    admin.post("/monitors", {"monitors": many(12)})
    ids = [m.id for m in MonitorsApi(client).list_monitors_with_pagination(page_size=5)]
    assert ids == [5000000 + i for i in range(12)]


def lower(headers):
    return {k.lower(): v for k, v in headers.items()}


def test_page_size_above_1000_is_refused_by_the_client_and_by_datadog(client, info):
    # The client knows Datadog's maximum and refuses before sending; the emulator refuses it too.
    with pytest.raises(ApiValueError):
        MonitorsApi(client).list_monitors(page=0, page_size=1001)
    creds = info["credentials"]
    r = requests.get(
        info["base_url"] + "/api/v1/monitor",
        params={"page": 0, "page_size": 1001},
        headers={"DD-API-KEY": creds["api_key"], "DD-APPLICATION-KEY": creds["application_key"]},
        timeout=10,
    )
    assert r.status_code == 400
    assert "page_size" in r.json()["errors"][0]


def test_monitor_tags_filter_on_the_monitors_own_tags(client):
    monitors = MonitorsApi(client).list_monitors(monitor_tags="service:checkout-api,env:prod")
    assert [m.id for m in monitors] == [4012871, 4012872]


def test_validate_accepts_the_api_key_whatever_the_application_key(configuration):
    with ApiClient(configuration()) as api_client:
        assert AuthenticationApi(api_client).validate().valid is True
    with ApiClient(configuration(application_key="not-the-application-key")) as api_client:
        assert AuthenticationApi(api_client).validate().valid is True


def test_validate_refuses_a_wrong_api_key_with_403(configuration):
    with ApiClient(configuration(api_key="0" * 32)) as api_client:
        with pytest.raises(ForbiddenException) as e:
            AuthenticationApi(api_client).validate()
    assert e.value.status == 403
    assert e.value.body == {"errors": ["Forbidden"]}


@pytest.mark.parametrize("wrong", ["api_key", "application_key"])
def test_a_read_with_either_key_wrong_is_forbidden(configuration, wrong):
    with ApiClient(configuration(**{wrong: "0" * 40})) as api_client:
        with pytest.raises(ForbiddenException) as e:
            MonitorsApi(api_client).list_monitors()
    assert e.value.status == 403
    assert e.value.body == {"errors": ["Forbidden"]}


def test_rate_limit_headers_are_on_every_answer(configuration):
    with ApiClient(configuration(return_http_data_only=False)) as api_client:
        _, status, headers = MonitorsApi(api_client).list_monitors(page=0, page_size=1)
    assert status == 200
    headers = lower(headers)
    for name in ["x-ratelimit-limit", "x-ratelimit-period", "x-ratelimit-remaining", "x-ratelimit-reset"]:
        assert int(headers[name]) >= 0, name
    assert headers["x-ratelimit-name"] == "monitor"


def test_429_is_raised_without_retry_and_waited_out_with_it(configuration, admin):
    admin.post("/rate-limits", {"window_seconds": 1, "all": 2})
    with ApiClient(configuration()) as api_client:
        api = MonitorsApi(api_client)
        api.list_monitors()
        api.list_monitors()
        with pytest.raises(ApiException) as e:
            api.list_monitors()
    assert e.value.status == 429
    headers = lower(e.value.headers)
    # Whole seconds to the end of the 1 s window, rounded up.
    assert 1 <= int(headers["x-ratelimit-reset"]) <= 2
    assert headers["x-ratelimit-remaining"] == "0"
    assert e.value.body == {"errors": ["Rate limit exceeded"]}

    time.sleep(1.1)
    with ApiClient(configuration(enable_retry=True, max_retries=3)) as api_client:
        api = MonitorsApi(api_client)
        started = time.monotonic()
        for _ in range(3):
            assert [m.id for m in api.list_monitors()] == SEEDED
        # The third call met the 429 and slept X-RateLimit-Reset (a second or two) before it was answered.
        assert time.monotonic() - started >= 0.9
