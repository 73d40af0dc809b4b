"""scripts/make_bundled_models.py: the training command a bundled model's card names."""

from __future__ import annotations

from .scripts_helper import load_script

STARTED = "resnet-explorer train --arch resnet56 --dataset fashion-mnist --epochs 20 --threads 1 " \
          "--out /runs/family/resnet56"


def test_a_run_resumed_by_an_older_version_gets_its_starting_command_back():
    """Before ``resumed_with`` a resume overwrote ``command``; the switches live on in the config."""
    script = load_script("make_bundled_models")
    config = {"command": f"{STARTED} --resume", "zero_init_residual": True, "cpu_bf16": True,
              "nesterov": False}
    assert script.training_command(config) == f"{STARTED} --zero-init-residual --cpu-bf16"


def test_a_started_command_is_kept_as_it_was():
    script = load_script("make_bundled_models")
    started = f"{STARTED} --cpu-bf16 --zero-init-residual"
    config = {"command": started, "resumed_with": [f"{STARTED} --resume"], "zero_init_residual": True,
              "cpu_bf16": True}
    assert script.training_command(config) == started
    assert script.training_command({"command": None}) == ""
