"""``sentilens inspect`` in a real browser: headless Chromium opens the report from disk, the group
pictures differ from image to image, a person's choice is simulated (tick two blocks, set a
weight, export) and ``sentilens cv`` accepts the result."""

from __future__ import annotations

import json
import time
from itertools import combinations
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from sentilens.cli import app

from .browser import chromium

pytestmark = pytest.mark.slow  # a real browser: tens of seconds to start

runner = CliRunner()
GOOGLENET_BLOCKS = ["3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]
ARTEFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
TINY = [
    "--backbone",
    "googlenet",
    "--weights",
    "none",
    "--per-class",
    "2",
    "--folds",
    "2",
    "--ascent-size",
    "24",
    "--ascent-steps",
    "8",
    "--ascent-batch",
    "256",
    "--faithfulness-steps",
    "2",
]
PER_BLOCK = 2 + 3 * 4  # the two class averages, and three pictures for each of 2 + 2 shown images


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .helpers import write_image

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("inspect")
    for label_index, label in enumerate(("negative", "positive")):
        (root / "data" / label).mkdir(parents=True)
        for i in range(6):
            write_image(root / "data" / label / f"{label}{i}.png", seed=100 * label_index + i)
    out = root / "report"
    result = runner.invoke(
        app, ["inspect", str(root / "data"), "--out", str(out), "--cache", str(root / "cache"), *TINY]
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def browser(tmp_path: Path):
    driver = chromium(tmp_path / "profile")
    yield driver
    driver.quit()


def test_report_is_self_contained(report: Path) -> None:
    page = (report / "index.html").read_text()
    assert "http://" not in page and "https://" not in page
    for block in GOOGLENET_BLOCKS:
        names = [f"{i:02d}-{kind}.png" for i in range(4) for kind in ("where", "group", "probe")]
        for name in [*names, *(f"contrast-{i}.png" for i in range(2))]:
            assert (report / "blocks" / block / name).stat().st_size > 0
            assert f"blocks/{block}/{name}" in page
    assert not (report / "blocks" / GOOGLENET_BLOCKS[0] / "contrast-2.png").exists()  # the averages are the difference
    assert not list(report.rglob("*gradcam*"))  # the probe map is drawn, Grad-CAM only scored


def test_each_block_says_how_faithful_its_maps_are(report: Path) -> None:
    page = (report / "index.html").read_text()
    assert page.count('<p class="faithfulness">Faithful to the verdict?') == len(GOOGLENET_BLOCKS)
    assert page.count('<td class="faithfulness">') == len(GOOGLENET_BLOCKS)
    for block in GOOGLENET_BLOCKS:
        section = page.split(f'id="block-{block}"')[1].split("</section>")[0]
        line = section.split('<p class="faithfulness">')[1].split("</p>")[0]
        assert "Grad-CAM 0." in line and "where 0." in line and "probe map 0." in line
        assert "random cells of the block's grid 0." in line and "centre first 0." in line


def correlation(a: Path, b: Path) -> float:
    x, y = (np.asarray(Image.open(p), dtype=np.float64).ravel() for p in (a, b))
    return float(np.corrcoef(x, y)[0, 1])


def test_tick_blocks_export_and_cross_validate(report: Path, browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.get((report / "index.html").as_uri())
    sections = [s.get_attribute("data-block") for s in browser.find_elements(By.CSS_SELECTOR, "section.block")]
    assert sections == GOOGLENET_BLOCKS
    images = browser.find_elements(By.CSS_SELECTOR, "section.block img")
    assert len(images) == PER_BLOCK * len(GOOGLENET_BLOCKS)
    loaded = "return arguments[0].complete && arguments[0].naturalWidth > 0;"
    for image in images:  # lazy images load once they have been in view
        browser.execute_script("arguments[0].scrollIntoView();", image)
        for _ in range(50):
            if browser.execute_script(loaded, image):
                break
            time.sleep(0.1)
    missing = "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);"
    assert not browser.execute_script(missing)
    for section in browser.find_elements(By.CSS_SELECTOR, "section.block"):
        block = section.get_attribute("data-block")
        shown = {
            kind: [
                Path(unquote(urlparse(i.get_attribute("src")).path))
                for i in section.find_elements(By.CSS_SELECTOR, f"img.{kind}")
            ]
            for kind in ("where", "group")
        }
        labels = [c.get_attribute("data-label") for c in section.find_elements(By.CSS_SELECTOR, "figure.card")]
        assert len(shown["group"]) == 4 and labels == ["negative", "negative", "positive", "positive"]
        rows = [r.get_attribute("data-label") for r in section.find_elements(By.CSS_SELECTOR, ".row.cards")]
        assert rows == ["negative", "positive"]  # one row per class
        where = max(correlation(a, b) for a, b in combinations(shown["where"], 2))
        assert where < 0.9, f"{block}: where-the-group-fires pictures alike ({where:.3f})"
        # Random-weight GoogLeNet after 8 ascent steps draws its deep blocks nearly alike for any
        # direction (0.99 at 5b), so this only says that each image gets a picture of its own; the
        # bound on real weights (ImageNet inception_v3: < 0.5) is in test_neuron_groups.
        group = max(correlation(a, b) for a, b in combinations(shown["group"], 2))
        assert group < 0.9999, f"{block}: the same group picture for two images ({group:.5f})"

    suggested = json.loads((report / "ranking.json").read_text())["suggested"]
    assert [
        b.get_attribute("data-block") for b in browser.find_elements(By.CSS_SELECTOR, "input.block-select:checked")
    ] == suggested

    def click(element) -> None:
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
        element.click()

    def export() -> tuple[str, str]:
        click(browser.find_element(By.ID, "export"))
        return browser.find_element(By.ID, "config").text, browser.find_element(By.ID, "export-error").text

    for box in browser.find_elements(By.CSS_SELECTOR, "input.block-select:checked"):
        click(box)
    config_text, error = export()
    assert config_text == "" and "no blocks selected" in error

    click(browser.find_element(By.ID, "select-4a"))
    click(browser.find_element(By.ID, "select-4d"))
    weight = browser.find_element(By.ID, "weight-4d")
    click(weight)
    weight.clear()
    weight.send_keys("1.5")
    config_text, error = export()
    assert config_text == "" and "weight of 4d must lie in [0, 1]" in error

    weight.clear()
    weight.send_keys("0.3")
    config_text, error = export()
    assert error == ""
    config = json.loads(config_text)
    assert config == {"backbone": "googlenet", "weights": "none", "blocks": ["4a", "4d"], "aux_weights": [0.1, 0.3]}
    assert browser.find_element(By.ID, "download").get_attribute("href").startswith("blob:")

    ARTEFACTS.mkdir(exist_ok=True)
    browser.execute_script("window.scrollTo(0, 0);")
    assert browser.save_screenshot(str(ARTEFACTS / "inspect.png"))
    problems = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert problems == []

    config_file = tmp_path / "sentilens-config.json"
    config_file.write_text(config_text)
    out = tmp_path / "cv"
    result = runner.invoke(
        app,
        [
            "cv",
            str(report.parent / "data"),
            "--config",
            str(config_file),
            "--folds",
            "2",
            "--epochs",
            "1",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    folds = json.loads((out / "folds.json").read_text())
    (run,) = next(iter(folds.values()))
    assert run["config"]["blocks"] == ["4a", "4d"] and run["config"]["aux_weights"] == [0.1, 0.3]
    assert len(run["folds"]) == 2
