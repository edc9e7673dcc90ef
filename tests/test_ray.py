"""sentilens on a local Ray: batch prediction into resumable shards, and the block experiments as tasks.

The tests that run Ray share one local Ray (the ``local_ray`` fixture, loopback only) and are
marked slow; the shard bookkeeping that makes results exactly-once is also tested without Ray.
"""

from __future__ import annotations

import csv
import json
import os
import signal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from sentilens.app.distributed.batch import BatchSettings, ShardGatherer, run_batch
from sentilens.app.distributed.listing import list_inputs
from sentilens.app.distributed.shards import BatchOutputError, ShardLayout, open_output
from sentilens.app.evaluate import run_block_experiment
from sentilens.app.predictions import skipped_row
from sentilens.cli import app
from sentilens.data import DataError, expand_inputs
from sentilens.runtime import RunSettings
from sentilens.training import TrainConfig

IMAGES = 11  # real Twitter I images in the test folder, beside one file that is not an image
runner = CliRunner()


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory: pytest.TempPathFactory, twitter_root: Path) -> Path:
    """Links to 11 Twitter I images in two sub-folders, and ``broken.jpg``, which does not decode."""
    folder = tmp_path_factory.mktemp("images")
    names = sorted((twitter_root / "images").iterdir())[:IMAGES]
    for number, image in enumerate(names):
        sub = folder / ("a" if number % 2 else "b")
        sub.mkdir(exist_ok=True)
        (sub / image.name).symlink_to(image)
    (folder / "a" / "broken.jpg").write_bytes(b"not an image")
    return folder


