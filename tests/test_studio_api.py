"""``sentilens studio``'s HTTP endpoints through FastAPI's TestClient: the token, the uploads'
limits, path traversal, the jobs (one at a time), and that evaluation, training and prediction give
what ``cv``, ``train`` and ``predict -f jsonl`` give."""

from __future__ import annotations

import io
import json
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from sentilens.app import StudioSession, run_cross_validation
from sentilens.cli import app as cli_app
from sentilens.explain import AscentSettings
from sentilens.studio import create_app
from sentilens.training import TrainConfig

from .helpers import write_image

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE = TrainConfig(backbone="googlenet", weights="none", epochs=2)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("studio-data")
    for label_index, label in enumerate(("negative", "positive")):
        (root / label).mkdir()
        for i in range(6):
            write_image(root / label / f"{label}{i}.png", seed=100 * label_index + i)
    return root


@pytest.fixture(scope="module")
def session(data: Path, tmp_path_factory: pytest.TempPathFactory) -> StudioSession:
    work = tmp_path_factory.mktemp("studio-work")
    return StudioSession(
        data,
        "five",
        work / "session",
        out=work / "trained",
        base=BASE,
        folds=2,
        per_class=1,
        probe_images=None,
        settings=AscentSettings(size=24, steps=4, batch_size=256),
    )


@pytest.fixture(scope="module")
def client(session: StudioSession) -> TestClient:
    return TestClient(create_app(session, TOKEN))


