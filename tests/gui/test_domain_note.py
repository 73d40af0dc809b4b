"""The Predict tab against the model's domain: the domain line, the note and its one-click fixes."""

from __future__ import annotations

import string

import numpy as np
import pytest
from PIL import Image

from resnet_explorer.core.domain import MESSAGES, PHOTO_MODEL
from resnet_explorer.gui import i18n
from resnet_explorer.gui.domain_text import templates
from resnet_explorer.resources import asset

WAIT = 30000  # ms; the test machine is shared


@pytest.fixture(scope="module")
def light_photo(tmp_path_factory) -> str:
    """A dark object, off-centre, on a light background: a product photo."""
    pixels = np.full((90, 120), 235, dtype=np.uint8)
    pixels[20:80, 20:50] = 40
    path = tmp_path_factory.mktemp("domain") / "product.png"
    Image.fromarray(pixels, mode="L").save(path)
    return str(path)


def analysed(qtbot, window, path: str):
    """Open ``path`` and wait for its analysis."""
    window.open_paths([path])
    explorer = window.explorer
    qtbot.waitUntil(lambda: explorer.current is not None and explorer.current.source == path
                    and explorer.analysis is not None and explorer.analysis.image_key == explorer.current.key,
                    timeout=WAIT)
    return explorer.analysis


def border(rgb: np.ndarray) -> np.ndarray:
    return np.concatenate([rgb[0].ravel(), rgb[-1].ravel(), rgb[:, 0].ravel(), rgb[:, -1].ravel()])


def test_every_core_message_has_a_translatable_template_with_the_same_fields():
    def fields(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    table = templates()
    assert set(table) == set(MESSAGES)
    for message_id, english in MESSAGES.items():
        assert fields(table[message_id]) == fields(english), message_id


def test_the_domain_is_stated_and_a_light_photo_gets_a_note(qtbot, window, light_photo):
    predict = window.predict
    assert predict.domain_label.text() == "Trained on: 10 clothing classes, 28x28 grey, white object on black"
    result = analysed(qtbot, window, light_photo)
    assert [r.id for r in result.domain_reasons] == ["light-background"]
    qtbot.waitUntil(lambda: predict.domain_note.isVisible(), timeout=WAIT)
    text = predict.domain_note.text.text()
    assert "unlike the Fashion-MNIST pictures" in text and "its background is light" in text
    assert predict.domain_note.convert_button.text() == "Convert like Fashion-MNIST"
    assert predict.domain_note.photo_button.isVisible()
    # The note sits beside the top-5 and covers none of the Grad-CAM controls.
    note = predict.domain_note.geometry()
    assert not note.intersects(predict.top_box.geometry()) and not note.intersects(predict.cam_box.geometry())


def test_one_click_converts_what_the_network_sees_and_keeps_the_original(qtbot, window, light_photo):
    before = analysed(qtbot, window, light_photo)
    assert border(before.display_image).min() > 200  # the light background, as given
    original = window.explorer.current
    preview = original.preview

    window.predict.domain_note.convert_button.click()
    qtbot.waitUntil(lambda: window.explorer.analysis.converted, timeout=WAIT)
    after = window.explorer.analysis
    assert after.display_image.shape[:2] == (28, 28)
    assert border(after.display_image).max() == 0  # a light object on black now
    assert after.display_image[14, 14].min() > 150
    assert window.predict.input_caption.text() == "What the network sees (28x28, converted)"
    assert "Converted the way Fashion-MNIST was made" in window.predict.domain_note.text.text()
    assert window.predict.domain_note.convert_button.text() == "Show the original"
    # The image strip keeps the picture as given.
    assert window.explorer.current is original and original.preview is preview
    assert window.explorer.images == [original]

    window.predict.domain_note.convert_button.click()
    qtbot.waitUntil(lambda: not window.explorer.analysis.converted, timeout=WAIT)
    assert border(window.explorer.analysis.display_image).min() > 200


def test_conversion_is_a_per_image_toggle(qtbot, window, light_photo, images):
    analysed(qtbot, window, light_photo)
    window.predict.domain_note.convert_button.click()
    qtbot.waitUntil(lambda: window.explorer.analysis.converted, timeout=WAIT)
    photo = window.explorer.current
    analysed(qtbot, window, images["shoe"])
    assert not window.explorer.analysis.converted and not window.explorer.is_converted()
    window.explorer.select_image(window.explorer.images.index(photo))
    qtbot.waitUntil(lambda: window.explorer.analysis.image_key == photo.key
                    and window.explorer.analysis.converted, timeout=WAIT)


def test_a_fashion_mnist_image_gets_no_note(qtbot, window):
    result = analysed(qtbot, window, str(asset("samples") / "fmnist-7-sneaker-00009.png"))
    assert result.domain_reasons == ()
    assert window.predict.domain_note.isHidden()


def test_the_imagenet_button_asks_for_the_imagenet_model(qtbot, window, light_photo, monkeypatch):
    asked = []
    monkeypatch.setattr(window.explorer, "load_model", asked.append)
    analysed(qtbot, window, light_photo)
    qtbot.waitUntil(lambda: window.predict.domain_note.isVisible(), timeout=WAIT)
    window.predict.domain_note.photo_button.click()
    assert asked == [PHOTO_MODEL]


def test_the_note_is_translated(qtbot, window, light_photo):
    analysed(qtbot, window, light_photo)
    qtbot.waitUntil(lambda: window.predict.domain_note.isVisible(), timeout=WAIT)
    try:
        window.menus.language_actions["ko"].trigger()
        note = window.predict.domain_note
        assert note.text.text().startswith("이 사진은")
        assert note.reason_texts() == [i18n.tr(MESSAGES["light-background"]).format(
            **window.explorer.analysis.domain_reasons[0].params)]
        assert note.convert_button.text() == "Fashion-MNIST처럼 변환"
        assert window.predict.domain_label.text().startswith("학습한 사진: 의류 클래스 10개")
    finally:
        window.menus.language_actions["en"].trigger()
    assert window.predict.domain_note.convert_button.text() == "Convert like Fashion-MNIST"
