"""The core's messages reworded at the GUI boundary: Korean, and the window's remedies, not the CLI's."""

from __future__ import annotations

import string

import pytest

from resnet_explorer.core.errors import UserInputError
from resnet_explorer.core.images import open_image
from resnet_explorer.gui import i18n
from resnet_explorer.gui.messages import localize, patterns
from resnet_explorer.gui.workers import error_line


def core_message(call, *args) -> str:
    with pytest.raises(UserInputError) as info:
        call(*args)
    return str(info.value)


def test_every_pattern_has_korean_and_compiles():
    assert len(patterns()) >= 15
    for entry in patterns():
        assert "ko" in entry.templates, entry.pattern.pattern
        fields = set(entry.pattern.groupindex)
        for template in entry.templates.values():
            # every placeholder is a part of the pattern, or str.format would fail for one language only
            assert {f for _, f, _, _ in string.Formatter().parse(template) if f} <= fields


def test_real_core_messages_are_translated_with_their_names_kept(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image\n")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    cases = ((text, "텍스트 파일"), (empty, "빈 파일"), (tmp_path / "gone.png", "파일이 없습니다"),
             (tmp_path, "폴더"))
    for path, korean in cases:
        message = core_message(open_image, str(path))
        assert localize(message, "en") == message  # English stays as the core wrote it
        out = localize(message, "ko")
        assert korean in out and path.name in out, (message, out)


def test_the_windows_remedy_replaces_the_clis_flag():
    message = ("cannot download the weights of resnet50-imagenet (97.8 MiB from https://download.pytorch.org/"
               "models/resnet50-11ad3fa6.pth): no connection (Name or service not known). Connect to the "
               "internet once, or fetch that file elsewhere and use --weights PATH (e.g. --weights "
               "resnet50-11ad3fa6.pth), or copy it to /root/.cache/torch/hub/checkpoints/"
               "resnet50-11ad3fa6.pth")
    english = localize(message, "en")
    assert "--weights" not in english and "File > Open weights..." in english
    korean = localize(message, "ko")
    assert "가중치 열기" in korean and "인터넷에 연결되어 있지 않습니다" in korean  # the inner reason too
    assert "resnet50-11ad3fa6.pth" in korean


def test_an_unknown_message_is_never_hidden():
    assert localize("something the catalogue does not know", "ko") == "something the catalogue does not know"


def test_the_error_formatter_localizes_in_the_interface_language():
    try:
        i18n.set_language("ko")
        assert error_line(UserInputError("x.png: permission denied")) == "x.png: 읽을 권한이 없습니다"
    finally:
        i18n.set_language("en")
    assert error_line(UserInputError("x.png: permission denied")) == "x.png: permission denied"


def test_a_stale_shipped_study_is_said_in_korean_with_its_file_names(tmp_path):
    from resnet_explorer.core.lesion import lesion_study
    from resnet_explorer.core.precomputed import read_study, weights_sha256, write_study
    from tests.gui.conftest import make_model_file
    from tests.study_helpers import tiny_eval_set

    weights = make_model_file(tmp_path / "m.safetensors", "resnet20")
    path = tmp_path / "m.lesion.json"
    study = lesion_study(tiny_eval_set("resnet20"), draws=1)
    write_study(path, "lesion", "m", weights_sha256(weights), study, "cmd", "cpu")
    make_model_file(weights, "resnet20", seed=3)  # retrained
    message = core_message(read_study, path, "lesion", "m", weights, "m.lesion.json")
    assert message.startswith("m.lesion.json was computed from another version of m.safetensors")
    assert localize(message, "ko") == ("m.lesion.json은(는) m.safetensors의 다른 버전으로 계산되었습니다 "
                                       "(그 뒤 가중치가 바뀌었습니다)")
