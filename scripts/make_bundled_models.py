"""Turn finished training runs into the bundled models and the recorded Figure 6 run.

    python scripts/make_bundled_models.py --model RUN_DIR/resnet20=resnet20-fashion-mnist \\
        --figure6 FIG6_RUN_DIR [--model FIG6_RUN_DIR/plain20=plain20-fashion-mnist ...]

For each ``--model RUN_MODEL_DIR=ID`` it copies ``model.safetensors`` to ``assets/models/ID.safetensors``
with an extended model card (embedded, and as ``ID.json`` beside it) that records: arch, dataset, the
exact training command, epochs, wall time and hardware, final train and test error, and the per-class test
accuracy, all measured here on the full 10k test set (not copied from the training log).

With ``--figure6`` it copies each model's ``metrics.csv`` of a compare-mode run to
``assets/runs/figure6/<arch>/metrics.csv`` and renders ``docs/figure6.png`` with the project's own
plotting code (``resnet_explorer.core.recorded_runs.render_png``).

With ``--family ROOT`` it does both for a family trained one model at a time with one recipe
(``ROOT/<arch>/`` is the ``--out`` of ``resnet-explorer train --arch <arch>``, as scripts/train_family.sh
makes them): every finished member becomes ``assets/models/<arch>-fashion-mnist`` and its curves
``assets/runs/family/<arch>/metrics.csv``; ``assets/runs/family/config.json`` holds the shared recipe
and each member's command; ``docs/figure6.png`` is drawn from the family on the paper's 0-20% axis.
A member whose run is not finished is skipped with a line saying so.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import shutil
from pathlib import Path

import torch

from resnet_explorer.core.checkpoint import atomic_write_json, save_tensors
from resnet_explorer.core.data import load_dataset, normalize
from resnet_explorer.core.devices import cpu_name
from resnet_explorer.core.evaluation import evaluate
from resnet_explorer.core.model_file import read_model
from resnet_explorer.core.recorded_runs import load_recorded_run, render_png
from resnet_explorer.core.training_budget import BF16_AUTOCAST, FLOAT32, FULL_TRAINING_SPLIT, budget_from_run
from resnet_explorer.core.training_setup import resolve_warmup
from resnet_explorer.core.zoo import load_model

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "assets" / "models"
RUNS = ROOT / "assets" / "runs"


HARDWARE_ENV = "RESNET_EXPLORER_TRAINED_ON"  # set it when the runs trained elsewhere than here


def hardware() -> str:
    """A short description of the machine the runs trained on: $RESNET_EXPLORER_TRAINED_ON when set (a run
    resumed across sessions may have moved between machines), else this one."""
    here = f"{cpu_name()}, {os.cpu_count()} cores, CPU only, torch {torch.__version__}"
    return os.environ.get(HARDWARE_ENV) or here


@torch.inference_mode()
def per_class_accuracy(model_path: Path, dataset: str) -> tuple[dict[str, float], float, int]:
    """Top-1 accuracy of each class on the dataset's full test split, and overall."""
    loaded = load_model(str(model_path), device="cpu")
    prep = loaded.card["preprocessing"]
    bundle = load_dataset(dataset, download=False)
    c = prep["input_size"][0]
    mean = torch.tensor(prep["mean"]).view(1, c, 1, 1)
    std = torch.tensor(prep["std"]).view(1, c, 1, 1)
    preds = []
    for i in range(0, len(bundle.test.labels), 1000):
        x = normalize(bundle.test.images[i : i + 1000], mean, std)
        preds.append(loaded.model(x).argmax(1))
    pred = torch.cat(preds)
    labels = bundle.test.labels
    per_class = {}
    for k, name in enumerate(loaded.class_names):
        mask = labels == k
        per_class[name] = round(float((pred[mask] == k).float().mean()), 4)
    return per_class, float((pred == labels).float().mean()), len(labels)


