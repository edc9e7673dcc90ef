"""``sentilens studio`` in a real browser: the command starts the server on a free loopback port on
a few Twitter I images; headless Chromium ticks a block, evaluates it, sees the row in the history,
trains and saves, and classifies an uploaded image with the model just trained."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .browser import chromium

pytestmark = pytest.mark.slow  # a browser, a server and Inception-v3 on 16 images: about a minute

ARTEFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
PER_CLASS = 8


@pytest.fixture
def few_images(tmp_path: Path, twitter_root: Path) -> Path:
    """negative/ and positive/ with links to the first ``PER_CLASS`` five-agree images of each class."""
    chosen: dict[str, list[str]] = {"0": [], "1": []}
    for line in (twitter_root / "ground_truth" / "twitter_five_agrees.txt").read_text().split("\n"):
        if line.strip():
            name, label = line.split()
            if len(chosen[label]) < PER_CLASS:
                chosen[label].append(name)
    for label, names in chosen.items():
        folder = tmp_path / "data" / ("negative" if label == "0" else "positive")
        folder.mkdir(parents=True)
        for name in names:
            (folder / name).symlink_to(twitter_root / "images" / name)
    return tmp_path / "data"


@pytest.fixture
def studio_url(few_images: Path, tmp_path: Path):
    """The studio command running on a free loopback port; yields the URL it printed."""
    command = [sys.executable, "-m", "sentilens.cli", "studio", str(few_images), "--port", "0", "--folds", "2"]
    command += ["--out", str(tmp_path / "saved")]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    server = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        url, deadline, seen = None, time.monotonic() + 90, []
        while url is None and time.monotonic() < deadline:
            line = server.stderr.readline() if server.stderr else ""
            if not line and server.poll() is not None:
                break
            seen.append(line)
            found = re.search(r"(http://127\.0\.0\.1:\d+/\?token=\S+)", line)
            url = found.group(1) if found else None
        assert url, "the studio printed no URL:\n" + "".join(seen)
        yield url
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def browser(tmp_path: Path):
    driver = chromium(tmp_path / "profile")
    yield driver
    driver.quit()


def test_tick_evaluate_train_and_try(studio_url: str, browser, few_images: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 300, poll_frequency=0.2)  # generous: the suite runs on shared machines
    browser.get(studio_url)
    wait.until(lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
    assert "images" in browser.find_element(By.ID, "dataset").text

    def click(element) -> None:
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
        element.click()

    for box in browser.find_elements(By.CSS_SELECTOR, "input.block-select:checked"):
        click(box)
    click(browser.find_element(By.ID, "select-6a"))
    click(browser.find_element(By.ID, "evaluate"))
    rows = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#history tbody tr.history-row"))
    cells = [cell.text for cell in rows[0].find_elements(By.TAG_NAME, "td")]
    assert cells[:3] == ["1", "6a", "0.1"] and re.fullmatch(r"0\.\d{3} ± 0\.\d{3}", cells[3]), cells
    comparison = browser.find_element(By.ID, "comparison").text
    assert "your set: 6a" in comparison and "shipped default: 6c, 6d, 7a" in comparison and "paper" in comparison
    assert len(browser.find_elements(By.CSS_SELECTOR, "#fold-table tbody tr")) == 2
    ARTEFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTEFACTS / "studio-evaluate.png"))

    click(browser.find_element(By.ID, "train"))
    note = wait.until(lambda b: b.find_elements(By.ID, "trained-note"))
    assert "with blocks 6a" in note[0].text
    assert (tmp_path / "saved" / "sentilens-model.pt").is_file()
    assert (tmp_path / "saved" / "sentilens-config.json").is_file()

    click(browser.find_element(By.CSS_SELECTOR, "nav .tab[data-tab=try]"))
    assert browser.find_element(By.ID, "try-model").get_attribute("value") == "trained"
    image = next((few_images / "positive").iterdir())
    browser.find_element(By.ID, "try-files").send_keys(str(image.resolve()))
    card = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, ".try-card"))[0]
    assert re.match(r"(negative|positive) [01]\.\d{3}", card.find_element(By.CSS_SELECTOR, ".verdict").text)
    heads = [row.text.split()[0] for row in card.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert heads == ["main", "6a"]
    loaded = "return Array.from(arguments[0].querySelectorAll('img')).every(i => i.complete && i.naturalWidth > 0);"
    assert browser.execute_script(loaded, card)
    browser.save_screenshot(str(ARTEFACTS / "studio-try.png"))
    problems = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert problems == []
