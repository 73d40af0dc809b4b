"""Whether two models were trained alike, from their cards."""

from __future__ import annotations

from resnet_explorer.core.training_budget import budget_differences, budget_of


def card(**recipe) -> dict:
    base = {"epochs": 20, "batch_size": 128, "lr": 0.1, "schedule": "step", "milestones": [0.5, 0.75],
            "augment": "crop", "hflip": True, "seed": 0, "subset": None}
    return {"dataset": "fashion-mnist", "recipe": {**base, **recipe}}


def test_models_trained_alike_have_no_differences():
    assert budget_differences(budget_of(card()), budget_of(card())) == []


def test_each_difference_is_named_with_both_values():
    differences = budget_differences(budget_of(card()), budget_of(card(epochs=12, subset=5000)))
    assert differences == ["training images 60,000 vs 5,000", "epochs 20 vs 12"]


def test_a_setting_left_at_its_default_in_an_older_card_is_no_difference():
    assert budget_differences(budget_of(card(warmup_iters=None)), budget_of(card(warmup_iters=0))) == []


def test_a_card_without_a_recipe_is_unknown():
    assert budget_of({"dataset": "x"}) is None
    assert budget_differences(None, budget_of(card())) == ["unknown"]


def test_a_budget_written_by_training_wins_over_the_recipe():
    written = {**card(), "budget": {"dataset": "fashion-mnist", "train_images": 60000, "epochs": 20}}
    assert budget_of(written) == {"dataset": "fashion-mnist", "train_images": 60000, "epochs": 20}


def test_training_writes_its_budget_into_the_model_card(tmp_path):
    from resnet_explorer.core.engine import train
    from resnet_explorer.core.model_file import read_model
    from tests.core.test_engine import tiny

    train(tiny(tmp_path, epochs=1))
    _, written = read_model(tmp_path / "run/resnet20/model.safetensors")
    budget = budget_of(written)
    assert budget["train_images"] == 128 and budget["epochs"] == 1 and budget["steps"] == 4
    assert budget["dataset"] == "synthetic" and budget["augment"] == "crop" and budget["batch_size"] == 32
    assert budget_differences(budget, budget_of(written)) == []


def test_two_resnets_differ_in_zero_init_but_a_plain_net_never_does():
    def model_card(arch: str, zero: bool) -> dict:
        return {**card(), "arch": arch, "model": {"arch": arch, "zero_init_residual": zero}}

    zero56 = budget_of(model_card("resnet56", True))
    differences = budget_differences(zero56, budget_of(model_card("resnet20", False)))
    assert differences == ["branches started at zero yes vs no"]
    assert budget_differences(zero56, budget_of(model_card("plain56", False))) == []
    assert "zero_init_residual" not in budget_of(model_card("plain20", False))


def test_a_card_says_its_arithmetic_and_bf16_vs_float32_is_a_difference(tmp_path):
    from resnet_explorer.core.engine import train
    from resnet_explorer.core.model_file import read_model
    from tests.core.test_engine import tiny

    train(tiny(tmp_path, epochs=1))  # CPU without --cpu-bf16: float32 throughout
    _, written = read_model(tmp_path / "run/resnet20/model.safetensors")
    assert written["recipe"]["precision"] == "float32" and budget_of(written)["precision"] == "float32"
    train(tiny(tmp_path / "bf16", epochs=1, cpu_bf16=True))
    _, written = read_model(tmp_path / "bf16/run/resnet20/model.safetensors")
    assert budget_of(written)["precision"] == "bfloat16 autocast"
    bf16 = budget_of(card(precision="bfloat16 autocast"))
    assert budget_differences(bf16, budget_of(card(precision="float32"))) == [
        "precision bfloat16 autocast vs float32"]
    assert budget_differences(bf16, budget_of(card())) == []  # an older card that does not say: no evidence


def test_a_run_resumed_with_other_arithmetic_says_mixed(tmp_path, monkeypatch):
    """A run started where bf16 autocast applied (CUDA) and resumed where it does not (CPU) is neither."""
    from resnet_explorer.core.engine import EpochEvent, TrainingRun, train
    from resnet_explorer.core.model_file import read_model
    from resnet_explorer.core.run_directory import RunDirectory
    from tests.core.test_engine import tiny

    with monkeypatch.context() as patch:
        patch.setattr(RunDirectory, "precision", lambda self: "bfloat16 autocast")
        after_one_epoch = lambda e: False if isinstance(e, EpochEvent) else None  # noqa: E731
        stopped = TrainingRun(tiny(tmp_path, epochs=2)).run(after_one_epoch)
    assert stopped.status == "stopped"
    _, first = read_model(tmp_path / "run/resnet20/model.safetensors")
    assert first["recipe"]["precision"] == "bfloat16 autocast"
    train(tiny(tmp_path, epochs=2, resume=True))
    _, card = read_model(tmp_path / "run/resnet20/model.safetensors")
    assert card["recipe"]["precision"] == "mixed (bfloat16 autocast, float32)"
    assert budget_differences(budget_of(card), budget_of(first)) == [
        "precision mixed (bfloat16 autocast, float32) vs bfloat16 autocast"]
