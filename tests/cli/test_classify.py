"""``resnet-explorer classify`` and ``resnet-explorer models`` as a user runs them."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from resnet_explorer import build_model
from resnet_explorer.cli import main
from resnet_explorer.core import checkpoint, weights, zoo
from tests.core.test_weights import LocalServer, closed_port_url

CLASSES = [f"item {i}" for i in range(10)]


@pytest.fixture
def model_file(tmp_path):
    torch.manual_seed(0)
    model = build_model("resnet20", in_chans=1)
    card = {"model": model.config, "class_names": CLASSES, "dataset": "fashion-mnist",
            "preprocessing": {"input_size": [1, 28, 28], "mean": [0.286], "std": [0.353],
                              "resize": None, "crop": None, "grayscale": True}}
    return checkpoint.save_model(tmp_path / "fm.safetensors", model, card)


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    good = []
    for name in ("a.png", "b.jpg"):
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / name)
        good.append(str(tmp_path / name))
    (tmp_path / "notes.txt").write_text("not a picture\n")
    bad = [str(tmp_path / "missing.jpg"), str(tmp_path / "notes.txt")]
    return good, bad


@pytest.fixture
def no_bundled(tmp_path, monkeypatch):
    empty = tmp_path / "no-models"
    empty.mkdir()
    monkeypatch.setattr(zoo, "bundled_dir", lambda: empty)


def test_json_has_good_images_and_bad_ones_fail_with_exit_2(model_file, images, capsys):
    good, bad = images
    rc = main(["classify", good[0], bad[0], good[1], bad[1], "--weights", str(model_file),
               "--top-k", "3", "--json"])
    out, err = capsys.readouterr()
    assert rc == 2
    doc = json.loads(out)  # the whole of stdout is one JSON document
    assert [r["image"] for r in doc["results"]] == good
    assert all(len(r["top_k"]) == 3 and r["top_k"][0]["name"] in CLASSES for r in doc["results"])
    probs = [p["prob"] for p in doc["results"][0]["top_k"]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert "missing.jpg: no such file" in lines[0] and "notes.txt is not an image" in lines[1]


def test_text_output_lists_top_k_per_image(model_file, images, capsys):
    good, _ = images
    assert main(["classify", *good, "--weights", str(model_file), "--top-k", "2", "--ten-crop"]) == 0
    out, err = capsys.readouterr()
    # Noise images are colour pictures: each also gets a note saying it is unlike Fashion-MNIST's.
    lines = [line for line in out.strip().splitlines() if not line.lstrip().startswith("note:")]
    assert len(lines) == 2 * (1 + 2)  # per image: a header line and two classes
    assert out.count("note: unlike the training pictures") == 2
    assert lines[0].startswith(good[0]) and lines[1].lstrip().startswith("1. item")
    assert err == ""


def test_without_model_says_which_models_exist(no_bundled, images, capsys):
    assert main(["classify", images[0][0]]) == 1
    err = capsys.readouterr().err
    assert "resnet20-fashion-mnist is not in this installation" in err
    assert "resnet18-imagenet (44.7 MiB)" in err and "--weights PATH" in err
    assert len(err.strip().splitlines()) == 1


def _serve_as_resnet18(server: LocalServer, monkeypatch, url_for=None) -> None:
    """Point resnet18-imagenet at a random resnet18 state dict served by ``server``."""
    import io

    import torchvision

    buffer = io.BytesIO()
    torch.save(torchvision.models.resnet18().state_dict(), buffer)
    data = buffer.getvalue()
    name = f"resnet18-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    server.files[name] = data
    real = weights.torchvision_catalog()
    entry = dataclasses.replace(real["resnet18-imagenet"], url=(url_for or server.url)(name),
                                size_bytes=len(data))
    monkeypatch.setattr(weights, "torchvision_catalog", lambda: {**real, "resnet18-imagenet": entry})


def test_first_use_downloads_with_progress_on_stderr(tmp_path, monkeypatch, images, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with LocalServer() as server:
        _serve_as_resnet18(server, monkeypatch)
        rc = main(["classify", images[0][0], "--model", "resnet18-imagenet", "--json"])
    out, err = capsys.readouterr()
    assert rc == 0
    doc = json.loads(out)
    assert doc["model"] == "resnet18-imagenet" and doc["results"][0]["top_k"][0]["name"]
    assert "downloading resnet18-imagenet" in err and "100%" in err
    assert (tmp_path / "torch" / "hub" / "checkpoints").is_dir()


def test_offline_first_use_explains_how_to_proceed(tmp_path, monkeypatch, images, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with LocalServer() as server:
        _serve_as_resnet18(server, monkeypatch, url_for=closed_port_url)
    assert main(["classify", images[0][0], "--model", "resnet18-imagenet"]) == 1
    err = capsys.readouterr().err.strip()
    assert "cannot download the weights of resnet18-imagenet" in err and "--weights PATH" in err
    assert len(err.splitlines()) == 1


def test_bare_state_dict_needs_arch_when_keys_cannot_tell(tmp_path, images, capsys):
    torch.save(build_model("plain20").state_dict(), tmp_path / "plain.pth")
    assert main(["classify", images[0][0], "--weights", str(tmp_path / "plain.pth")]) == 1
    assert "--arch plain20" in capsys.readouterr().err
    argv = ["classify", images[0][0], "--weights", str(tmp_path / "plain.pth"), "--arch", "plain20"]
    assert main(argv) == 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="only meaningful without a GPU")
def test_cuda_without_gpu(model_file, images, capsys):
    assert main(["classify", images[0][0], "--weights", str(model_file), "--device", "cuda"]) == 1
    assert "no CUDA GPU" in capsys.readouterr().err


def test_models_json(no_bundled, capsys):
    assert main(["models", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    ids = {m["id"]: m for m in doc["models"]}
    assert doc["default"] == "resnet20-fashion-mnist" and ids["resnet20-fashion-mnist"]["present"] is False
    assert ids["resnet101-imagenet-v2"]["source"] == "torchvision"
    assert main(["models"]) == 0
    assert "resnet152-imagenet" in capsys.readouterr().out


def test_real_process_keeps_stdout_pure_json(model_file, images):
    good, bad = images
    proc = subprocess.run([sys.executable, "-m", "resnet_explorer", "classify", good[0], bad[1],
                           "--weights", str(model_file), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert len(json.loads(proc.stdout)["results"]) == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


@pytest.mark.timeout(60)  # a pipe used to block open() forever: a hang fails here instead
def test_a_named_pipe_is_refused_and_the_other_images_still_classified(model_file, images, tmp_path,
                                                                      capsys):
    good, _ = images
    pipe = tmp_path / "fifo.png"
    os.mkfifo(pipe)
    rc = main(["classify", str(pipe), good[0], "--weights", str(model_file), "--json"])
    out, err = capsys.readouterr()
    assert rc == 2
    assert [r["image"] for r in json.loads(out)["results"]] == [good[0]]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"{pipe}: not a regular file (a named pipe)" in lines[0]


@pytest.mark.timeout(60)
@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_evaluate_refuses_dev_zero_as_weights_at_once(capsys):
    assert main(["evaluate", "--weights", "/dev/zero", "--dataset", "fashion-mnist"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "/dev/zero: not a regular file (a character device)" in lines[0]