@pytest.fixture(scope="module")
def single_process_rows(image_folder: Path) -> list[dict[str, object]]:
    """What `sentilens predict FOLDER -f jsonl` writes, in one process."""
    result = runner.invoke(app, ["predict", str(image_folder), "-f", "jsonl"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def shard_rows(out: Path) -> list[dict[str, object]]:
    """Every row of the JSON-lines shards, in shard order; the Parquet shards must hold the same rows."""
    rows = [json.loads(line) for path in sorted((out / "jsonl").glob("*.jsonl")) for line in path.open()]
    parquet_rows = [
        row for path in sorted((out / "parquet").glob("*.parquet")) for row in pq.read_table(path).to_pylist()
    ]
    assert parquet_rows == rows
    return rows


def assert_same_rows(ours: list[dict[str, object]], reference: list[dict[str, object]]) -> None:
    """Same inputs in the same order, same labels and reasons; probabilities equal to 1e-5
    (the network runs in other batches and with other thread counts on Ray)."""
    assert [r["file"] for r in ours] == [r["file"] for r in reference]
    for mine, theirs in zip(ours, reference):
        assert list(mine) == list(theirs)
        for column, value in theirs.items():
            if isinstance(value, float):
                assert mine[column] == pytest.approx(value, abs=1e-5), (mine["file"], column)
            else:
                assert mine[column] == value, (mine["file"], column)


@pytest.mark.slow
def test_ray_predictions_equal_the_single_process_ones(
    local_ray, image_folder: Path, single_process_rows: list[dict[str, object]], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    command = ["predict", str(image_folder), "--ray", "-o", str(out), "--shard-size", "5", "--batch-size", "4"]
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.output
    assert f"{IMAGES + 1} images in 3 shards: 0 kept, 3 written ({IMAGES} classified, 1 skipped)" in result.output
    rows = shard_rows(out)
    assert_same_rows(rows, single_process_rows)
    (broken,) = [row for row in rows if row["status"] == "skipped"]
    assert broken["file"].endswith("broken.jpg") and "cannot decode" in broken["reason"]
    assert sorted(p.name for p in (out / "parquet").iterdir()) == [f"part-0000{k}.parquet" for k in range(3)]


#: Flags that differ from what the tests' ``auto`` runs (torch, two views, batches of 32).
NON_DEFAULT = ["--views", "1", "--runtime", "torch", "--precision", "fp32", "--batch-size", "3"]


@pytest.mark.slow
def test_ray_honours_the_flags_of_how_the_network_runs(
    local_ray, image_folder: Path, single_process_rows: list[dict[str, object]], tmp_path: Path
) -> None:
    """The same non-default flags give the single-process rows with --ray too (issue 19: --ray
    ran the model's two views whatever --views said)."""
    alone = runner.invoke(app, ["predict", str(image_folder), "-f", "jsonl", *NON_DEFAULT])
    assert alone.exit_code == 0, alone.output
    reference = [json.loads(line) for line in alone.stdout.splitlines()]
    out = tmp_path / "out"
    result = runner.invoke(app, ["predict", str(image_folder), "--ray", "-o", str(out), *NON_DEFAULT])
    assert result.exit_code == 0, result.output
    assert "runtime: torch fp32" in result.output
    assert_same_rows(shard_rows(out), reference)
    one_view = {r["file"]: r["positive_probability"] for r in reference if r["status"] == "ok"}
    two_views = {r["file"]: r["positive_probability"] for r in single_process_rows if r["status"] == "ok"}
    assert one_view.keys() == two_views.keys()
    assert all(abs(one_view[f] - two_views[f]) > 1e-5 for f in one_view), "the flags change the result"
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["views"], manifest["runtime"], manifest["precision"]) == (["centre"], "torch", "fp32")


def test_ray_refuses_the_flags_it_cannot_honour(image_folder: Path, tmp_path: Path) -> None:
    """One line, exit 2, before Ray starts or the output folder is made."""
    out = tmp_path / "out"
    ray = ["predict", str(image_folder), "--ray", "-o", str(out)]
    refusals = {
        ("--format", "jsonl"): "--ray writes Parquet and JSON-lines shards into --output; --format is for a run",
        ("--on-error", "fail"): "--ray writes an undecodable image as a row with status 'skipped'; --on-error fail",
        ("--workers", "2"): "--decode-threads (--workers) sets the decode threads of a run without Ray",
        ("--decode-threads", "0"): "--decode-threads (--workers) sets the decode threads of a run without Ray",
        ("--runtime", "torch", "--precision", "int8"): "int8 runs on the openvino runtime",
        ("--runtime", "openvino", "--compile"): "--compile is for the torch runtime",
        ("--views", "3"): "--views as a number must be 1 (centre) or 2 (centre, mirror), got 3",
    }
    for flags, message in refusals.items():
        result = runner.invoke(app, [*ray, *flags])
        assert result.exit_code == 2, (flags, result.output)
        error_lines = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert len(error_lines) == 1 and message in " ".join(result.output.split()), (flags, result.output)
        assert not out.exists(), flags


def worker_pid() -> int:
    return os.getpid()


@pytest.mark.slow
def test_local_ray_listens_on_loopback_only(local_ray) -> None:
    """Every socket that this process or the Ray processes it started listen on is a loopback one."""
    import psutil

    assert local_ray.get(local_ray.remote(worker_pid).remote()) != os.getpid()  # a worker process is up
    processes = [psutil.Process(), *psutil.Process().children(recursive=True)]
    listening = []
    for process in processes:
        try:
            connections = process.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        listening += [c.laddr.ip for c in connections if c.status == psutil.CONN_LISTEN]
    assert len(processes) > 3 and listening  # the GCS, the raylet, workers; each listens somewhere
    assert set(listening) <= {"127.0.0.1", "::ffff:127.0.0.1", "::1"}, listening


@pytest.mark.slow
def test_killing_a_worker_mid_run_still_yields_every_image_once(
    local_ray, image_folder: Path, single_process_rows: list[dict[str, object]], tmp_path: Path
) -> None:
    import psutil

    killed: list[int] = []
    written_after_kill: list[int] = []

    def kill_the_classifier(shard: int) -> None:
        if killed:
            written_after_kill.append(shard)
            return
        actors = [p for p in psutil.Process().children(recursive=True) if "ClassifyBatches" in " ".join(p.cmdline())]
        assert len(actors) == 1
        os.kill(actors[0].pid, signal.SIGKILL)
        killed.append(actors[0].pid)

    settings = BatchSettings(shard_size=2, run=RunSettings(batch_size=1))
    run = run_batch([image_folder], tmp_path / "out", settings, on_shard=kill_the_classifier)
    assert killed and written_after_kill  # the actor died with shards still to come
    assert sorted(run.written) == list(range(6)) and (run.classified, run.skipped) == (IMAGES, 1)
    assert_same_rows(shard_rows(tmp_path / "out"), single_process_rows)


class Interrupted(Exception):
    """Stands for a kill of the driver after its first shard."""


@pytest.mark.slow
def test_a_rerun_resumes_without_writing_a_shard_twice(
    local_ray, image_folder: Path, single_process_rows: list[dict[str, object]], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    settings = BatchSettings(shard_size=4, run=RunSettings(batch_size=2))

    def interrupt(shard: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        run_batch([image_folder], out, settings, on_shard=interrupt)
    (first,) = sorted((out / "parquet").iterdir())
    (first_jsonl,) = sorted((out / "jsonl").iterdir())
    before = {path: (path.stat().st_ino, path.stat().st_mtime_ns) for path in (first, first_jsonl)}

    run = run_batch([image_folder], out, settings)
    finished = int(first.stem.split("-")[1])
    assert run.kept == [finished] and sorted(run.written + run.kept) == [0, 1, 2]
    assert {path: (path.stat().st_ino, path.stat().st_mtime_ns) for path in before} == before  # left as it was
    assert len(list((out / "parquet").iterdir())) == len(list((out / "jsonl").iterdir())) == 3
    assert_same_rows(shard_rows(out), single_process_rows)  # every image exactly once, in order

    again = run_batch([image_folder], out, settings)  # nothing left to do: Ray is not even needed
    assert (again.kept, again.written) == ([0, 1, 2], [])
    with pytest.raises(BatchOutputError, match="shard_size"):
        run_batch([image_folder], out, BatchSettings(shard_size=5))


def test_listings_name_images_by_path(image_folder: Path, tmp_path: Path) -> None:
    """A CSV (path,label; relative paths from its folder) or Parquet listing names the folder's images."""
    import pyarrow as pa

    paths = expand_inputs([image_folder])
    listing = tmp_path / "listing.csv"
    with listing.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["path", "label"])
        writer.writerows([os.path.relpath(p, tmp_path), 1] for p in paths)
    parquet = tmp_path / "listing.parquet"
    pq.write_table(pa.table({"path": [str(p) for p in paths]}), parquet)
    assert [p.resolve() for p in list_inputs([listing])] == [p.resolve() for p in paths]
    assert list_inputs([parquet]) == paths
    pq.write_table(pa.table({"file": ["x.jpg"]}), parquet)
    with pytest.raises(DataError, match="no 'path' column"):
        list_inputs([parquet])


@pytest.mark.slow
def test_ablation_on_ray_equals_the_single_process_rows(local_ray, small_twitter_csv: Path, tmp_path: Path) -> None:
    config = TrainConfig(epochs=2)
    arguments = ("ablation", small_twitter_csv, "five", config)
    here = run_block_experiment(*arguments, tmp_path / "here", blocks=["6b", "7a"], folds=3)
    on_ray = run_block_experiment(*arguments, tmp_path / "ray", blocks=["6b", "7a"], folds=3, ray=True)
    assert (
        [blocks for blocks, _ in on_ray.rows] == [blocks for blocks, _ in here.rows] == [("6b", "7a"), ("6b",), ("7a",)]
    )
    for (_, ours), (_, theirs) in zip(on_ray.rows, here.rows):
        assert [f.metrics for f in ours.folds] == [f.metrics for f in theirs.folds]
        assert [f.indices_digest for f in ours.folds] == [f.indices_digest for f in theirs.folds]
    assert on_ray.table == here.table


def test_shards_are_written_once_whatever_order_and_repeats_rows_come_in(tmp_path: Path) -> None:
    layout = ShardLayout(tmp_path / "out", inputs=5, size=2)
    gatherer = ShardGatherer(layout, layout.pending(), ["main"])
    row = {i: skipped_row(f"image{i}.jpg", f"reason {i}", ["main"]) for i in range(5)}
    assert [s for s, _ in gatherer.add([(3, row[3]), (0, row[0]), (3, row[3])])] == []
    assert [s for s, _ in gatherer.add([(4, row[4]), (2, row[2])])] == [2, 1]  # in the order completed
    stamp = layout.jsonl(2).stat().st_mtime_ns
    assert [s for s, _ in gatherer.add([(4, row[4]), (1, row[1])])] == [0]  # 4 again: shard 2 is done
    assert layout.jsonl(2).stat().st_mtime_ns == stamp and gatherer.missing() == 0 and layout.pending() == []
    lines = [json.loads(line) for k in range(3) for line in layout.jsonl(k).open()]
    assert [line["file"] for line in lines] == [f"image{i}.jpg" for i in range(5)]


def test_an_output_folder_of_another_job_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    open_output(out, {"images": 5, "shard_size": 2})
    open_output(out, {"images": 5, "shard_size": 2})  # the same job: resumes
    with pytest.raises(BatchOutputError, match="different shard_size"):
        open_output(out, {"images": 5, "shard_size": 3})
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(BatchOutputError, match="not empty"):
        open_output(tmp_path / "other", {"images": 5, "shard_size": 2})


def test_ray_options_need_ray(image_folder: Path) -> None:
    result = runner.invoke(app, ["predict", str(image_folder), "--shard-size", "5"])
    assert result.exit_code == 2 and "--shard-size need --ray" in result.output
    result = runner.invoke(app, ["predict", str(image_folder), "--ray"])
    assert result.exit_code == 2 and "--output" in result.output
