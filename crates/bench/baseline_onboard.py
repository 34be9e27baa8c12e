"""The baseline for `grantflow-bench onboard --baseline`: the same onboarding done the obvious way, hire after
hire and system after system, each with its vendor's official Python client and that client's own handling
of rate limits (told to keep waiting them out rather than give up), against fresh emulators with the same
limits and latency. The ids come from a sync (given, so the lookups a real script would make first are not
timed, in the baseline's favour); what the clients need as objects they fetch as they would (a GitHub team
and user, a Jira project role), cached where the obvious script would keep them.

Prints JSON: the elapsed seconds, the errors, and seconds spent per system.
"""

import asyncio
import json
import os
import sys
import time

os.environ.setdefault("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", "true")

import boto3  # noqa: E402
import github  # noqa: E402
import gitlab  # noqa: E402
import google.oauth2.credentials  # noqa: E402
from botocore.config import Config as BotoConfig  # noqa: E402
from googleapiclient.discovery import build  # noqa: E402
from jira import JIRA  # noqa: E402
from okta.client import Client as OktaClient  # noqa: E402
from okta.models import AppUserAssignRequest  # noqa: E402
from slack_sdk import WebClient  # noqa: E402
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler  # noqa: E402

PATIENT = 50  # retries on rate limits: a run of hundreds of calls must wait out many windows


def main():
    systems = json.load(open(sys.argv[1]))["systems"]
    hires = json.load(open(sys.argv[2]))

    okta = OktaClient({
        "orgUrl": systems["okta"]["base_url"],
        "token": systems["okta"]["credentials"]["token"],
        "rateLimit": {"maxRetries": PATIENT},
    })
    google_dir = build(
        "admin", "directory_v1",
        credentials=google.oauth2.credentials.Credentials(token=systems["google"]["credentials"]["token"]),
        client_options={"api_endpoint": systems["google"]["base_url"] + "/"},
        static_discovery=True,
    )
    gh = github.Github(
        auth=github.Auth.Token(systems["github"]["credentials"]["token"]),
        base_url=systems["github"]["base_url"],
        retry=github.GithubRetry(total=PATIENT),
    )
    gh_org = gh.get_organization(systems["github"].get("settings", {}).get("org", "bench-org"))
    # python-gitlab obeys 429s by default (up to 10 retries per request).
    gl = gitlab.Gitlab(systems["gitlab"]["base_url"], private_token=systems["gitlab"]["credentials"]["token"])
    slack = WebClient(token=systems["slack"]["credentials"]["token"], base_url=systems["slack"]["base_url"] + "/api/")
    slack.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=PATIENT))
    jira_creds = systems["jira"]["credentials"]
    jira = JIRA(server=systems["jira"]["base_url"], basic_auth=(jira_creds["email"], jira_creds["token"]),
                max_retries=PATIENT)
    aws = systems["aws"]
    sso = boto3.client(
        "sso-admin", endpoint_url=aws["base_url"], region_name="eu-west-1",
        aws_access_key_id=aws["credentials"]["access_key_id"],
        aws_secret_access_key=aws["credentials"]["secret_access_key"],
        config=BotoConfig(retries={"mode": "standard", "total_max_attempts": PATIENT}),
    )

    spent = {}
    errors = 0
    teams, roles = {}, {}

    async def onboard(hire):
        nonlocal errors

        def timed(system, call):
            nonlocal errors
            started = time.monotonic()
            try:
                call()
            except Exception as e:  # noqa: BLE001 - the baseline counts failures, it does not stop
                errors += 1
                print(f"{system}: {e}", file=sys.stderr)
            spent[system] = spent.get(system, 0.0) + time.monotonic() - started

        started = time.monotonic()
        o = hire["okta"]
        result = await okta.assign_user_to_group(o["resource_id"], o["account_id"])
        if result[-1] is not None:
            errors += 1
        a = hire["okta_app"]
        result = await okta.assign_user_to_application(
            a["resource_id"], AppUserAssignRequest(id=a["account_id"], scope="USER"))
        if result[-1] is not None:
            errors += 1
        spent["okta"] = spent.get("okta", 0.0) + time.monotonic() - started

        g = hire["google"]
        timed("google", lambda: google_dir.members().insert(
            groupKey=g["resource_name"], body={"email": g["account_login"], "role": "MEMBER"}).execute(num_retries=PATIENT))

        h = hire["github"]

        def github_add():
            slug = h["resource_name"].lower().replace(" ", "-")
            if slug not in teams:
                teams[slug] = gh_org.get_team_by_slug(slug)
            teams[slug].add_membership(gh.get_user(h["account_login"]), role="member")
        timed("github", github_add)

        l = hire["gitlab"]
        timed("gitlab", lambda: gl.groups.get(l["resource_id"], lazy=True).members.create(
            {"user_id": int(l["account_id"]), "access_level": 30}, max_retries=PATIENT))

        s = hire["slack"]
        timed("slack", lambda: slack.conversations_invite(channel=s["resource_id"], users=s["account_id"]))

        j = hire["jira"]

        def jira_add():
            key = j["resource_id"]
            if key not in roles:
                role_id = jira.project_roles(key)["Developers"]["id"]
                roles[key] = jira.project_role(key, role_id)
            roles[key].add_user(users=j["account_id"])
        timed("jira", jira_add)

        w = hire["aws"]

        def aws_assign():
            status = sso.create_account_assignment(
                InstanceArn=instance_arn, TargetId=w["resource_id"], TargetType="AWS_ACCOUNT",
                PermissionSetArn=permission_set_arn, PrincipalType="USER", PrincipalId=w["account_id"],
            )["AccountAssignmentCreationStatus"]
            # AWS's advice: read the request's status until it settles.
            while status["Status"] == "IN_PROGRESS":
                time.sleep(0.25)
                status = sso.describe_account_assignment_creation_status(
                    InstanceArn=instance_arn, AccountAssignmentCreationRequestId=status["RequestId"],
                )["AccountAssignmentCreationStatus"]
            if status["Status"] != "SUCCEEDED":
                raise RuntimeError(status.get("FailureReason", status["Status"]))
        timed("aws", aws_assign)

    async def run():
        for hire in hires:
            await onboard(hire)

    started = time.monotonic()
    instance_arn = sso.list_instances()["Instances"][0]["InstanceArn"]
    permission_set_arn = None
    for arn in sso.list_permission_sets(InstanceArn=instance_arn)["PermissionSets"]:
        described = sso.describe_permission_set(InstanceArn=instance_arn, PermissionSetArn=arn)["PermissionSet"]
        if described["Name"] == "developer":
            permission_set_arn = arn
    asyncio.run(run())
    elapsed = time.monotonic() - started
    print(json.dumps({"seconds": elapsed, "errors": errors, "hires": len(hires),
                      "per_system": {k: round(v, 1) for k, v in spent.items()}}))


if __name__ == "__main__":
    main()
