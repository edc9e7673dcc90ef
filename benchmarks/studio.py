"""``sentilens studio`` on five agree: first page, "Evaluate" to result, and the HTTP API under load.

Starts the real command on a free loopback port and talks to it over HTTP as the page and a
program would:

* the first page: seconds from the printed URL to ``GET /`` answered;
* warm-up (the frozen features, and the shipped default's cross-validation), then "Evaluate" for
  a few block sets: seconds from ``POST /api/evaluate`` to the finished job, as the page sees it;
* ``POST /api/predict`` with one image per request: latency p50/p95 from one client, then 8
  concurrent clients x 50 requests: throughput, errors, and whether every answer equals the row
  ``sentilens predict -f jsonl`` writes for that image (every field but ``file``).

    PYTHONPATH=src python benchmarks/studio.py            # full: 8 x 50 requests
    PYTHONPATH=src python benchmarks/studio.py --quick    # 8 x 10 requests, two block sets

The features are "warm" when the feature store (``~/.cache/sentilens``) already holds five
agree's; run ``sentilens cv DATA --subset five`` once before to make sure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from common import DATA, print_table, write_json

BLOCK_SETS = [(["6c", "6d", "7a"], [0.1, 0.1, 0.1]), (["6a"], [0.1]), (["5b", "6e"], [0.1, 0.3])]


def start_studio(data: Path, out: Path, warm: bool) -> tuple[subprocess.Popen[str], str, float]:
    """The studio command on a free port; returns the process, its URL and when it printed it."""
    command = [sys.executable, "-m", "sentilens.cli", "studio", str(data), "--port", "0", "--out", str(out)]
    command += [] if warm else ["--no-warm"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    server = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    assert server.stderr is not None
    for line in server.stderr:
        found = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)", line)
        if found:
            return server, line.strip().split()[-1], time.perf_counter()
    raise SystemExit("the studio printed no URL")


def finished(client: httpx.Client, job: dict[str, Any]) -> dict[str, Any]:
    while job["state"] == "running":
        time.sleep(0.05)
        job = client.get(f"/api/jobs/{job['id']}").json()
    if job["state"] != "done":
        raise SystemExit(f"job failed: {job['error']}")
    return job


def reference_rows(images: list[Path]) -> dict[str, dict[str, Any]]:
    """``sentilens predict -f jsonl``'s row per image name (the same default runtime as the studio's)."""
    result = subprocess.run(
        [sys.executable, "-m", "sentilens.cli", "predict", *map(str, images), "-f", "jsonl"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return {Path(row["file"]).name: row for row in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--quick", action="store_true", help="8 x 10 requests and two block sets")
    parser.add_argument("--api-only", action="store_true", help="only the HTTP API (no warm-up, no Evaluate)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=50, help="requests per client")
    parser.add_argument("--images", type=int, default=16, help="distinct images the requests cycle through")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "sentilens-studio-benchmark")
    args = parser.parse_args()
    requests_per_client = 10 if args.quick else args.requests
    block_sets = BLOCK_SETS[:2] if args.quick else BLOCK_SETS
    lines = (args.data / "ground_truth" / "twitter_five_agrees.txt").read_text().split()
    images = [args.data / "images" / name for name in lines[0 : 2 * args.images : 2]]

    server, url, printed = start_studio(args.data, args.out, warm=not args.api_only)
    base, token = url.split("/?token=")
    record: dict[str, Any] = {"clients": args.clients, "requests_per_client": requests_per_client, "evaluations": []}
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600) as client:
            page = client.get("/")
            record["first_page_seconds"] = time.perf_counter() - printed
            assert page.status_code == 200
            if not args.api_only:
                evaluate(client, block_sets, record)
        predict_load(base, token, images, args.clients, requests_per_client, record)
    finally:
        server.terminate()
        server.wait(30)
    report(args, record)


def evaluate(client: httpx.Client, block_sets: list[tuple[list[str], list[float]]], record: dict[str, Any]) -> None:
    """The warm-up (followed if the command's own is running), then Evaluate for each block set."""
    began = time.perf_counter()
    warm = client.post("/api/warmup")
    if warm.status_code == 409:  # the command's own warm-up is running: follow it
        warm_job = finished(client, warm.json()["detail"]["running"])
    else:
        warm_job = finished(client, warm.json())
    record["warmup_seconds"] = time.perf_counter() - began
    record["default"] = warm_job["result"] or client.get("/api/history").json()["default"]
    for blocks, weights in block_sets:
        began = time.perf_counter()
        job = finished(client, client.post("/api/evaluate", json={"blocks": blocks, "weights": weights}).json())
        seconds = time.perf_counter() - began
        row = job["result"]["row"]
        record["evaluations"].append(
            {"blocks": blocks, "weights": weights, "seconds": seconds, "cpu_seconds": row["cpu_seconds"]}
            | {"summary": row["summary"]}
        )
        print(f"evaluate {' '.join(blocks)}: {seconds:.2f} s ({row['cpu_seconds']:.1f} CPU s)", flush=True)


def predict_load(
    base: str, token: str, images: list[Path], clients: int, per_client: int, record: dict[str, Any]
) -> None:
    """``/api/predict`` latency from one client, then ``clients`` concurrent clients, each answer
    compared with ``predict -f jsonl``'s row for the same image."""

    def one(image: Path) -> tuple[float, dict[str, Any] | None, int]:
        started = time.perf_counter()
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600) as c:
            answer = c.post("/api/predict", files=[("files", (image.name, image.read_bytes(), "image/jpeg"))])
        body = answer.json()["predictions"][0] if answer.status_code == 200 else None
        return time.perf_counter() - started, body, answer.status_code

    one(images[0])  # the predictor's first call (runtime set-up) is not a request's latency
    single = [one(images[i % len(images)]) for i in range(2 * len(images))]
    latencies = sorted(s for s, _, _ in single)
    record["single_client"] = {
        "requests": len(single),
        "p50_seconds": statistics.median(latencies),
        "p95_seconds": latencies[int(0.95 * (len(latencies) - 1))],
    }
    print(f"one client: p50 {record['single_client']['p50_seconds']:.3f} s", flush=True)
    jobs = [images[i % len(images)] for i in range(clients * per_client)]
    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(one, jobs))
    wall = time.perf_counter() - began
    loaded = sorted(s for s, _, _ in answers)
    expected = reference_rows(images)
    equal = sum(
        body is not None
        and {k: v for k, v in body.items() if k != "file"}
        == {k: v for k, v in expected[image.name].items() if k != "file"}
        for image, (_, body, _) in zip(jobs, answers)
    )
    record["concurrent"] = {
        "requests": len(answers),
        "errors": sum(status != 200 for _, _, status in answers),
        "equal_to_predict": equal,
        "wall_seconds": wall,
        "images_per_second": len(answers) / wall,
        "p50_seconds": statistics.median(loaded),
        "p95_seconds": loaded[int(0.95 * (len(loaded) - 1))],
    }


