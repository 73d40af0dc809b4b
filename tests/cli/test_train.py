"""``resnet-explorer train`` and ``evaluate`` on the command line, including a SIGKILL and a resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from resnet_explorer.cli import main
from resnet_explorer.core.model_file import read_model
from resnet_explorer.core.training_state import read_metrics_csv

# One thread: the tests' CPU is shared, and oversubscribed OpenMP threads crawl.
TINY = ["--dataset", "synthetic", "--image-size", "8", "--subset", "128", "--batch-size", "32",
        "--threads", "1"]


def train_json(capsys, *args: str) -> tuple[int, dict, str]:
    code = main(["train", "--arch", "resnet20", *TINY, "--json", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_train_json_is_one_document_and_evaluate_agrees_with_it(tmp_path, capsys):
    code, doc, err = train_json(capsys, "--epochs", "1", "--out", str(tmp_path / "run"))
    assert code == 0 and doc["status"] == "completed" and doc["epochs_done"] == {"resnet20": 1}
    assert "resnet20 epoch 1/1" in err  # progress on stderr, stdout is the JSON alone
    weights = doc["model_files"]["resnet20"]
    evaluate = ["evaluate", "--weights", weights, "--dataset", "synthetic", "--subset", "128"]
    assert main([*evaluate, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 128
    assert result["top1"] == pytest.approx(1 - doc["history"]["resnet20"][-1]["test_error"], abs=1e-6)
    assert main(evaluate) == 0
    assert "top-1" in capsys.readouterr().out


def test_resume_needs_only_the_run_directory(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert train_json(capsys, "--epochs", "1", "--out", out)[0] == 0
    assert main(["train", "--resume", "--out", out, "--epochs", "2", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["epochs_done"] == {"resnet20": 2}
    assert "resuming: resnet20 from epoch 1" in captured.err
    assert [r["epoch"] for r in read_metrics_csv(Path(out) / "resnet20" / "metrics.csv")] == [1, 2]


def test_a_resume_keeps_the_command_that_started_the_run_and_lists_its_own(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert train_json(capsys, "--epochs", "1", "--zero-init-residual", "--out", out)[0] == 0
    assert main(["train", "--resume", "--out", out, "--epochs", "2", "--json"]) == 0
    capsys.readouterr()
    started = f"resnet-explorer train --arch resnet20 {' '.join(TINY)} --json --epochs 1 " \
              f"--zero-init-residual --out {out}"
    resumed = f"resnet-explorer train --resume --out {out} --epochs 2 --json"
    config = json.loads((Path(out) / "config.json").read_text())
    assert (config["command"], config["resumed_with"]) == (started, [resumed])
    _, card = read_model(Path(out) / "resnet20" / "model.safetensors")
    assert (card["command"], card["resumed_with"]) == (started, [resumed])


@pytest.mark.parametrize(("args", "expected"), [
    (["train", "--dataset", "synthetic"], "--arch"),
    (["train", "--arch", "resnet20", "--dataset", "nosuchdata", "--out", "{tmp}/x"], "unknown dataset"),
    (["train", "--arch", "resnet20", *TINY, "--out", "{tmp}/file/run"], "cannot write"),
    (["train", "--resume", "--out", "{tmp}/never"], "nothing to resume"),
    (["evaluate", "--weights", "{tmp}/none.safetensors", "--dataset", "synthetic"], "no such file"),
])
def test_user_errors_are_one_line_without_traceback(tmp_path, capsys, args, expected):
    (tmp_path / "file").write_text("a file, not a directory")
    code = main([a.replace("{tmp}", str(tmp_path)) for a in args])
    err = capsys.readouterr().err
    assert code == 1 and expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_diverging_run_exits_1_naming_the_step(tmp_path, capsys):
    code = main(["train", "--arch", "resnet20", *TINY, "--epochs", "2", "--lr", "1e12", "--out",
                 str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 1 and "became" in err and "step" in err and "--lr" in err


def test_sigkill_mid_epoch_then_resume_completes(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "resnet_explorer", "train", "--arch", "resnet20", "--dataset", "synthetic",
           "--image-size", "8", "--subset", "1024", "--batch-size", "32", "--epochs", "3", "--threads", "1",
           "--out", str(out)]
    metrics = out / "resnet20" / "metrics.csv"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not metrics.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert metrics.exists(), proc.stderr.read() if proc.poll() is not None else "no checkpoint in time"
        time.sleep(0.15)  # into epoch 2: 32 steps of 10 ms or more
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert [r["epoch"] for r in read_metrics_csv(metrics)] == [1]  # killed mid-epoch 2
    resume = [sys.executable, "-m", "resnet_explorer", "train", "--resume", "--out", str(out)]
    resumed = subprocess.run(resume, capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resnet20 from epoch 1" in resumed.stderr
    assert [r["epoch"] for r in read_metrics_csv(metrics)] == [1, 2, 3]
    assert read_model(out / "resnet20" / "model.safetensors")[1]["epoch"] == 3
    assert not list((out / "resnet20").glob(".*.tmp"))