def run_precision(config: dict, trained_on: str) -> str | None:
    """The arithmetic of a run whose card does not say (older runs), from its config.json, where the run is
    known to have trained on the CPU (``trained_on`` says "CPU only", or ``--device cpu``): bf16 autocast
    with ``--cpu-bf16``, else float32. None (unknown) otherwise: on CUDA, ``amp`` decides."""
    on_cpu = config.get("device") == "cpu" or "CPU only" in trained_on
    if not on_cpu:
        return None
    return BF16_AUTOCAST if config.get("cpu_bf16") else FLOAT32


def last_metrics(run_model_dir: Path) -> dict[str, str]:
    with open(run_model_dir / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return rows[-1] | {"epochs_run": str(len(rows))}


def bundle_model(run_model_dir: Path, model_id: str) -> dict:
    """Copy one trained model into assets/models with its measured card; returns the card."""
    source = run_model_dir / "model.safetensors"
    tensors, card = read_model(source)
    if card is None:
        raise SystemExit(f"{source}: no model card")
    config = json.loads((run_model_dir.parent / "config.json").read_text())
    dataset = card.get("dataset", "fashion-mnist")
    per_class, _, n = per_class_accuracy(source, dataset)
    # The headline number comes from the same code path as `resnet-explorer evaluate`, so the
    # command reproduces the card exactly.
    top1 = evaluate(str(source), dataset, device="cpu", download=False)["top1"]
    last = last_metrics(run_model_dir)
    card = {
        **card,
        "id": model_id,
        "arch": card["model"]["arch"],
        "command": training_command(config) or card.get("command"),
        "epochs": int(last["epochs_run"]),
        "wall_time_s": round(float(last["elapsed_s"]), 1),
        "hardware": hardware(),
        "final_train_error": round(float(last["train_error"]), 4),
        "final_test_error": round(1.0 - top1, 4),
        "test_top1": round(top1, 4),
        "test_n": n,
        "per_class_test_accuracy": per_class,
        "training_subset": config.get("subset"),
    }
    recipe = card["recipe"]
    precision = recipe.get("precision") or run_precision(config, hardware())  # None: unknown, left out
    if precision:
        recipe["precision"] = precision
    if "budget" not in card:  # written by newer training runs; rebuilt here for older ones
        train_images = recipe.get("subset") or FULL_TRAINING_SPLIT[dataset]
        card["budget"] = budget_from_run(recipe, dataset, train_images, card["steps_per_epoch"],
                                         resolve_warmup(recipe.get("warmup_iters"), [card["arch"]]))
    if precision:
        card["budget"].setdefault("precision", precision)
    MODELS.mkdir(parents=True, exist_ok=True)
    save_tensors(MODELS / f"{model_id}.safetensors", tensors, {"resnet_explorer": json.dumps(card)})
    atomic_write_json(MODELS / f"{model_id}.json", card)
    print(f"{model_id}: test top-1 {top1:.4f} on {n} images, train error {card['final_train_error']}")
    return card


def record_figure6(run_dir: Path) -> None:
    """Copy a compare-mode run's curves into assets/runs/figure6 and render docs/figure6.png."""
    target = RUNS / "figure6"
    if target.exists():
        shutil.rmtree(target)
    for metrics in sorted(run_dir.glob("*/metrics.csv")):
        dest = target / metrics.parent.name / "metrics.csv"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(metrics, dest)
    config = run_dir / "config.json"
    if config.is_file():
        shutil.copyfile(config, target / "config.json")
    png = render_png(load_recorded_run("figure6"), ROOT / "docs" / "figure6.png")
    print(f"recorded {target} and rendered {png}")


FAMILY_DATASET = "fashion-mnist"
# Settings that may differ between members of one family without making them "trained differently".
PER_MEMBER_KEYS = ("arch", "archs", "out", "command", "resumed_with", "resume", "overwrite", "threads",
                   "device")


def finished_members(root: Path) -> dict[str, Path]:
    """``arch -> ROOT/<arch>/<arch>`` for every member whose run reached its last epoch."""
    members = {}
    for config_path in sorted(root.glob("*/config.json")):
        config = json.loads(config_path.read_text())
        arch = config["arch"]
        model_dir = config_path.parent / arch
        has_metrics = (model_dir / "metrics.csv").is_file()
        epochs_run = int(last_metrics(model_dir)["epochs_run"]) if has_metrics else 0
        if epochs_run < int(config["epochs"]) or not (model_dir / "model.safetensors").is_file():
            print(f"{arch}: not finished ({epochs_run}/{config['epochs']} epochs), skipped")
            continue
        members[arch] = model_dir
    return members


def shared_recipe(members: dict[str, Path]) -> dict:
    """The one recipe every member was trained with (refuses a family trained differently)."""
    recipes = {}
    for arch, model_dir in members.items():
        config = json.loads((model_dir.parent / "config.json").read_text())
        recipe = {k: v for k, v in config.items() if k not in PER_MEMBER_KEYS}
        # Zero-initialised branches belong to the ResNets' recipe: a plain net has no branch to start at zero.
        zero = recipe.pop("zero_init_residual", False)
        if arch.startswith("resnet"):
            recipe["zero_init_residual (ResNets)"] = zero
        recipes[arch] = recipe
    shared: dict = {}
    for arch, recipe in recipes.items():
        differing = sorted(k for k, v in recipe.items() if k in shared and shared[k] != v)
        missing = sorted(k for k in shared.keys() ^ recipe.keys() if "(ResNets)" not in k) if shared else []
        if differing or missing:
            named = ", ".join(differing + missing)
            raise SystemExit(f"{arch} was not trained like the others: {named} differ")
        shared.update(recipe)
    return shared


def record_family(root: Path) -> None:
    """Bundle every finished member of the family under ``root`` and record its curves."""
    members = finished_members(root)
    if not members:
        raise SystemExit(f"no finished member in {root}")
    recipe = shared_recipe(members)
    target = RUNS / "family"
    if target.exists():
        shutil.rmtree(target)
    commands = {}
    for arch, model_dir in members.items():
        bundle_model(model_dir, f"{arch}-{FAMILY_DATASET}")
        dest = target / arch / "metrics.csv"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(model_dir / "metrics.csv", dest)
        commands[arch] = training_command(json.loads((model_dir.parent / "config.json").read_text()))
    atomic_write_json(target / "config.json", {**recipe, "models": list(members), "commands": commands})
    png = render_png(load_recorded_run("family"), ROOT / "docs" / "figure6.png", y_max=20.0)
    print(f"recorded {target} and rendered {png}")


# The switches (store_true options) a recipe may set; a resume command does not repeat them.
RECIPE_SWITCHES = {"zero_init_residual": "--zero-init-residual", "cpu_bf16": "--cpu-bf16",
                   "nesterov": "--nesterov"}


def training_command(config: dict) -> str:
    """The command that started the member (a run continued with ``--resume`` equals one sitting).

    Runs resumed before ``resumed_with`` existed recorded the *resume* command as ``command``; its
    switches live only in the config, so they are put back and ``--resume`` is dropped.
    """
    words = shlex.split(str(config.get("command") or ""))
    if "--resume" not in words:
        return shlex.join(words)
    words = [w for w in words if w != "--resume"]
    words += [flag for key, flag in RECIPE_SWITCHES.items() if config.get(key) and flag not in words]
    return shlex.join(words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], metavar="RUN_MODEL_DIR=ID")
    parser.add_argument("--figure6", type=Path, default=None, metavar="COMPARE_RUN_DIR")
    parser.add_argument("--family", type=Path, default=None, metavar="ROOT")
    args = parser.parse_args()
    if args.family:
        record_family(args.family)
    for spec in args.model:
        path, _, model_id = spec.partition("=")
        bundle_model(Path(path), model_id)
    if args.figure6:
        record_figure6(args.figure6)


if __name__ == "__main__":
    main()
