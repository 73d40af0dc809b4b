"""English and Korean interfaces: translation files, switching without restart."""

from __future__ import annotations

import json

import pytest

from resnet_explorer.gui import i18n


def test_translation_files_merge_every_part(tmp_path):
    (tmp_path / "ko.json").write_text(json.dumps({"Predict": "예측", "Train": "old"}), encoding="utf-8")
    (tmp_path / "ko_train.json").write_text(json.dumps({"Train": "학습", "Epoch": "에폭"}), encoding="utf-8")
    (tmp_path / "ko_broken.json").write_text("{not json", encoding="utf-8")
    table = i18n.load_table("ko", tmp_path)
    assert table == {"Predict": "예측", "Train": "학습", "Epoch": "에폭"}


def _tr_literals() -> set[str]:
    """Every string literal passed to tr() in the window's modules (the Train tab has its own file)."""
    import ast
    from pathlib import Path

    import resnet_explorer.gui as gui

    found = set()
    for path in Path(gui.__file__).parent.rglob("*.py"):
        if path.name.startswith("train_"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "tr" and node.args
                    and isinstance(node.args[0], ast.Constant)):
                found.add(node.args[0].value)
    return found


def test_every_interface_string_has_a_korean_translation():
    from resnet_explorer.gui.views.architecture import COLUMNS
    from resnet_explorer.gui.views.help import SECTIONS

    table = i18n.load_table("ko")
    wanted = _tr_literals() | {s for pair in SECTIONS for s in pair} | set(COLUMNS)
    assert len(wanted) > 100
    missing = sorted(s for s in wanted if s not in table)
    assert not missing
    # Placeholders survive translation, or str.format would fail in Korean only.
    import string

    for source in wanted:
        fields = {f for _, f, _, _ in string.Formatter().parse(source) if f}
        assert fields == {f for _, f, _, _ in string.Formatter().parse(table[source]) if f}, source


def test_switch_to_korean_and_back_without_restart(qtbot, window, images):
    window.open_paths([images["shoe"]])
    qtbot.waitUntil(lambda: len(window.predict.bars.rows()) == 5, timeout=30000)
    english_top5 = [name for _, name, _ in window.predict.bars.rows()]
    tab_texts = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert tab_texts[:5] == ["Predict", "Feature maps", "Residuals", "Lesion study", "Architecture"]

    window.menus.language_actions["ko"].trigger()
    assert i18n.current_language() == "ko"
    assert window.tabs.tabText(0) == "예측"
    assert window.tabs.tabText(3) == "블록 삭제 실험"
    assert window.tabs.tabText(4) == "구조"
    assert window.lesion_study.compute.text() == "계산"
    assert window.predict.top_box.title() == "상위 5개 예측"
    assert window.menus.file_menu.title() == "파일(&F)"
    assert window.status.device_label.text().startswith("장치:")
    assert "잔차" in window.help.text.toPlainText()
    assert window.residuals.lesion.restore.text() == "모든 블록 다시 켜기"
    assert window.menus.language_actions["ko"].isChecked()
    # The Fashion-MNIST classes are named in Korean too (the bundled model's top-5).
    korean = [name for _, name, _ in window.predict.bars.rows()]
    assert korean == [i18n.tr(name) for name in english_top5]
    assert not set(korean) & set(english_top5) and all(name.strip() for name in korean)
    # So are the samples, in the gallery and the Samples menu alike.
    gallery = window.predict.empty.samples
    qtbot.waitUntil(lambda: gallery.count() > 0, timeout=30000)
    captions = [gallery.item(row).text() for row in range(gallery.count())]
    assert "운동화: 회색 사진" in captions and "T-shirt/top" not in captions
    assert [action.text() for action in window.menus.samples_menu.actions()] == captions

    window.menus.language_actions["en"].trigger()
    assert [name for _, name, _ in window.predict.bars.rows()] == english_top5
    assert window.tabs.tabText(0) == "Predict"
    assert window.predict.top_box.title() == "Top-5 predictions"
    assert "residual learning" in window.help.text.toPlainText()
    assert window.status.device_label.text().startswith("Device:")
    assert "Sneaker: grey photo" in [gallery.item(row).text() for row in range(gallery.count())]


def test_system_locale_chooses_the_language(monkeypatch):
    from PySide6.QtCore import QLocale

    monkeypatch.setattr(QLocale, "system", staticmethod(lambda: QLocale("ko_KR")))
    assert i18n.system_language() == "ko"
    monkeypatch.setattr(QLocale, "system", staticmethod(lambda: QLocale("de_DE")))
    assert i18n.system_language() == "en"


def test_korean_without_a_hangul_font_says_so_in_english(qtbot, window, monkeypatch):
    """No installed font with Hangul: every Korean label would be a box, so the banner says it in English."""
    from PySide6.QtGui import QFontDatabase

    real = QFontDatabase.families
    if not real(QFontDatabase.WritingSystem.Latin):
        pytest.skip("no fonts at all on this machine")

    class NoHangul:
        WritingSystem = QFontDatabase.WritingSystem

        @staticmethod
        def families(system=QFontDatabase.WritingSystem.Any):
            return [] if system == QFontDatabase.WritingSystem.Korean else real(system)

    monkeypatch.setattr(i18n, "QFontDatabase", NoHangul)
    assert i18n.font_missing("en") == ""
    window.set_language("ko")
    assert "fonts-noto-cjk" in window.banner.text() and "Korean" in window.banner.text()
    window.set_language("en")