def finished(client: TestClient, job: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get(f"/api/jobs/{job['id']}", headers=AUTH).json()
    assert job["state"] == "done", job
    return job


def image_bytes(size: tuple[int, int] = (64, 48), seed: int = 1) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        return write_image(Path(folder) / "upload.png", seed=seed, size=size).read_bytes()


@pytest.mark.parametrize("path", ["/", "/api/session", "/static/studio.js", "/docs", "/openapi.json", "/files/x"])
def test_every_request_needs_the_token(data: Path, session: StudioSession, path: str) -> None:
    fresh = TestClient(create_app(session, TOKEN))  # no cookie from other tests
    missing = fresh.get(path)
    assert missing.status_code == 401 and "token" in missing.json()["detail"]
    assert fresh.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert fresh.get(path, params={"token": "wrong"}).status_code == 403
    upload = fresh.post("/api/predict", files=[("files", ("a.png", image_bytes(), "image/png"))])
    assert upload.status_code == 401


def test_the_token_in_the_url_sets_a_cookie_for_the_page(session: StudioSession) -> None:
    fresh = TestClient(create_app(session, TOKEN))
    page = fresh.get("/", params={"token": TOKEN})
    assert page.status_code == 200 and "sentilens studio" in page.text
    assert not re.search(r'(src|href)="(https?:)?//', page.text)  # no CDN: everything ships in the package
    assert "samesite=strict" in page.headers["set-cookie"].lower()
    script = fresh.get("/static/studio.js")  # the cookie alone now
    assert script.status_code == 200 and "api/evaluate" in script.text and "https://" not in script.text


def test_openapi_documents_the_http_api(client: TestClient) -> None:
    schema = client.get("/openapi.json", headers=AUTH).json()
    assert {"/api/predict", "/api/explain", "/api/evaluate", "/api/train"} <= set(schema["paths"])
    docs = client.get("/docs", headers=AUTH)
    assert docs.status_code == 200 and "openapi.json" in docs.text
    assert not re.search(r'(src|href)="(https?:)?//', docs.text)  # FastAPI's own page would load a CDN
    assert client.get("/redoc", headers=AUTH).status_code == 404


def test_predict_answers_as_predict_jsonl(client: TestClient, data: Path) -> None:
    image = data / "positive" / "positive0.png"
    answer = client.post(
        "/api/predict", headers=AUTH, files=[("files", ("../../holiday.png", image.read_bytes(), "image/png"))]
    )
    assert answer.status_code == 200, answer.text
    (row,) = answer.json()["predictions"]
    result = CliRunner().invoke(cli_app, ["predict", str(image), "-f", "jsonl", "--runtime", "torch"])
    assert result.exit_code == 0, result.output
    expected = json.loads(result.stdout.strip().splitlines()[-1])
    assert row["file"] == "holiday.png"  # the uploaded name without its folders, never a path
    assert {k: v for k, v in row.items() if k != "file"} == {k: v for k, v in expected.items() if k != "file"}
    assert list(row) == list(expected)


def test_explain_adds_gradcam_and_the_neuron_group(client: TestClient, data: Path) -> None:
    image = (data / "negative" / "negative1.png").read_bytes()
    answer = client.post("/api/explain", headers=AUTH, files=[("files", ("n.png", image, "image/png"))])
    assert answer.status_code == 200, answer.text
    (row,) = answer.json()["explanations"]
    assert row["status"] == "ok" and row["label"] in ("negative", "positive")
    assert {"head_main", "positive_probability", "gradcam_block"} <= set(row)
    for key in ("gradcam_png", "group_where_png", "group_picture_png"):
        assert row[key].startswith("data:image/png;base64,")
    plain = client.post(
        "/api/explain", headers=AUTH, files=[("files", ("n.png", image, "image/png"))], data={"groups": "false"}
    ).json()["explanations"][0]
    assert "group_where_png" not in plain and plain["probability"] == row["probability"]


def test_oversized_uploads_are_refused(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from sentilens.studio import server, uploads

    monkeypatch.setattr(uploads, "MAX_FILE_BYTES", 1000)
    big = image_bytes(size=(256, 256))
    assert len(big) > 1000
    answer = client.post("/api/predict", headers=AUTH, files=[("files", ("big.png", big, "image/png"))])
    assert answer.status_code == 413 and "limit" in answer.json()["detail"]
    monkeypatch.setattr(server, "MAX_REQUEST_BYTES", 100)
    answer = client.post("/api/predict", headers=AUTH, files=[("files", ("big.png", big, "image/png"))])
    assert answer.status_code == 413


@pytest.mark.parametrize("side", [8_000, 10_000])
def test_a_decompression_bomb_is_refused_before_decoding(client: TestClient, side: int) -> None:
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, format="PNG")  # 64 or 100 megapixels in a few kB
    assert len(buffer.getvalue()) < 100_000
    answer = client.post("/api/predict", headers=AUTH, files=[("files", ("bomb.png", buffer.getvalue(), "image/png"))])
    assert answer.status_code == 413 and answer.json()["file"] == "bomb.png"
    # Above our limit (50 Mpx) we say the size; above Pillow's own (89 Mpx) Pillow refuses at open.
    expected = f"{side}x{side} pixels" if side == 8_000 else "decompression bomb"
    assert expected in answer.json()["detail"]


@pytest.mark.parametrize("content", [b"not an image at all", image_bytes()[:60]])
def test_undecodable_uploads_get_a_clear_json_error(client: TestClient, content: bytes) -> None:
    for path in ("/api/predict", "/api/explain"):
        answer = client.post(path, headers=AUTH, files=[("files", ("broken.jpg", content, "image/jpeg"))])
        assert answer.status_code == 415
        body = answer.json()
        assert body["file"] == "broken.jpg" and "not a decodable image" in body["detail"]
        assert "Traceback" not in answer.text
    assert client.post("/api/predict", headers=AUTH).status_code == 422  # no files at all


def test_no_request_reads_outside_its_folders(client: TestClient, session: StudioSession, tmp_path: Path) -> None:
    secret = session.work.parent / "secret.txt"
    secret.write_text("secret")
    (session.work / "link.txt").symlink_to(secret)
    for path in (
        "/files/../secret.txt",
        "/files/%2e%2e/secret.txt",
        "/files/..%2fsecret.txt",
        "/files/link.txt",
        "/files//etc/passwd",
        "/files/%2fetc%2fpasswd",
        "/static/..%2f__init__.py",
        "/static/%2e%2e/server.py",
    ):
        answer = client.get(path, headers=AUTH)
        assert answer.status_code == 404, path
        assert "secret" not in answer.text and "import" not in answer.text
    uploads_before = set(session.work.parent.iterdir())
    client.post("/api/predict", headers=AUTH, files=[("files", ("../../escape.png", image_bytes(), "image/png"))])
    assert set(session.work.parent.iterdir()) == uploads_before
    assert not (session.work / "uploads" / "escape.png").exists()
    assert list((session.work / "uploads").iterdir()) == []  # uploads are removed after the answer


def test_bad_block_sets_are_refused_at_once(client: TestClient) -> None:
    for body in (
        {"blocks": ["9z"], "weights": [0.1]},
        {"blocks": ["4a"], "weights": [1.5]},
        {"blocks": ["4a", "4b"], "weights": [0.1]},
    ):
        answer = client.post("/api/evaluate", headers=AUTH, json=body)
        assert answer.status_code == 400, answer.text
    assert client.post("/api/blocks/..%2f..", headers=AUTH).status_code in (400, 404)
    assert client.post("/api/train", headers=AUTH, json={"blocks": "4a"}).status_code == 422


def test_evaluate_is_cv_on_the_same_folds_and_lands_in_the_history(
    client: TestClient, data: Path, tmp_path: Path
) -> None:
    job = client.post("/api/evaluate", headers=AUTH, json={"blocks": ["4a", "4d"], "weights": [0.1, 0.3]})
    assert job.status_code == 202
    answer = finished(client, job.json())["result"]
    config = TrainConfig(**{**BASE.to_dict(), "blocks": ["4a", "4d"], "aux_weights": [0.1, 0.3]})
    cv = run_cross_validation(data, "five", config, tmp_path / "cv", folds=2)
    (expected,) = next(iter(cv.results.values()))
    assert [f["accuracy"] for f in answer["row"]["folds"]] == [f.metrics["accuracy"] for f in expected.folds]
    assert answer["row"]["summary"]["f1"]["mean"] == pytest.approx(expected.summary["f1"]["mean"])
    assert answer["default"]["label"] == "shipped default"
    history = client.get("/api/history", headers=AUTH).json()["rows"]
    assert [(r["number"], r["blocks"], r["weights"]) for r in history][-1][1:] == (["4a", "4d"], [0.1, 0.3])
    csv = client.get("/api/history.csv", headers=AUTH).text.splitlines()
    assert csv[0].startswith("try,blocks,weights,accuracy,accuracy_std") and csv[-1].startswith(
        f"{history[-1]['number']},4a 4d,0.1 0.3,"
    )
    markdown = client.get("/api/history.md", headers=AUTH).text
    assert f"| {history[-1]['number']} | 4a 4d | 0.1 0.3 |" in markdown


def test_a_second_job_while_one_runs_is_refused(client: TestClient) -> None:
    release = threading.Event()
    jobs = client.app.state.jobs  # type: ignore[attr-defined]
    running = jobs.start("slow", lambda say: release.wait(30))
    try:
        answer = client.post("/api/evaluate", headers=AUTH, json={"blocks": ["4a"], "weights": [0.1]})
        assert answer.status_code == 409
        assert answer.json()["detail"]["running"]["kind"] == "slow"
        assert client.post("/api/train", headers=AUTH, json={"blocks": ["4a"], "weights": [0.1]}).status_code == 409
    finally:
        release.set()
    jobs.wait(running, 10)
    assert running.state == "done"


def test_train_writes_what_train_writes_and_try_uses_it(client: TestClient, session: StudioSession) -> None:
    from sentilens.app import load

    before = client.post(
        "/api/predict",
        headers=AUTH,
        data={"model": "trained"},
        files=[("files", ("a.png", image_bytes(), "image/png"))],
    )
    assert before.status_code == 400 and "train" in before.json()["detail"]
    result = finished(client, client.post("/api/train", headers=AUTH, json={"blocks": ["4b"], "weights": [0.2]}).json())
    files = result["result"]
    assert Path(files["checkpoint"]).parent == session.out.resolve()
    classifier = load(files["checkpoint"])
    assert classifier.blocks == ("4b",) and classifier.config.aux_weights == (0.2,)
    assert json.loads(Path(files["config"]).read_text())["blocks"] == ["4b"]
    answer = client.post(
        "/api/predict",
        headers=AUTH,
        data={"model": "trained"},
        files=[("files", ("a.png", image_bytes(), "image/png"))],
    )
    assert answer.status_code == 200 and set(answer.json()["predictions"][0]) >= {"head_main", "head_4b"}


def test_blocks_ranked_and_drawn_on_demand(client: TestClient) -> None:
    assert client.get("/api/blocks/4a", headers=AUTH).status_code == 404
    ranking = finished(client, client.post("/api/ranking", headers=AUTH).json())["result"]
    assert [entry["block"] for entry in ranking["blocks"]] and len(ranking["suggested"]) == 3
    drawn = finished(client, client.post("/api/blocks/4a", headers=AUTH).json())["result"]
    assert drawn == client.get("/api/blocks/4a", headers=AUTH).json()
    assert [card["label"] for card in drawn["cards"]] == ["negative", "positive"]
    for card in drawn["cards"]:
        for kind in ("where", "group", "probe"):
            picture = client.get(f"/files/{card[kind]}", headers=AUTH)
            assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
    assert client.get("/api/session", headers=AUTH).json()["blocks_drawn"] == ["4a"]