def report(args: argparse.Namespace, record: dict[str, Any]) -> None:
    record["load_average_at_end"] = os.getloadavg()
    concurrent = record["concurrent"]
    rows: list[list[object]] = [["first page after the URL (s)", record["first_page_seconds"]]]
    if "warmup_seconds" in record:
        rows.append(["warm-up: features + shipped default's CV (s)", record["warmup_seconds"]])
    for evaluation in record["evaluations"]:
        rows.append([f"Evaluate {' '.join(evaluation['blocks'])} (s)", evaluation["seconds"]])
        rows.append(["  its CPU time, all threads (s)", evaluation["cpu_seconds"]])
    rows += [
        ["predict p50, one client (s)", record["single_client"]["p50_seconds"]],
        ["predict p95, one client (s)", record["single_client"]["p95_seconds"]],
        [f"{args.clients} clients: images/s", concurrent["images_per_second"]],
        [f"{args.clients} clients: p50 (s)", concurrent["p50_seconds"]],
        [f"{args.clients} clients: p95 (s)", concurrent["p95_seconds"]],
        ["errors", concurrent["errors"]],
        ["answers equal to predict's", f"{concurrent['equal_to_predict']}/{concurrent['requests']}"],
    ]
    print_table(["measure", "value"], rows)
    name = "studio" + ("-api" if args.api_only else "") + ("-quick" if args.quick else "")
    write_json(name, record, data_root=args.data)


if __name__ == "__main__":
    main()
