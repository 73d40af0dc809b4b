"""``classify --cam``, ``sanity-check`` and ``evaluate --misclassified`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from resnet_explorer.cli import main
from tests.cli.test_classify import images, model_file  # noqa: F401  (fixtures)
from tests.core.test_evaluation import synthetic_model_file
from tests.study_helpers import one_thread


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def test_classify_writes_an_overlay_per_image_and_method(model_file, images, tmp_path, capsys):  # noqa: F811
    good, bad = images
    out = tmp_path / "cams"
    rc = main(["classify", good[0], bad[0], good[1], "--weights", str(model_file), "--cam", "gradcam",
               "--cam", "gradcam++", "--cam", "occlusion", "--cam-stage", "layer2.1", "--cam-out", str(out),
               "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 2 and len(doc["results"]) == 2 and len(doc["errors"]) == 1  # the bad image still fails alone
    first = doc["results"][0]["cams"]
    assert [c["method"] for c in first] == ["gradcam", "gradcam++", "occlusion"]
    assert [c["layer"] for c in first] == ["layer2.1", "layer2.1", "input"]
    assert first[0]["class"] == doc["results"][0]["top_k"][0]["index"]
    assert Path(first[1]["path"]).name == "a.gradcampp.png"
    written = sorted(p.name for p in out.iterdir())
    assert written == ["a.gradcam.png", "a.gradcampp.png", "a.occlusion.png", "b.gradcam.png",
                       "b.gradcampp.png", "b.occlusion.png"]
    with Image.open(out / "a.gradcam.png") as png:
        assert png.format == "PNG" and png.size == (224, 224)  # the 28 px input, pixels repeated 8 times
        pixels = np.asarray(png.convert("RGB"))
    assert pixels.std() > 0


def test_classify_text_names_the_files_and_same_stems_do_not_collide(model_file, images, tmp_path,  # noqa: F811
                                                                      capsys):
    good, _ = images
    other = tmp_path / "other"
    other.mkdir()
    twin = other / Path(good[0]).name
    twin.write_bytes(Path(good[0]).read_bytes())
    out = tmp_path / "cams"
    assert main(["classify", good[0], str(twin), "--weights", str(model_file), "--cam-out", str(out)]) == 0
    text = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["a-2.gradcam.png", "a.gradcam.png"]  # --cam-out alone
    assert "gradcam of item" in text and "a-2.gradcam.png" in text


@pytest.mark.parametrize(("args", "expected"), [
    (["--cam", "layercam"], "--cam needs --cam-out DIR"),
    (["--cam", "gradcam", "--cam-out", "{tmp}/o", "--cam-stage", "layer7"], "no stage 'layer7'"),
])
def test_classify_cam_mistakes_are_one_line(model_file, images, tmp_path, capsys, args, expected):  # noqa: F811
    rc = main(["classify", images[0][0], "--weights", str(model_file),
               *[a.replace("{tmp}", str(tmp_path)) for a in args]])
    err = capsys.readouterr().err
    assert rc in (1, 2) and expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_an_unknown_method_is_refused_by_the_parser(model_file, images, capsys):  # noqa: F811
    with pytest.raises(SystemExit) as stop:
        main(["classify", images[0][0], "--weights", str(model_file), "--cam", "saliency"])
    assert stop.value.code == 2 and "invalid choice: 'saliency'" in capsys.readouterr().err


def test_sanity_check_json_and_maps(model_file, images, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "steps"
    rc = main(["sanity-check", "--model", str(model_file), images[0][0], "--cam", "gradcam", "--cam",
               "layercam", "--cam-out", str(out), "--json"])
    captured = capsys.readouterr()
    assert rc == 0
    doc = json.loads(captured.out)  # stdout is the JSON alone; progress went to stderr
    assert "sanity-check:" in captured.err
    assert doc["methods"] == ["gradcam", "layercam"] and doc["image"] == images[0][0]
    assert [s["randomised"] for s in doc["steps"]] == ["nothing", "fc", "layer3", "layer2", "layer1", "stem"]
    assert doc["steps"][0]["rho"] == {"gradcam": 1.0, "layercam": 1.0}
    assert doc["randomisation"]["batchnorm"]["running_stats"].startswith("kept")
    assert set(doc["verdicts"]) == {"gradcam", "layercam"} and doc["threshold"] == 0.9
    assert len(doc["files"]) == 12 and (out / "05-stem.layercam.png").is_file()


def test_sanity_check_text(model_file, images, capsys):  # noqa: F811
    assert main(["sanity-check", "--model", str(model_file), images[0][0], "--class", "3"]) == 0
    text = capsys.readouterr().out
    assert "class 3" in text and "running statistics kept" in text
    assert "gradcam++:" in text and ("passes" in text or "FAILS" in text)
    with pytest.raises(SystemExit) as stop:
        main(["sanity-check", "--model", str(model_file), images[0][0], "--threshold", "2"])
    assert stop.value.code == 2 and "--threshold: must be a number > 0" in capsys.readouterr().err


@pytest.fixture(scope="module")
def synthetic_model(tmp_path_factory):
    return synthetic_model_file(tmp_path_factory.mktemp("model"))


def test_evaluate_json_has_the_confusion_matrix(synthetic_model, capsys):
    assert main(["evaluate", "--weights", synthetic_model, "--dataset", "synthetic", "--subset", "100",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    matrix = np.array(doc["confusion"])
    assert matrix.shape == (10, 10) and matrix.sum() == doc["n"] == 100
    assert np.trace(matrix) / 100 == pytest.approx(doc["top1"])
    assert len(doc["per_class"]) == 10 and "misclassified" not in doc


def test_evaluate_writes_the_most_confident_mistakes(synthetic_model, tmp_path, capsys):
    out = tmp_path / "wrong"
    assert main(["evaluate", "--weights", synthetic_model, "--dataset", "synthetic", "--subset", "100",
                 "--misclassified", str(out), "--top", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    mistakes = doc["misclassified"]
    assert len(mistakes) == 3 and all("image" not in m for m in mistakes)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(Path(m["path"]).name for m in mistakes)
    m = mistakes[0]
    assert Path(m["path"]).name == (f"1_index{m['index']}_true-pattern_{m['true']}_pred-pattern_"
                                    f"{m['predicted']}_conf{m['confidence']:.3f}.png")
    with Image.open(m["path"]) as png:
        assert png.size == (224, 224)  # 16 px, enlarged 14 times
    assert main(["evaluate", "--weights", synthetic_model, "--dataset", "synthetic", "--subset", "100",
                 "--misclassified", str(out), "--top", "2"]) == 0
    text = capsys.readouterr().out
    assert "pattern 0" in text and text.count("mistake: #") == 2
