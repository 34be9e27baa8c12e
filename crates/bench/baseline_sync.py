"""The baseline for `grantflow-bench sync --baseline`: the lists a full sync reads, read with Okta's
official Python SDK (okta 3.x) the way its documentation pages them, one list after another: users (and the
DEPROVISIONED search), groups and each group's members, group rules, apps and each app's group assignments,
users and group push mappings. The SDK's own 429 handling sleeps until X-Rate-Limit-Reset. Prints the
elapsed seconds, the peak memory and what was read as JSON."""

import asyncio
import json
import os
import resource
import sys
import time
from urllib.parse import parse_qs, urlparse

os.environ.setdefault("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", "true")

from okta.client import Client  # noqa: E402


def next_after(resp):
    """The `after` cursor of the Link rel="next" line, or None. The SDK 3.x's ApiResponse has no next-page
    helper; its headers are a plain dict, which keeps the last Link line (Okta sends `next` last)."""
    if resp is None:
        return None
    for key, value in dict(resp.headers).items():
        if key.lower() != "link":
            continue
        for part in value.split(","):
            part = part.strip()
            if part.endswith('rel="next"'):
                query = parse_qs(urlparse(part[part.index("<") + 1 : part.index(">")]).query)
                return query.get("after", [None])[0]
    return None


async def every(method, *args, refused_is_empty=False, **kwargs):
    """Every item of a list, page after page; `refused_is_empty` for an app that cannot push groups, which
    answers its push mappings with an error (as the connector reads it too)."""
    items, after = [], None
    while True:
        page_kwargs = dict(kwargs)
        if after:
            page_kwargs["after"] = after
        page, resp, err = await method(*args, **page_kwargs)
        if err is not None and refused_is_empty and getattr(err, "status", 500) < 500:
            return items
        if err is not None:
            raise RuntimeError(f"{method.__name__}: {err}")
        items.extend(page or [])
        after = next_after(resp)
        if not after:
            return items


def main():
    info = json.load(open(sys.argv[1]))["systems"]["okta"]
    client = Client({
        "orgUrl": info["base_url"],
        "token": info["credentials"]["token"],
        # The default of 2 retries gives up on a sync that outlasts a few windows.
        "rateLimit": {"maxRetries": 100},
    })

    async def run():
        started = time.monotonic()
        users = await every(client.list_users, limit=200)
        users += await every(client.list_users, search='status eq "DEPROVISIONED"', limit=200)
        groups = await every(client.list_groups, limit=10000)
        memberships = 0
        for group in groups:
            memberships += len(await every(client.list_group_users, group.id, limit=1000))
        await every(client.list_group_rules, limit=200)
        apps = await every(client.list_applications, limit=200)
        app_users = 0
        for app in apps:
            await every(client.list_application_group_assignments, app.id, limit=200)
            app_users += len(await every(client.list_application_users, app.id, limit=500))
            await every(client.list_group_push_mappings, app.id, limit=1000, refused_is_empty=True)
        return {
            "seconds": time.monotonic() - started,
            "users": len(users),
            "groups": len(groups),
            "memberships": memberships,
            "apps": len(apps),
            "app_users": app_users,
        }

    result = asyncio.run(run())
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
