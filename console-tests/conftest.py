"""Shared fixtures: the server the Rust driver started (CONSOLE_INFO), one
headless Chromium, a fresh browser context per person, sign-in through the
Okta emulator's page, and a screenshot per test kept as an artefact."""

import json
import os
import pathlib

import pytest
from playwright.sync_api import sync_playwright


@pytest.fixture(scope="session")
def info():
    path = os.environ.get("CONSOLE_INFO")
    if not path:
        pytest.skip("run through `cargo test -p grantflow-server --test browser`")
    return json.loads(pathlib.Path(path).read_text())


@pytest.fixture(scope="session")
def browser(info):
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=info["chromium"],
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield browser
        browser.close()


class Person:
    """One person's browser: their own cookies, signed in through Okta."""

    def __init__(self, browser, info, login, width=1280):
        self.info = info
        self.context = browser.new_context(
            ignore_https_errors=True, viewport={"width": width, "height": 900}
        )
        self.page = self.context.new_page()
        self.login = login

    def sign_in(self):
        page = self.page
        page.goto(self.info["base"] + "/console/")
        # Not signed in: off to Okta's sign-in page.
        page.wait_for_selector("input[name=password]")
        page.fill("input[name=username]", self.login)
        page.fill("input[name=password]", self.info["password"])
        page.click("button[type=submit]")
        page.wait_for_url(self.info["base"] + "/console/**")
        page.wait_for_selector("main h1")
        return self

    def goto(self, path):
        return self.page.goto(self.info["base"] + path)

    def close(self):
        self.context.close()


@pytest.fixture(scope="session")
def people(browser, info):
    opened = {}

    def person(login, width=1280):
        key = (login, width)
        if key not in opened:
            opened[key] = Person(browser, info, login, width).sign_in()
        return opened[key]

    yield person
    for p in opened.values():
        p.close()


@pytest.fixture(scope="session")
def shared_state():
    """What one test leaves for the next (the request asked, its plan)."""
    return {}


@pytest.fixture
def shot(info, request):
    """`shot(page)` saves the page as <test name>.png in the artefact folder."""

    def take(page, suffix=""):
        folder = pathlib.Path(info["screenshots"])
        folder.mkdir(parents=True, exist_ok=True)
        name = request.node.name + (f"-{suffix}" if suffix else "") + ".png"
        page.screenshot(path=str(folder / name), full_page=True)

    return take
