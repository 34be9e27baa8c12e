"""The console in headless Chromium, in the order a day goes: find a person,
ask for access, approve it as someone else, watch the plan apply, find a
change made by hand, and be refused what one's role does not allow. The
tests share one server and run in this file's order; each keeps a
screenshot. Running a flow and opening its run is in test_workflows.py."""

import json
import re
import urllib.request

from playwright.sync_api import expect

REQUESTER = "okta-demo-user@example.com"
APPROVER = "sam.okafor@example.com"  # admin: in Production Access Demo
VIEWER = "lena.fischer@example.com"  # viewer: in Engineering
AUDITOR = "hannah.schmidt@example.com"  # auditor: in Finance
ASKED = "assign okta-demo-user@example.com to the Production Access Demo group"


def test_a_viewer_signs_in_and_finds_a_person(people, shot):
    lena = people(VIEWER)
    page = lena.page
    # Signing in lands on the first page the role allows.
    expect(page).to_have_url(re.compile(r"/console/people"))
    expect(page.locator("header .who")).to_contain_text(VIEWER)
    # The skip link comes first for keyboard users.
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to the content")
    # Search as you type: htmx replaces the results only.
    page.fill("#q", "okta-demo")
    expect(page.locator("#results")).to_contain_text(REQUESTER)
    page.get_by_role("link", name="Okta Demo").click()
    expect(page.locator("main h1")).to_have_text("Okta Demo")
    expect(page.locator("main")).to_contain_text("Access in every system")
    expect(page.locator("main")).to_contain_text("Platform")
    expect(page.locator("main .source").first).to_be_visible()
    shot(page)


def test_a_requester_asks_for_access(people, shot, shared_state):
    page = people(REQUESTER).page
    # A requester may not open People: their first page is Requests.
    expect(page).to_have_url(re.compile(r"/console/requests"))
    page.get_by_label("What, in words").fill(ASKED)
    page.get_by_label("Why").fill("on call for the payments launch")
    page.get_by_role("button", name="Send the request").click()
    expect(page).to_have_url(re.compile(r"/console/requests/r-"))
    expect(page.locator("#request-state")).to_have_text("pending")
    shared_state["request"] = page.url
    shot(page)


def test_another_person_approves_it_from_the_inbox(people, shot, shared_state):
    page = people(APPROVER).page
    page.goto(page.url.split("/console/")[0] + "/console/requests")
    inbox = page.locator("#inbox + p, #inbox + .scroll")
    expect(inbox).to_contain_text("Production Access Demo")
    shot(page, "inbox")
    request_id = shared_state["request"].rsplit("/", 1)[1]
    page.locator(f"#request-{request_id}").get_by_role("button", name="Approve").first.click()
    expect(page).to_have_url(re.compile(rf"/console/requests/{request_id}$"))
    expect(page.locator("#request-state")).not_to_have_text("pending")
    expect(page.locator("main .timeline")).to_contain_text("request.reviewed")
    shot(page)


def test_the_approved_plan_applies_while_the_page_watches(people, shot, shared_state):
    page = people(APPROVER).page
    page.goto(shared_state["request"])
    plan_link = page.locator("main a[href^='/console/plans/']").first
    expect(plan_link).to_be_visible()
    plan_link.click()
    expect(page.locator("main")).to_contain_text("Changes, person by person")
    # htmx polls the progress until every job has ended.
    expect(page.locator("#progress")).to_contain_text("every job has ended", timeout=30_000)
    expect(page.locator("#progress")).to_contain_text("succeeded")
    shot(page)


