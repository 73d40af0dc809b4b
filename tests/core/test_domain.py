"""A model's domain from its card, the check of an image against it, and the Fashion-MNIST conversion."""

from __future__ import annotations

import string

import numpy as np
import pytest
from PIL import Image

from resnet_explorer import build_model
from resnet_explorer.core import zoo
from resnet_explorer.core.domain import (
    FASHION_MNIST_CLASSES,
    MESSAGES,
    convert_like_fashion_mnist,
    describe_domain,
)
from resnet_explorer.core.images import BLACK, WHITE, open_image
from resnet_explorer.resources import asset

FASHION_PREP = {"input_size": [1, 28, 28], "mean": [0.286], "std": [0.353], "resize": None, "crop": None,
                "grayscale": True}
FASHION_CARD = {"dataset": "fashion-mnist", "class_names": list(FASHION_MNIST_CLASSES),
                "preprocessing": FASHION_PREP}


@pytest.fixture(scope="module")
def fashion():
    return describe_domain(FASHION_CARD)


def imagenet_card() -> dict:
    return {"dataset": "imagenet-1k", "class_names": [f"class {i}" for i in range(1000)],
            "preprocessing": zoo.Preprocessing.imagenet().to_dict()}


def dark_object_on_light(size=(160, 120), box=(20, 30, 70, 100), background=235, shade=40) -> Image.Image:
    """A dark rectangle, off-centre, on a light background: a product photo."""
    pixels = np.full((size[1], size[0]), background, dtype=np.uint8)
    left, top, right, bottom = box
    pixels[top:bottom, left:right] = shade
    return Image.fromarray(pixels, mode="L")


def ids(reasons) -> list[str]:
    return [r.id for r in reasons]


# ----- describing ---------------------------------------------------------------------------------------
def test_fashion_mnist_domain_is_described_from_its_card(fashion):
    assert fashion.describe() == "10 clothing classes, 28x28 grey, white object on black"
    assert fashion.name == "Fashion-MNIST" and fashion.convertible and fashion.background == BLACK
    assert [m.id for m in fashion.parts()] == ["classes.clothing", "input.white-on-black"]


def test_imagenet_domain_is_described_and_not_checked():
    domain = describe_domain(imagenet_card())
    assert domain.describe() == "1000 ImageNet classes (animals, objects, scenes), 224x224 colour photos"
    assert domain.background == WHITE and not domain.convertible
    assert domain.check(dark_object_on_light().convert("RGB")) == []
    with pytest.raises(ValueError):
        domain.convert(dark_object_on_light())


def test_a_torchvision_card_without_names_or_preprocessing_uses_what_the_loader_knows():
    domain = describe_domain({"dataset": "imagenet-1k"}, class_names=["x"] * 1000,
                             preprocessing=zoo.Preprocessing.imagenet().to_dict())
    assert domain.num_classes == 1000 and domain.input_size == (3, 224, 224)


def test_a_card_without_dataset_is_recognised_by_its_classes():
    domain = describe_domain({"class_names": list(FASHION_MNIST_CLASSES), "preprocessing": FASHION_PREP})
    assert domain.dataset == "fashion-mnist" and domain.convertible
    unknown = describe_domain({"class_names": ["a", "b"], "preprocessing": FASHION_PREP})
    assert unknown.describe() == "2 classes, 28x28 grey" and not unknown.convertible
    assert unknown.check(dark_object_on_light()) == []


def test_every_message_formats_with_the_fields_the_core_gives(fashion):
    for message_id, template in MESSAGES.items():
        assert all(f for _, f, _, _ in string.Formatter().parse(template) if f is not None), message_id
    reasons = fashion.check(dark_object_on_light())
    assert reasons and all(str(r) == r.text and r.to_dict()["id"] == r.id for r in reasons)


# ----- checking -----------------------------------------------------------------------------------------
def test_a_light_background_is_flagged(fashion):
    reasons = fashion.check(dark_object_on_light())
    assert ids(reasons) == ["light-background"]
    assert "Fashion-MNIST shows light objects on black" in reasons[0].text
    assert reasons[0].params["level"] == 92  # 235 / 255


def test_a_colour_photo_is_flagged(fashion):
    pixels = np.zeros((90, 120, 3), dtype=np.uint8)
    pixels[20:70, 30:90] = (230, 140, 30)  # an orange bag on black
    assert ids(fashion.check(Image.fromarray(pixels))) == ["colour"]
    grey_as_rgb = Image.fromarray(pixels).convert("L").convert("RGB")
    assert fashion.check(grey_as_rgb) == []


def test_a_grey_background_and_a_small_object_are_flagged(fashion):
    pixels = np.full((100, 100), 60, dtype=np.uint8)
    pixels[45:55, 40:60] = 250  # a small light object on a grey floor
    assert ids(fashion.check(Image.fromarray(pixels, mode="L"))) == ["grey-background", "small-object"]


