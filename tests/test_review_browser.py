"""The console's review queue in a real browser (Debian's chromium, driven by Playwright): two
reviewers confirm a match from the keyboard, then the requester sees it released (issue 16).

The screenshot of the case page this test takes is the one docs/ACCOUNTABILITY.md shows
(`OVERSIGHT_UPDATE_SCREENSHOTS=1` writes it to docs/images/).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api_server import ApiServer, client, create_key, oversight_cli
from tests.conftest import IN_CI, shared_path

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "images" / "review-case.png"
LFW = "faces/krasserm_face-recognition/images"
# As the machine's notes advise: no background networking on a closed network, no sandbox as root.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing: `make install` installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (Debian package chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _log_in(browser: Any, server: ApiServer, key: tuple[str, str], purpose: str) -> Any:
    page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    page.goto(f"{server.url}/console/login")
    page.fill("input[name=access_key_id]", key[0])
    page.fill("input[name=secret_access_key]", key[1])
    page.fill("input[name=purpose]", purpose)
    page.click("button:has-text(\"Log in\")")
    page.wait_for_load_state()
    assert page.url.endswith("/console/"), page.content()[-1500:]
    return page


def _confirm_from_the_keyboard(page: Any, server: ApiServer, reason: str) -> None:
    page.goto(f"{server.url}/console/review")
    page.keyboard.press("Alt+n")  # the oldest case waiting
    page.wait_for_url(f"{server.url}/console/review/*")
    page.wait_for_selector("textarea[name=reason]:focus")  # the reason field has the focus
    page.keyboard.type(reason)
    page.keyboard.press("Alt+c")
    page.wait_for_url(f"{server.url}/console/review")


def test_two_reviewers_confirm_in_the_browser_then_the_match_is_released(
    api_server: ApiServer, browser: Any, tmp_path: Path
) -> None:
    account = f"{uuid.uuid4().int % 10**12:012d}"
    requester, alice, bob = (create_key(api_server, account) for _ in range(3))
    for args in ((requester[0], "--review", "2"), (alice[0], "--reviewer"),
                 (bob[0], "--reviewer")):
        assert oversight_cli(api_server, "policy", "set", *args).returncode == 0
    rek = client(api_server, *requester)
    collection = f"door-{uuid.uuid4().hex[:6]}"
    rek.create_collection(CollectionId=collection)
    face = rek.index_faces(CollectionId=collection, ExternalImageId="hugo", MaxFaces=1, Image={
        "Bytes": shared_path(f"{LFW}/Hugo_Chavez/Hugo_Chavez_0001.jpg").read_bytes()})
    face_id = face["FaceRecords"][0]["Face"]["FaceId"]
    searched = rek.search_faces_by_image(CollectionId=collection, Image={
        "Bytes": shared_path(f"{LFW}/Hugo_Chavez/Hugo_Chavez_0002.jpg").read_bytes()})
    assert searched["FaceMatches"] == []

    first = _log_in(browser, api_server, alice, "review shift 7")
    first.goto(f"{api_server.url}/console/review")
    first.keyboard.press("Alt+n")
    first.wait_for_url(f"{api_server.url}/console/review/*")
    images = first.locator("section.pair img")
    assert images.count() == 2  # the probe and the candidate, side by side
    widths = [images.nth(i).bounding_box()["width"] for i in range(2)]
    assert min(widths) >= 300, widths  # large enough to judge by eye
    assert "Similarity" in first.content() and "times" in first.content()
    shot = tmp_path / "review-case.png"
    first.screenshot(path=str(shot), full_page=True)
    if os.environ.get("OVERSIGHT_UPDATE_SCREENSHOTS"):
        shutil.copyfile(shot, SCREENSHOT)
    _confirm_from_the_keyboard(first, api_server, "Same person: eyes, nose and jaw line agree")
    assert "No case is waiting for you" in first.content()

    _confirm_from_the_keyboard(_log_in(browser, api_server, bob, "review shift 7"), api_server,
                               "Same person; hairline and ears agree too")

    mine = _log_in(browser, api_server, requester, "case 2026-31")
    mine.goto(f"{api_server.url}/console/review")
    mine.click("table >> nth=-1 >> a")
    assert "CONFIRMED" in mine.content() and face_id in mine.content()
    assert mine.locator("textarea[name=reason]").count() == 0  # the requester cannot decide
