"""``resnet-explorer info``: Table 1 on the terminal and as JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from resnet_explorer.cli import main


def test_info_json_resnet50_table1(capsys):
    assert main(["info", "resnet50", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["arch"] == "resnet50"
    assert doc["params"] == 25_557_032
    assert doc["macs"] / 1e9 == pytest.approx(4.089, rel=1e-4)
    stages = {s["name"]: s for s in doc["stages"]}
    assert stages["layer1"]["spec"] == "[1x1,64; 3x3,64; 1x1,256] x3"
    assert stages["layer1"]["output_size"] == [256, 56, 56]
    assert stages["layer4"]["output_size"] == [2048, 7, 7]
    assert [s["blocks"] for s in doc["stages"] if s["blocks"]] == [3, 4, 6, 3]
    assert sum(s["params"] for s in doc["stages"]) == doc["params"]


def test_info_paper_variant_and_shortcut_options(capsys):
    assert main(["info", "resnet50", "--variant", "paper", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["macs"] / 1e9 == pytest.approx(3.858, rel=1e-4)
    assert main(["info", "resnet20", "--shortcut", "b", "--num-classes", "100", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["config"]["shortcut"] == "B" and doc["params"] > 269_722


def test_info_text_table_names_the_paper_stages(capsys):
    assert main(["info", "resnet56"]) == 0
    out = capsys.readouterr().out
    for token in ("conv2_x", "conv4_x", "16x32x32", "64x8x8", "853,018"):
        assert token in out


def test_unknown_arch_is_one_line_listing_valid_ones():
    result = subprocess.run([sys.executable, "-m", "resnet_explorer", "info", "resnet19"],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "resnet18" in lines[0] and "plain56" in lines[0]
