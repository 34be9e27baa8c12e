"""The naive baseline for `grantflow-bench apply --baseline`: the same group
memberships, issued one after another with Okta's official Python SDK (its
own 429 handling, which sleeps until X-Rate-Limit-Reset), against the same
emulator. Prints the elapsed seconds of the writes as JSON."""

import asyncio
import json
import os
import sys
import time

os.environ.setdefault("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", "true")

from okta.client import Client  # noqa: E402


def main():
    info = json.load(open(sys.argv[1]))["systems"]["okta"]
    pairs = json.load(open(sys.argv[2]))  # [[group_id, user_id], ...]
    client = Client({
        "orgUrl": info["base_url"],
        "token": info["credentials"]["token"],
        # The SDK's default is 2 retries; a 2,000-call run needs it to keep
        # waiting out each window rather than fail.
        "rateLimit": {"maxRetries": 10},
    })

    async def run():
        errors = 0
        started = time.monotonic()
        for group_id, user_id in pairs:
            result = await client.assign_user_to_group(group_id, user_id)
            if result[-1] is not None:
                errors += 1
        return time.monotonic() - started, errors

    elapsed, errors = asyncio.run(run())
    print(json.dumps({"seconds": elapsed, "errors": errors, "operations": len(pairs)}))


if __name__ == "__main__":
    main()
