"""The Study tab in real Chromium, two reviewers signed in from two browser contexts on a
blind pairwise study with overlap 2: neither sees a source, each sees their own sides, both
get every item, the owner alone sees agreement and the report. Screenshots at 1400x900 and
1920x1080 go to PERSD_STUDY_SCREENSHOTS (a folder) when it is set."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from persd.studies import create_study, left_slot
from tests.browser.conftest import TIMEOUT_MS, USERS, Server
from tests.test_studies import add_direct_solutions

pytestmark = pytest.mark.browser
ITEMS = 4
# Words that would give a candidate's source away.
SOURCE_WORDS = re.compile(r"persd|stand|direct|teacher|refinement|reference|solution", re.I)


def open_study(page: Page, url: str, session: str, login: tuple[str, str]) -> Page:
    page.goto(f"{url}/?session={session}")
    page.get_by_label("username").fill(login[0])
    page.get_by_label("password").fill(login[1])
    page.get_by_role("button", name="Login").click()
    expect(page.locator("#persd-session input")).to_have_value(session)
    page.get_by_role("tab", name="Study").click()
    expect(page.locator("[data-testid=study-task]")).to_be_visible()
    return page


def shown_item(page: Page) -> int:
    return int(page.locator("#persd-study-header .persd-header").get_attribute("data-item"))


def decide(page: Page, key: str) -> int:
    """Press a key on the pair shown; returns its item id once the next one is shown."""
    item = shown_item(page)
    page.keyboard.press(key)
    expect(page.locator("#persd-study-message")).to_contain_text("Saved")
    page.wait_for_function(
        "(b) => { const h = document.querySelector('#persd-study-header .persd-header');"
        " return !h || h.dataset.item !== b; }", arg=str(item), timeout=TIMEOUT_MS)
    return item


def test_two_reviewers_judge_a_blind_study_with_overlap_two(auth_server: Server, browser):
    name = auth_server.session()
    with auth_server.store(name) as store:
        add_direct_solutions(store)
        study = create_study(store, "blind", owner="ana", reviewers=["ana", "ben"], overlap=2,
                             limit=ITEMS)
        items = [i.id for i in store.studies.items(study.id)]
        assert all(names == ["ana", "ben"] for names in store.studies.assignments(study.id).values())
    contexts = [browser.new_context(viewport={"width": 1400, "height": 900}) for _ in USERS]
    try:
        pages = [open_study(c.new_page(), auth_server.url, name, user)
                 for c, user in zip(contexts, USERS)]
        for page, (user, _) in zip(pages, USERS):
            expect(page.locator("[data-testid=study-left]")).to_contain_text(f"0 of {ITEMS} decided")
            expect(page.locator(f"[data-testid=study-progress] [data-reviewer={user}]")).to_contain_text(f"0/{ITEMS}")
            pair = page.locator("#persd-study-pair").inner_text() + page.locator(
                "#persd-study-header").inner_text()
            assert "Candidate 1" in pair and "Candidate 2" in pair
            assert not SOURCE_WORDS.search(pair), SOURCE_WORDS.search(pair)
        # ana decides with the keyboard (always the left one), ben with the buttons: 2 then T.
        seen = {"ana": [], "ben": []}
        for _ in items:
            seen["ana"].append(decide(pages[0], "1"))
        ben = pages[1]
        for n in range(ITEMS):
            item = shown_item(ben)
            ben.locator("#persd-study-reason textarea").fill(f"why {n}")
            ben.locator("#persd-study-right" if n % 2 == 0 else "#persd-study-tie").click()
            # Saved: the next pair replaces this one (the store is checked below); the
            # "Saved" line itself can be redrawn by a late session event, so it is not waited on.
            seen["ben"].append(item)
            if n < ITEMS - 1:
                expect(ben.locator("#persd-study-header .persd-header")).not_to_have_attribute(
                    "data-item", str(item))
        for page in pages:
            expect(page.locator("#persd-study-message")).to_contain_text(
                f"All done: you decided your {ITEMS} pairs")
            expect(page.locator("[data-testid=study-progress]")).to_contain_text(f"ana {ITEMS}/{ITEMS}")
        assert sorted(seen["ana"]) == sorted(seen["ben"]) == sorted(items)

        with auth_server.store(name) as store:
            judgments = {(j.item_id, j.reviewer): j for j in store.studies.judgments(study.id)}
        assert len(judgments) == 2 * ITEMS
        for (item, reviewer), j in judgments.items():
            # The side shown is the reviewer's own, fixed by (seed, item, reviewer).
            assert j.left_slot == left_slot(0, item, reviewer)
            assert j.duration_s is not None and j.duration_s > 0
        assert all(judgments[(i, "ana")].choice == judgments[(i, "ana")].left_slot for i in items)
        ben_right = [judgments[(i, "ben")] for i in seen["ben"][::2]]
        assert all(j.choice != j.left_slot and j.choice != "tie" for j in ben_right)
        assert [judgments[(i, "ben")].reason for i in seen["ben"]] == [f"why {n}" for n in range(ITEMS)]
        assert {j.left_slot for j in judgments.values()} == {"a", "b"}  # sides randomised
        assert any(judgments[(i, "ana")].left_slot != judgments[(i, "ben")].left_slot
                   for i in items)

        # Only the owner sees the figures (they name the sources).
        for page in pages:
            page.get_by_text("Owner: set up, reassign, agreement").click()
            page.locator("#persd-study-agreement-button").click()
        expect(pages[0].locator("[data-testid=study-agreement]")).to_contain_text("Cohen's κ ana / ben")
        expect(pages[1].locator("#persd-study-owner-message")).to_contain_text(
            "only the study's owner (ana)")
        pages[0].get_by_text("Owner: report and export").click()
        pages[0].locator("#persd-study-report-button").click()
        expect(pages[0].locator("#persd-study-export a").first).to_have_attribute(
            "href", re.compile(r"blind-judgments\.csv$"))
        _screenshots(pages[0])
    finally:
        for context in contexts:
            context.close()


def _screenshots(page: Page) -> None:
    folder = os.environ.get("PERSD_STUDY_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for width, height in ((1400, 900), (1920, 1080)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(Path(folder) / f"study-owner-{width}.png"), full_page=True)
