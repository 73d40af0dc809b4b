"""scripts/family_report.py: which bundled models count as the family; how the statements are judged."""

from __future__ import annotations

from pathlib import Path

import pytest

from .scripts_helper import ROOT, load_script


def test_members_trained_differently_from_resnet20_are_left_out_and_named(capsys, tmp_path, monkeypatch):
    import json

    report = load_script("family_report")
    recipe = {"epochs": 20, "batch_size": 128, "lr": 0.1, "schedule": "step", "seed": 0, "subset": None}
    cards = {"resnet20": recipe, "plain20": recipe, "resnet56": recipe, "resnet110": recipe,
             "plain56": {**recipe, "subset": 5000, "epochs": 12}}
    for arch, r in cards.items():
        (tmp_path / f"{arch}-fashion-mnist.json").write_text(json.dumps({"dataset": "fashion-mnist",
                                                                         "recipe": r}))
    monkeypatch.setattr(report, "MODELS", tmp_path)
    archs = report.bundled_alike()
    assert archs == ["plain20", "resnet20", "resnet56", "resnet110"]  # plain nets first, then by depth
    assert ("plain56 left out: trained differently, training images 60,000 vs 5,000; epochs 20 vs 12"
            in capsys.readouterr().err)


def test_each_statement_is_judged_on_the_numbers_both_ways():
    report = load_script("family_report")

    def member(arch: str, train: float, test: float, std: float):
        return report.Member(arch, int(arch.removeprefix("resnet").removeprefix("plain")),
                             arch.startswith("resnet"), 0, train, test, std)

    rows = [member("plain20", 6.6, 6.9, 0.75), member("plain56", 9.0, 9.5, 1.5),
            member("resnet20", 5.9, 6.6, 0.68), member("resnet56", 5.5, 6.4, 0.70)]
    lines = report.statements(rows)
    assert "- plain56 ends with higher training error than plain20: holds (9.00% vs 6.60%)" in lines
    assert "- resnet56 <= resnet20 in final training error: holds (5.50% vs 5.90%)" in lines
    assert any(line.startswith("- Fig. 7: deeper ResNets respond less: does NOT hold") for line in lines)
    assert "- Fig. 7: resnet56 responds less than plain56: holds (0.700 vs 1.500)" in lines
    assert "- resnet20 reaches 93.5% test accuracy: does NOT hold (93.40%)" in lines


def test_training_claims_also_quote_the_un_augmented_errors_and_json_has_null_for_unmeasured():
    import json
    import math
    from dataclasses import asdict

    report = load_script("family_report")
    deep = report.Member("resnet110", 110, True, 0, 6.09, 6.7, 0.45, clean_train_error=5.18)
    shallow = report.Member("resnet56", 56, True, 0, 5.97, 6.5, 0.49, clean_train_error=5.16)
    assert ("- resnet110 <= resnet56 in final training error: does NOT hold (6.09% vs 5.97%; without "
            "augmentation 5.18% vs 5.16%)") in report.statements([shallow, deep])
    unmeasured = report.Member("resnet20", 20, True, 0, 6.6, 7.2, 0.6)
    assert math.isnan(unmeasured.clean_train_error)
    assert json.loads(report.dumps(asdict(unmeasured)))["clean_train_error"] is None
    assert "| resnet20 | 0 | 6.60 | - | 7.20 |" in report.table([unmeasured])


FAMILY_RUN = ROOT / "assets" / "runs" / "family"
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")


@pytest.mark.dataset
@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_file(),
                    reason="needs Debian's dataset-fashion-mnist (apt install dataset-fashion-mnist)")
def test_fig7_deeper_resnets_respond_less_and_less_than_plain_nets_on_the_bundled_family():
    """He et al., Fig. 7 on the shipped family (500 test images): the std of every BN output in the
    residual stages, averaged, falls with depth for ResNets and lies below the plain net of each depth."""
    assert FAMILY_RUN.is_dir()  # shipped: without it the report would fall back to whatever is bundled
    rows = {m.arch: m.response_std for m in load_script("family_report").members(500)}
    resnets = sorted((a for a in rows if a.startswith("resnet")), key=lambda a: int(a.removeprefix("resnet")))
    assert len(resnets) >= 3, rows  # resnet20, 56 and 110 at least
    stds = [rows[a] for a in resnets]
    assert stds == sorted(stds, reverse=True), dict(zip(resnets, stds, strict=True))
    for arch in resnets:
        plain = arch.replace("resnet", "plain")
        if plain in rows:
            assert rows[arch] < rows[plain], (arch, rows[arch], plain, rows[plain])