def test_a_dim_picture_is_far_from_the_training_statistics(fashion):
    pixels = np.zeros((28, 28), dtype=np.uint8)
    pixels[2:26, 2:26] = 20  # an object, but hardly brighter than the background
    reasons = fashion.check(Image.fromarray(pixels, mode="L"))
    assert ids(reasons) == ["statistics"] and reasons[0].params["ref_mean"] == 29


def test_fashion_mnist_test_images_are_not_flagged(fashion):
    samples = sorted(asset("samples").glob("fmnist-*.png"))
    assert len(samples) >= 10
    for path in samples:
        assert fashion.check(open_image(path, keep_alpha=True)) == [], path.name


def test_the_odd_samples_are_flagged_except_the_transparent_one(fashion):
    folder = asset("samples")
    grey = fashion.check(open_image(folder / "odd-grey-photo-sneaker.jpg", keep_alpha=True))
    colour = fashion.check(open_image(folder / "odd-large-rgb-bag.png", keep_alpha=True))
    transparent = fashion.check(open_image(folder / "odd-rgba-trouser.png", keep_alpha=True))
    assert "grey-background" in ids(grey) and "colour" in ids(colour)
    assert transparent == []  # composited on black, it is a light trouser on black: Fashion-MNIST
    # Flattened over white, as viewers show it, the same trouser would be white on white.
    assert "light-background" in ids(fashion.check(open_image(folder / "odd-rgba-trouser.png")))


# ----- converting ---------------------------------------------------------------------------------------
def test_a_dark_object_on_light_becomes_a_light_object_on_black_trimmed_and_centred():
    out = convert_like_fashion_mnist(dark_object_on_light(box=(20, 30, 70, 100)))
    assert out.mode == "L" and out.size == (28, 28)
    pixels = np.asarray(out)
    ring = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    assert ring.max() == 0  # a black margin all round
    left, top, right, bottom = out.getbbox()
    # Trimmed: the 50x70 object's longer side fills 26 of 28 px (1 px margins); centred both ways.
    assert (top, bottom) == (1, 27)
    assert abs(left - (28 - right)) <= 1 and 16 <= right - left <= 22
    assert pixels[14, 14] > 200  # the object is light now


def test_conversion_is_close_to_identity_on_a_fashion_mnist_image():
    image = open_image(asset("samples") / "fmnist-7-sneaker-00009.png")
    out = np.asarray(convert_like_fashion_mnist(image), dtype=float)
    assert np.abs(out - np.asarray(image, dtype=float)).mean() < 25


def test_conversion_puts_transparency_on_black():
    rgba = Image.new("RGBA", (60, 80), (255, 255, 255, 0))
    rgba.paste((230, 230, 230, 255), (20, 10, 40, 70))  # a light trouser on nothing
    out = np.asarray(convert_like_fashion_mnist(rgba))
    assert out[0, 0] == 0 and out[14, 14] > 200


# ----- transparency and the model's background ----------------------------------------------------------
def transparent_square() -> Image.Image:
    return Image.new("RGBA", (40, 40), (255, 0, 0, 0))


def test_transparency_goes_on_black_for_a_fashion_mnist_model():
    loaded = zoo.wrap_model(build_model("resnet20", in_chans=1), class_names=FASHION_MNIST_CLASSES,
                            preprocessing=zoo.Preprocessing.from_dict(FASHION_PREP), device="cpu",
                            card=FASHION_CARD)
    assert loaded.preprocessing.background == BLACK and loaded.domain.background == BLACK
    assert loaded.preprocessing.display(transparent_square()).max() == 0
    assert "background" not in loaded.preprocessing.to_dict()  # not part of the card's schema


def test_transparency_goes_on_white_for_an_imagenet_model():
    loaded = zoo.wrap_model(build_model("resnet18"), device="cpu", card={"dataset": "imagenet-1k"})
    assert loaded.preprocessing.background == WHITE
    assert loaded.preprocessing.display(transparent_square()).min() == 255


def test_open_image_keeps_alpha_when_asked(tmp_path):
    transparent_square().save(tmp_path / "a.png")
    Image.new("LA", (16, 16), (0, 0)).save(tmp_path / "la.png")
    assert open_image(tmp_path / "a.png", keep_alpha=True).mode == "RGBA"
    assert open_image(tmp_path / "la.png", keep_alpha=True).mode == "LA"
    assert open_image(tmp_path / "a.png").mode == "RGB"  # the default is unchanged: over white


def test_an_mnist_model_gets_its_digits_in_a_20_pixel_box():
    domain = describe_domain({"dataset": "mnist", "class_names": [str(i) for i in range(10)],
                              "preprocessing": {**FASHION_PREP, "mean": [0.1307], "std": [0.3081]}})
    assert domain.describe() == "10 handwritten digits, 28x28 grey, white object on black"
    digit = dark_object_on_light(box=(40, 20, 80, 100))  # a dark stroke on paper
    assert [r.id for r in domain.check(digit)] == ["light-background"]
    left, top, right, bottom = domain.convert(digit).getbbox()
    assert (top, bottom) == (4, 24)
