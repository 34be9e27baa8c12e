"""The baseline for `grantflow-bench sync --system github --baseline`: the lists a full sync of a GitHub
organisation reads, read with PyGithub (2.10) the way its documentation pages them (`PaginatedList`, 100
a page), one list after another: the admins, the members, the invitations, the repositories, the teams,
and each team's members, maintainers and repositories. PyGithub's own retry (`GithubRetry`) waits out a
spent budget until `x-ratelimit-reset`. Prints the elapsed seconds, the peak memory and what was read as
JSON. Arguments: the sandbox info file, the organisation's login."""

import json
import resource
import sys
import time

import github


def main():
    info = json.load(open(sys.argv[1]))["systems"]["github"]
    gh = github.Github(
        auth=github.Auth.Token(info["credentials"]["token"]),
        base_url=info["base_url"],
        per_page=100,
        # Enough retries to wait out a few windows of a long sync.
        retry=github.GithubRetry(total=50),
    )
    org = gh.get_organization(sys.argv[2])
    started = time.monotonic()
    admins = sum(1 for _ in org.get_members(role="admin"))
    members = sum(1 for _ in org.get_members())
    invitations = sum(1 for _ in org.invitations())
    repos = sum(1 for _ in org.get_repos())
    teams = team_memberships = team_repos = 0
    for team in org.get_teams():
        teams += 1
        for role in ("member", "maintainer"):
            team_memberships += sum(1 for _ in team.get_members(role=role))
        # Each repository with the team's permission (`permissions`), as the connector reads it.
        team_repos += sum(1 for repo in team.get_repos() if repo.permissions is not None)
    print(json.dumps({
        "seconds": time.monotonic() - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "admins": admins,
        "members": members,
        "invitations": invitations,
        "repos": repos,
        "teams": teams,
        "team_memberships": team_memberships,
        "team_repos": team_repos,
    }))


if __name__ == "__main__":
    main()
