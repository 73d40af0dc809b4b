"""Li et al.'s loss landscape: filter-normalised directions, exact restoration, values checked by hand."""

from __future__ import annotations

import copy
import json
import threading

import numpy as np
import pytest
import torch
from torch import nn

from resnet_explorer.core.errors import UserInputError
from resnet_explorer.core.landscape import (
    filter_normalized_direction,
    grid_coords,
    loss_landscape,
)
from resnet_explorer.core.studies import EvalSet, StudyCancelled, measure
from tests.study_helpers import one_thread, same_state, state_copy, tiny_eval_set


@pytest.fixture(scope="module", autouse=True)
def _single_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def resnet20() -> EvalSet:
    return tiny_eval_set("resnet20", n=32)


def test_direction_filters_have_the_weights_filter_norms_and_bn_and_biases_get_zeros(resnet20):
    model = resnet20.model
    d = filter_normalized_direction(model, torch.Generator().manual_seed(0))
    assert d.keys() == dict(model.named_parameters()).keys()
    weights = {f"{n}.weight" for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    assert "fc.weight" in weights and "layer3.2.conv2.weight" in weights
    for name, p in model.named_parameters():
        if name in weights:
            for i in range(p.shape[0]):  # filter by filter, computed independently of the module
                assert float(d[name][i].norm()) == pytest.approx(float(p.detach()[i].norm()), rel=1e-5)
            assert not torch.allclose(d[name], p)  # a random direction, not the weights themselves
        else:
            assert name.endswith("bias") or ".bn" in name or name.startswith("bn")
            assert not d[name].any(), name


def test_direction_is_seeded():
    model = tiny_eval_set("resnet20", n=8, steps=0).model
    a = filter_normalized_direction(model, torch.Generator().manual_seed(3))
    b = filter_normalized_direction(model, torch.Generator().manual_seed(3))
    c = filter_normalized_direction(model, torch.Generator().manual_seed(4))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["conv1.weight"], c["conv1.weight"])


def test_the_centre_is_the_trained_network_and_the_weights_come_back_exactly(resnet20):
    saved = state_copy(resnet20.model)
    result = loss_landscape(resnet20, dims=2, grid=3, span=0.5)
    assert same_state(resnet20.model, saved)  # parameters and BN running statistics, bit for bit
    intact = measure(resnet20)
    assert result.loss[1, 1] == pytest.approx(intact.loss, rel=1e-6)
    assert result.error[1, 1] == intact.error
    assert result.centre().loss == result.loss[1, 1]
    assert result.loss.shape == result.error.shape == (3, 3)
    # Away from the centre the loss differs (the weights really moved) and is higher at a trained minimum.
    assert result.loss[0, 0] > intact.loss + 1e-3 and result.loss[2, 2] > intact.loss + 1e-3


def test_a_point_on_the_line_equals_the_weights_moved_by_hand(resnet20):
    result = loss_landscape(resnet20, dims=1, grid=5, span=0.4, seed=11)
    d = filter_normalized_direction(resnet20.model, torch.Generator().manual_seed(11))
    model = copy.deepcopy(resnet20.model)
    step = float(result.coords[4])
    assert step == pytest.approx(0.4)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(step * d[name])
    by_hand = measure(EvalSet(model, resnet20.data, resnet20.mean, resnet20.std))
    assert result.loss[4] == pytest.approx(by_hand.loss, rel=1e-4)
    assert result.loss[4] != pytest.approx(result.loss[2], rel=1e-3)


def test_weights_are_restored_after_a_cancel_too(resnet20):
    saved = state_copy(resnet20.model)
    cancel = threading.Event()
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        if done == 2:
            cancel.set()

    with pytest.raises(StudyCancelled):
        loss_landscape(resnet20, dims=1, grid=7, progress=progress, cancel=cancel)
    assert calls == [(1, 7), (2, 7)]
    assert same_state(resnet20.model, saved)


def test_grid_is_symmetric_with_an_exact_zero():
    coords = grid_coords(31, 1.0)
    assert coords[15] == 0.0 and coords[0] == -1.0 and coords[-1] == 1.0
    assert np.allclose(coords, -coords[::-1])
    assert grid_coords(4, 2.0).tolist() == pytest.approx([-2, -2 / 3, 2 / 3, 2])


def test_saved_npz_and_json_carry_the_surface_and_its_settings(resnet20, tmp_path):
    result = loss_landscape(resnet20, dims=1, grid=3, span=0.2, seed=5)
    with np.load(result.save(tmp_path / "l.npz"), allow_pickle=False) as f:
        assert np.array_equal(f["loss"], result.loss) and np.array_equal(f["coords"], result.coords)
        settings = json.loads(str(f["settings"]))
    assert settings["seed"] == 5 and settings["grid"] == 3 and settings["normalisation"] == "filter"
    doc = json.loads(result.save(tmp_path / "l.json").read_text())
    assert doc["loss"] == pytest.approx(result.loss.tolist()) and doc["span"] == 0.2
    with pytest.raises(UserInputError, match=r"\.npz or \.json"):
        result.save(tmp_path / "l.txt")


def test_bad_options_are_one_line_user_errors(resnet20):
    for kwargs, option in (({"dims": 3}, "--dims"), ({"grid": 1}, "--grid"), ({"span": 0}, "--span"),
                           ({"span": float("nan")}, "--span")):
        with pytest.raises(UserInputError, match=option):
            loss_landscape(resnet20, **kwargs)
