"""Use ``sentilens studio`` as a person would, in headless Chromium, and photograph every view.

Starts the real command on a Twitter I subset, then: the first page; Blocks: rank the blocks, open
one block's pictures; Evaluate: tick a block set and evaluate it twice (the first run also
cross-validates the shipped default's set for comparison), the history and per-fold table; Train
and save; Try: two images with the trained model and the shipped one.  Each step's wall time from
click to result lands in the result JSON (commit, command, CPU, data digest); the screenshots
(1280 px wide) go to ``--shots``.

    cd benchmarks && PYTHONPATH=../src python studio_tour.py --data ../../shared/data/twitter1 --subset five
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import DATA, write_json


def start(data: Path, subset: str, out: Path) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "sentilens.cli", "studio", str(data), "--subset", subset, "--port", "0"]
    command += ["--out", str(out / "saved")]
    server = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = server.stderr.readline() if server.stderr else ""
        found = re.search(r"(http://127\.0\.0\.1:\d+/\?token=\S+)", line)
        if found:
            return server, found.group(1)
        if not line and server.poll() is not None:
            break
    server.terminate()
    raise SystemExit("the studio printed no URL")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--subset", default="five")
    parser.add_argument("--block", default="6d", help="the block whose pictures are opened")
    parser.add_argument("--sets", nargs="+", default=["6a,6d", "6b,6c,6e"], help="block sets to evaluate")
    parser.add_argument("--shots", type=Path, default=Path(tempfile.gettempdir()) / "sentilens-studio-tour")
    parser.add_argument("--tag", default="studio-tour")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from tests.browser import chromium

    args.shots.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="sentilens-tour-"))
    began = time.perf_counter()
    server, url = start(args.data, args.subset, work)
    steps: dict[str, Any] = {"url_printed_s": round(time.perf_counter() - began, 2)}
    browser = chromium(work / "profile")
    browser.set_window_size(1280, 1600)
    wait = WebDriverWait(browser, 1800, poll_frequency=0.2)

    def click(element: Any) -> None:
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
        element.click()

    def shot(name: str) -> None:
        height = browser.execute_script("return document.body.scrollHeight")
        browser.set_window_size(1280, min(max(900, height), 6000))
        browser.save_screenshot(str(args.shots / f"{name}.png"))
        browser.set_window_size(1280, 1600)

    def timed(name: str, action: Any, done: Any) -> Any:
        started = time.perf_counter()
        action()
        result = wait.until(done)
        steps[name] = round(time.perf_counter() - started, 2)
        print(f"{name}: {steps[name]} s", flush=True)
        return result

    def tab(name: str) -> None:
        click(browser.find_element(By.CSS_SELECTOR, f"nav .tab[data-tab={name}]"))

    try:
        timed(
            "first_page_s",
            lambda: browser.get(url),
            lambda b: b.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true",
        )
        shot("1-first-page")
        tab("blocks")
        timed(
            "rank_blocks_s",
            lambda: click(browser.find_element(By.ID, "rank")),
            lambda b: b.find_elements(By.ID, "ranking-table"),
        )
        shot("2-blocks-ranking")
        timed(
            f"block_{args.block}_pictures_s",
            lambda: click(browser.find_element(By.ID, f"show-{args.block}")),
            lambda b: b.find_elements(By.CSS_SELECTOR, f"#block-{args.block} img"),
        )
        loaded = (
            "return Array.from(document.querySelectorAll('#block-detail img'))"
            ".every(i => i.complete && i.naturalWidth > 0);"
        )
        wait.until(lambda b: b.execute_script(loaded))
        shot(f"3-block-{args.block}")
        for number, block_set in enumerate(args.sets, start=1):
            for box in browser.find_elements(By.CSS_SELECTOR, "input.block-select:checked"):
                click(box)
            for block in block_set.split(","):
                click(browser.find_element(By.ID, f"select-{block}"))
            timed(
                f"evaluate_{block_set}_s",
                lambda: click(browser.find_element(By.ID, "evaluate")),
                lambda b, n=number: len(b.find_elements(By.CSS_SELECTOR, "#history tbody tr.history-row")) >= n,
            )
        tab("evaluate")
        shot("4-evaluate-history")
        timed(
            "train_s",
            lambda: click(browser.find_element(By.ID, "train")),
            lambda b: b.find_elements(By.ID, "trained-note"),
        )
        tab("train")
        shot("5-train")
        tab("try")
        images = sorted((args.data / "images").iterdir())[:2]
        for which in ("trained", "shipped"):
            browser.execute_script(
                "const s = document.getElementById('try-model'); s.value = arguments[0];"
                " s.dispatchEvent(new Event('change'));",
                which,
            )
            before = len(browser.find_elements(By.CSS_SELECTOR, ".try-card"))
            timed(
                f"try_{which}_2_images_s",
                lambda: browser.find_element(By.ID, "try-files").send_keys("\n".join(str(p.resolve()) for p in images)),
                lambda b, n=before: len(b.find_elements(By.CSS_SELECTOR, ".try-card")) >= n + 2,
            )
            shot(f"6-try-{which}")
        tab("api")
        shot("7-api")
        steps["browser_problems"] = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        browser.quit()
        server.terminate()
        server.wait(20)
    record = {"subset": args.subset, "steps": steps, "screenshots": sorted(p.name for p in args.shots.glob("*.png"))}
    write_json(args.tag, record, args.data)


if __name__ == "__main__":
    main()