def hand_change(info, change):
    """A change made in Okta's own console (the emulator's admin door)."""
    request = urllib.request.Request(
        info["okta_admin"] + "/hand-change",
        data=json.dumps(change).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert 200 <= answer.status < 300, answer.read()


def test_a_change_made_by_hand_is_a_drift_finding(people, shot, info):
    hand_change(
        info,
        {"op": "add", "user": info["hand_added"], "resource": "group/Payments Oncall"},
    )
    page = people(APPROVER).page
    page.goto(info["base"] + "/console/connections")
    # A full sync: an edit in Okta's console may not be in its change feed yet.
    page.get_by_role("button", name="Full sync of okta").click()
    # The page comes back when the sync is done, and says so.
    expect(page.locator("#done")).to_contain_text("okta synced", timeout=30_000)
    page.goto(info["base"] + "/console/drift")
    page.get_by_role("button", name="Check drift now").click()
    expect(page.locator("#done")).to_contain_text("Drift checked", timeout=30_000)
    expect(page.locator("main table")).to_contain_text(info["hand_added"])
    shot(page)


def test_a_role_that_may_not_see_a_page_is_refused(people, shot, info):
    page = people(VIEWER).page
    response = page.goto(info["base"] + "/console/audit")
    assert response.status == 403
    expect(page.locator("h1")).to_have_text("403 Forbidden")
    shot(page)
    # The same refusal through the API, with the browser's session (fetched
    # by the page: its cookies are Secure, which only the browser sends here).
    status = page.evaluate("async (url) => (await fetch(url)).status", "/api/v1/audit/events")
    assert status == 403
    # And the navigation does not offer the page.
    page.goto(info["base"] + "/console/people")
    expect(page.locator("header nav a[href='/console/audit']")).to_have_count(0)


def test_a_form_from_elsewhere_is_refused(people, info):
    page = people(APPROVER).page
    page.goto(info["base"] + "/console/connections")
    # The session cookie alone, without the page's CSRF token: refused.
    answer = page.evaluate(
        """async () => {
            const r = await fetch("/console/connections/okta/sync", {
                method: "POST",
                headers: {"Content-Type": "application/x-www-form-urlencoded"},
                body: "csrf=forged",
            });
            return [r.status, await r.text()];
        }"""
    )
    assert answer[0] == 403
    assert "csrf_failed" in answer[1]


def test_an_auditor_verifies_the_chain(people, shot, info):
    page = people(AUDITOR).page
    expect(page).to_have_url(re.compile(r"/console/requests"))
    page.goto(info["base"] + "/console/audit")
    page.get_by_role("link", name="Verify the chain").click()
    expect(page.locator("#verdict")).to_contain_text("The chain is intact")
    page.get_by_label("Action").fill("request.approved")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("main table")).to_contain_text(APPROVER)
    shot(page)


def test_pages_fit_a_phone(people, shot, info):
    page = people(VIEWER, width=390).page
    page.goto(info["base"] + "/console/people/" + REQUESTER)
    expect(page.locator("main h1")).to_have_text("Okta Demo")
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert fits, "the page scrolls sideways at a phone's width"
    shot(page)


def test_forms_work_without_javascript(browser, info, shot):
    context = browser.new_context(java_script_enabled=False, ignore_https_errors=True)
    page = context.new_page()
    try:
        page.goto(info["base"] + "/console/")
        page.fill("input[name=username]", REQUESTER)
        page.fill("input[name=password]", info["password"])
        page.click("button[type=submit]")
        expect(page.locator("header .who")).to_contain_text(REQUESTER)
        page.goto(info["base"] + "/console/requests")
        page.get_by_label("What, in words").fill(
            "assign okta-demo-user@example.com to the Sales group"
        )
        page.get_by_label("Why").fill("a week with the sales team")
        page.get_by_role("button", name="Send the request").click()
        expect(page).to_have_url(re.compile(r"/console/requests/r-"))
        expect(page.locator("main")).to_contain_text("Sales")
        shot(page)
    finally:
        context.close()


def test_signing_out_ends_the_session(people, info):
    page = people(VIEWER).page
    page.goto(info["base"] + "/console/people")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("h1")).to_have_text("Signed out")
    # The next page asks for a sign-in again.
    page.goto(info["base"] + "/console/people")
    expect(page.locator("input[name=password]")).to_be_visible()
