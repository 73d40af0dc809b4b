"""Veit et al.'s lesion study: each deletion checked against the same network edited by hand."""

from __future__ import annotations

import copy
import math
import threading

import pytest
from torch import nn

from resnet_explorer.core.errors import UserInputError
from resnet_explorer.core.lesion import count_passes, lesion_study, plan_deletions
from resnet_explorer.core.studies import EvalSet, StudyCancelled, measure
from tests.study_helpers import one_thread, same_state, state_copy, tiny_eval_set


@pytest.fixture(scope="module", autouse=True)
def _single_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def resnet20() -> EvalSet:
    return tiny_eval_set("resnet20")


@pytest.fixture(scope="module")
def plain20() -> EvalSet:
    return tiny_eval_set("plain20")


def _with_model(target: EvalSet, model: nn.Module) -> EvalSet:
    return EvalSet(model, target.data, target.mean, target.std)


def _branch_zeroed(target: EvalSet, names: list[str]) -> EvalSet:
    """The network with the named blocks' F(x) made zero by hand: their last BN outputs 0."""
    model = copy.deepcopy(target.model)
    for name in names:
        bn = model.block(name).bn2
        nn.init.zeros_(bn.weight)
        nn.init.zeros_(bn.bias)
    return _with_model(target, model)


def test_deleting_a_residual_block_equals_zeroing_its_branch_by_hand(resnet20):
    study = lesion_study(resnet20, draws=1)
    by_name = {b.name: b for b in study.blocks}
    for name in ("layer1.1", "layer2.0", "layer3.2"):  # layer2.0: a downsampling block, option A
        by_hand = measure(_branch_zeroed(resnet20, [name]))
        assert by_name[name].loss == pytest.approx(by_hand.loss, rel=1e-5, abs=1e-6)
        assert by_name[name].error == pytest.approx(by_hand.error)
        # The check can fail: the deletion changes the network's loss.
        assert abs(by_hand.loss - study.base.loss) > 1e-3


def test_every_residual_block_is_deletable_and_only_the_shape_changing_ones_are_downsampling(resnet20):
    study = lesion_study(resnet20, draws=1)
    assert [b.name for b in study.blocks if b.downsampling] == ["layer2.0", "layer3.0"]
    assert all(b.deletable and b.error is not None for b in study.blocks)
    assert [d.k for d in study.deletions] == list(range(10))
    assert study.residual and study.notes == []


def test_deleting_a_plain_block_passes_its_input_on_and_shape_changers_are_refused(plain20):
    study = lesion_study(plain20, draws=2)
    by_name = {b.name: b for b in study.blocks}
    model = copy.deepcopy(plain20.model)
    model.layer2[1] = nn.Identity()  # its input is already a ReLU output: relu(x) == x
    by_hand = measure(_with_model(plain20, model))
    assert by_name["layer2.1"].loss == pytest.approx(by_hand.loss, rel=1e-5, abs=1e-6)
    assert abs(by_hand.loss - study.base.loss) > 1e-3
    for name in ("layer2.0", "layer3.0"):
        assert by_name[name].downsampling and not by_name[name].deletable
        assert by_name[name].error is None
    assert [d.k for d in study.deletions] == list(range(8))  # 9 blocks, 2 not deletable
    assert not study.residual and study.notes


def test_k_zero_is_the_intact_network_and_k_all_deletes_every_block_at_once(resnet20):
    intact = measure(resnet20)
    study = lesion_study(resnet20, draws=3, seed=1)
    assert study.deletions[0].errors == (intact.error,)
    assert study.base.loss == pytest.approx(intact.loss, rel=1e-6)
    everything = measure(_branch_zeroed(resnet20, [n for n, _ in resnet20.model.blocks()]))
    assert study.deletions[-1].errors == (pytest.approx(everything.error),)
    # k = 1 with 3 draws: three of the single-block results.
    singles = {b.error for b in study.blocks}
    assert len(study.deletions[1].errors) == 3 and set(study.deletions[1].errors) <= singles


def test_the_model_is_left_intact_and_progress_counts_every_distinct_set(resnet20):
    saved = state_copy(resnet20.model)
    calls = []
    lesion_study(resnet20, draws=2, progress=lambda done, total: calls.append((done, total)))
    assert not any(b.lesioned for _, b in resnet20.model.blocks())
    assert same_state(resnet20.model, saved)
    # 1 intact + 9 singles (k = 1 draws among them) + 2 sets for each k in 2..8 + all 9 blocks.
    total = 1 + 9 + 2 * 7 + 1
    assert calls == [(i, total) for i in range(1, total + 1)]
    names = [name for name, _ in resnet20.model.blocks()]
    assert count_passes(plan_deletions(names, 2, 0), names) == total  # what the bench's estimates use


def test_cancel_stops_the_study_and_restores_the_blocks(resnet20):
    cancel = threading.Event()

    def progress(done: int, _total: int) -> None:
        if done == 3:
            cancel.set()

    with pytest.raises(StudyCancelled):
        lesion_study(resnet20, draws=2, progress=progress, cancel=cancel)
    assert not any(b.lesioned for _, b in resnet20.model.blocks())


def test_plan_draws_distinct_seeded_sets_of_k_blocks():
    names = [f"b{i}" for i in range(6)]
    plan = plan_deletions(names, draws=4, seed=7)
    assert plan == plan_deletions(names, draws=4, seed=7)
    assert plan != plan_deletions(names, draws=4, seed=8)
    for k, sets in enumerate(plan):
        assert len(sets) == min(4, math.comb(6, k))
        assert len(set(sets)) == len(sets)
        assert all(len(s) == k and list(s) == sorted(s, key=names.index) for s in sets)


def test_to_dict_is_plain_json_data(resnet20):
    import json

    doc = json.loads(json.dumps(lesion_study(resnet20, draws=1).to_dict()))
    assert doc["chance_error"] == pytest.approx(0.9)
    assert doc["blocks"][3] == {**doc["blocks"][3], "name": "layer2.0", "downsampling": True}
    assert doc["deletions"][0]["k"] == 0 and doc["deletions"][0]["std"] == 0


def test_bad_options_are_one_line_user_errors(resnet20):
    with pytest.raises(UserInputError, match="--draws"):
        lesion_study(resnet20, draws=0)
    with pytest.raises(UserInputError, match="ResNet"):
        lesion_study(EvalSet(nn.Linear(2, 2), resnet20.data, resnet20.mean, resnet20.std))
