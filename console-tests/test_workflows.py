"""Workflows in headless Chromium: an administrator opens the Workflows page, runs a flow by hand and
reads the run card by card, down to the error Okta answered; a viewer opens the same run but is offered
no Run now. Runs after the other files (file order) on the same server."""

import re

from playwright.sync_api import expect

ADMIN = "sam.okafor@example.com"  # admin: in Production Access Demo
VIEWER = "lena.fischer@example.com"  # viewer: in Engineering
FLOW = "check-and-unlock"


def test_an_admin_runs_a_flow_by_hand_and_opens_the_run(people, shot, info, shared_state):
    page = people(ADMIN).page
    page.goto(info["base"] + "/console/people")
    page.locator("header nav").get_by_role("link", name="Workflows").click()
    expect(page.locator("main h1")).to_have_text("Workflows")
    flow = page.locator(f"#flow-{FLOW}")
    expect(flow).to_contain_text("Reads a person from the directory")
    expect(flow.locator("[data-trigger]")).to_have_text("manual")
    # The declared input, with its default as the hint.
    who = flow.get_by_label("who")
    expect(who).to_have_attribute("placeholder", "chen.wei@example.com")
    shot(page, "list")
    who.fill("chen.wei@example.com")
    flow.get_by_role("button", name=f"Run {FLOW} now").click()
    expect(page).to_have_url(re.compile(r"/console/flows/runs/run-"))
    expect(page.locator("main h1")).to_have_text(f"Run of {FLOW}")
    expect(page.locator("#run-state")).to_have_text("failed", timeout=30_000)
    # Every card, the branch's card indented under its `if`.
    cards = page.locator("ol.steps > li")
    expect(cards).to_have_count(5)
    paths = cards.evaluate_all("(items) => items.map((li) => li.dataset.path)")
    assert paths == ["note", "person", "active", "active/else/why", "unlock"], paths
    expect(page.locator("li[data-path='person']")).to_contain_text("person.get")
    expect(page.locator("li[data-path='active/else/why']")).to_have_class(re.compile(r"depth-1"))
    # What a card read, as JSON, one click away.
    person = page.locator("li[data-path='person']")
    person.get_by_text("outputs").click()
    expect(person.locator("pre").last).to_contain_text('"status": "SUSPENDED"')
    # The failed card: the system and Okta's own code, up front.
    failed = page.locator("li[data-path='unlock']")
    expect(failed).to_have_attribute("data-state", "failed")
    expect(failed.locator(".system")).to_have_text("okta")
    expect(failed.locator(".code")).to_have_text("E0000032")
    expect(page.locator("#run-error")).to_contain_text("Unlock is not allowed for this user.")
    shared_state["flow_run"] = page.url
    shot(page)


def test_a_viewer_reads_the_run_on_a_phone_but_may_not_run_flows(people, shot, info, shared_state):
    # At a phone's width (test_console.py signed the desktop browser of this viewer out).
    page = people(VIEWER, width=390).page
    page.goto(shared_state["flow_run"])
    expect(page.locator("li[data-path='unlock'] .code")).to_have_text("E0000032")
    page.goto(info["base"] + "/console/flows")
    expect(page.locator(f"#flow-{FLOW}")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Run .* now"))).to_have_count(0)
    expect(page.locator("main table")).to_contain_text(FLOW)
    # Starting one anyway, with the page's own CSRF token, is refused.
    answer = page.evaluate(
        """async (flow) => {
            const r = await fetch(`/console/flows/${flow}/run`, {
                method: "POST",
                headers: {"Content-Type": "application/x-www-form-urlencoded"},
                body: "csrf=" + encodeURIComponent(document.querySelector("input[name=csrf]").value),
            });
            return r.status;
        }""",
        FLOW,
    )
    assert answer == 403
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert fits, "the Workflows page scrolls sideways at a phone's width"
    shot(page)
