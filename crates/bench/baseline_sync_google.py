"""The baseline for `grantflow-bench sync --system google --baseline`: the lists a full sync of a Google
Workspace domain reads, read with google-api-python-client (2.202) the way its documentation pages them
(`list` then `list_next`), one list after another: the users (500 a page), the groups (200 a page) and each
group's members (200 a page). A quota refusal (403 `userRateLimitExceeded`) is retried by the client's own
exponential backoff (`execute(num_retries=…)`, as Google documents). Prints the elapsed seconds, the peak
memory and what was read as JSON. Argument: the sandbox info file."""

import json
import resource
import sys
import time

import google.oauth2.credentials
from googleapiclient.discovery import build

# Retries of one call: the backoff sleeps rand() * 2**n seconds, so ten cover a minute's quota window.
RETRIES = 10


def every(resource_, field, **kwargs):
    """Every item of a list, page after page (`list_next`)."""
    request = resource_.list(**kwargs)
    while request is not None:
        page = request.execute(num_retries=RETRIES)
        yield from page.get(field, [])
        request = resource_.list_next(request, page)


def main():
    info = json.load(open(sys.argv[1]))["systems"]["google"]
    directory = build(
        "admin", "directory_v1",
        credentials=google.oauth2.credentials.Credentials(token=info["credentials"]["token"]),
        client_options={"api_endpoint": info["base_url"] + "/"},
        static_discovery=True,
    )
    started = time.monotonic()
    users = sum(1 for _ in every(directory.users(), "users", customer="my_customer", maxResults=500))
    groups = list(every(directory.groups(), "groups", customer="my_customer", maxResults=200))
    memberships = 0
    for group in groups:
        memberships += sum(
            1 for _ in every(directory.members(), "members", groupKey=group["id"], maxResults=200)
        )
    print(json.dumps({
        "seconds": time.monotonic() - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "users": users,
        "groups": len(groups),
        "memberships": memberships,
    }))


if __name__ == "__main__":
    main()
