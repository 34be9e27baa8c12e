"""The reach explorer's picture, and the console's accessibility checked
rather than photographed: the main action of every page is reached by Tab,
every form control has a name a screen reader reads, and no page scrolls
sideways at a phone's width. Runs after test_console.py (file order) on the
same server, so the pages have a request, a plan and findings to show."""

import re

from playwright.sync_api import expect

ADMIN = "sam.okafor@example.com"  # admin: every page
DEMO_GROUP = "Production Access Demo"
REQUESTER = "okta-demo-user@example.com"

# Each page an admin may open, and the control that is its main action (a CSS selector).
PAGES = [
    ("/console/people", "#q"),
    ("/console/people/" + REQUESTER, "form[action$='/request'] button[type=submit]"),
    ("/console/requests", "form[action='/console/requests'][method=post] button[type=submit]"),
    ("/console/plans", "main a[href^='/console/plans/']"),
    ("/console/drift", "form[action='/console/drift/check'] button"),
    ("/console/flows", "form.run-now button[type=submit]"),
    ("/console/reach?kind=group&name=" + DEMO_GROUP, "#name"),
    ("/console/connections", "button[aria-label='Sync okta now']"),
    ("/console/audit", "main a[href='/console/audit/verify']"),
]

# Every visible control with no accessible name: a <label for>, aria-label(ledby), or a button's text.
UNNAMED = """() => {
  const named = (el) => {
    const labels = el.labels ? [...el.labels].map((l) => l.textContent).join(" ") : "";
    const by = (el.getAttribute("aria-labelledby") || "").split(/\\s+/).filter(Boolean)
      .map((id) => (document.getElementById(id) || {}).textContent || "").join(" ");
    const own = el.tagName === "BUTTON" || el.tagName === "A" ? el.textContent : "";
    return [labels, el.getAttribute("aria-label") || "", by, own, el.title || ""].join("").trim() !== "";
  };
  return [...document.querySelectorAll("input, select, textarea, button, a[href]")]
    .filter((el) => el.type !== "hidden" && el.getClientRects().length > 0 && !named(el))
    .map((el) => el.outerHTML.slice(0, 160));
}"""

IS_FOCUSED = "(selector) => !!document.activeElement && document.activeElement.matches(selector)"


def tab_to(page, selector, presses=120):
    """Presses Tab from where a freshly loaded page starts until `selector` has the focus; how many
    presses, or None."""
    for count in range(1, presses + 1):
        page.keyboard.press("Tab")
        if page.evaluate(IS_FOCUSED, selector):
            return count
    return None


def test_the_reach_explorer_draws_the_path_from_the_demo_group(people, shot, info):
    page = people(ADMIN).page
    page.goto(info["base"] + "/console/reach")
    # Asked with the keyboard alone: the kind, the name, Enter.
    page.get_by_label("Ask about").select_option("group")
    page.get_by_label("Name").fill(DEMO_GROUP)
    page.get_by_label("Name").press("Enter")
    expect(page).to_have_url(re.compile(r"/console/reach\?kind=group&name=Production"))
    expect(page.locator("main h2").first).to_have_text(f"What group {DEMO_GROUP} reaches in production")
    picture = page.locator("#reach-picture svg")
    expect(picture).to_be_visible()
    # Drawn, not blank: a box per hop, the group's among them, and arrows between them.
    box = picture.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 30, box
    assert picture.locator("rect").count() >= 2
    assert picture.locator("line").count() >= 1
    assert picture.locator("g > title", has_text=DEMO_GROUP).count() >= 1
    # The same paths as text, for those who do not see the picture.
    expect(page.locator("main table")).to_contain_text(DEMO_GROUP)
    expect(page.locator("main details summary", has_text="Mermaid")).to_be_visible()
    shot(page)


def test_tab_reaches_each_pages_main_action(people, info):
    page = people(ADMIN).page
    reached = {}
    for path, action in PAGES:
        page.goto(info["base"] + path)
        expect(page.locator("main h1")).to_be_visible()
        assert page.locator(action).count() > 0, f"{path}: no {action} on the page"
        presses = tab_to(page, action)
        assert presses is not None, f"{path}: Tab never reaches {action}"
        reached[path] = presses
        # The focus is shown (the outline of :focus-visible), not only moved.
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline not in ("", "none"), f"{path}: the focused {action} shows no outline"
    # And a main action works from the keyboard: Enter on the focused search sends it.
    page.goto(info["base"] + "/console/people")
    assert tab_to(page, "#q") is not None
    page.keyboard.type("okta-demo")
    page.keyboard.press("Enter")
    expect(page.locator("#results")).to_contain_text(REQUESTER)
    print("Tab presses to each page's main action:", reached)


def test_every_form_control_has_a_name(people, info):
    page = people(ADMIN).page
    for path, _ in PAGES:
        page.goto(info["base"] + path)
        expect(page.locator("main h1")).to_be_visible()
        unnamed = page.evaluate(UNNAMED)
        assert unnamed == [], f"{path}: controls without a name: {unnamed}"
        # Every label points at a control that exists.
        dangling = page.evaluate(
            "() => [...document.querySelectorAll('label[for]')]"
            ".filter((l) => !document.getElementById(l.htmlFor)).map((l) => l.htmlFor)"
        )
        assert dangling == [], f"{path}: labels for nothing: {dangling}"


def test_every_page_fits_a_phone(people, shot, info):
    page = people(ADMIN, width=390).page
    for path, _ in PAGES:
        page.goto(info["base"] + path)
        expect(page.locator("main h1")).to_be_visible()
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"
        )
        assert widths[2] == 390, widths
        assert max(widths[0], widths[1]) <= widths[2], f"{path} scrolls sideways at 390 px: {widths}"
    # Readable, not only unscrolled: on a phone each connection is a card the full width of the screen.
    page.goto(info["base"] + "/console/connections")
    budget = page.locator("li.budget[data-bucket=users]").bounding_box()
    assert budget and budget["width"] >= 250, f"the budgets are squeezed at 390 px: {budget}"
    shot(page, "connections")
