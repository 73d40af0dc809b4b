"""The model zoo: ids, bundled and torchvision models, checkpoint paths, preprocessing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from resnet_explorer import build_model, list_models, load_model
from resnet_explorer.core import checkpoint, devices, weights, zoo
from resnet_explorer.core.errors import UserInputError

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    """An empty assets/models, whatever the checkout ships."""
    directory = tmp_path / "models"
    directory.mkdir()
    monkeypatch.setattr(zoo, "bundled_dir", lambda: directory)
    return directory


def fashion_card(model) -> dict:
    return {"model": model.config, "class_names": FASHION, "dataset": "fashion-mnist",
            "preprocessing": {"input_size": [1, 28, 28], "mean": [0.286], "std": [0.353],
                              "resize": None, "crop": None, "grayscale": True},
            "metrics": {"test_top1": 0.9312}}


def photo(size=(64, 48), seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def test_catalogue_lists_bundled_then_torchvision(models_dir):
    entries = list_models()
    ids = [e.id for e in entries]
    assert ids[0] == zoo.DEFAULT_MODEL == "resnet20-fashion-mnist"
    assert set(zoo.BUNDLED_IDS) <= set(ids)
    assert {"resnet18-imagenet", "resnet152-imagenet", "resnet50-imagenet-v2"} <= set(ids)
    bundled = [e for e in entries if e.source == "bundled"]
    assert bundled and not any(e.present for e in bundled)
    r50 = next(e for e in entries if e.id == "resnet50-imagenet")
    assert r50.source == "torchvision" and r50.size_bytes > 90 * 2**20 and "76.13" in r50.description


def test_missing_bundled_model_says_what_is_available(models_dir):
    with pytest.raises(UserInputError) as err:
        load_model("resnet20-fashion-mnist")
    message = str(err.value)
    assert "not in this installation" in message and "--weights PATH" in message
    assert "resnet18-imagenet (44.7 MiB)" in message and "\n" not in message


def test_bundled_model_loads_with_its_card(models_dir):
    model = build_model("resnet20", in_chans=1)
    card = fashion_card(model)
    checkpoint.save_model(models_dir / "resnet20-fashion-mnist.safetensors", model, card)
    checkpoint.atomic_write_json(models_dir / "resnet20-fashion-mnist.json", card)
    entry = next(e for e in list_models() if e.id == "resnet20-fashion-mnist")
    assert entry.present and entry.size_bytes > 1_000_000 and "93.12%" in entry.description
    loaded = load_model("resnet20-fashion-mnist", device="cpu")
    assert loaded.model_id == "resnet20-fashion-mnist" and loaded.arch == "resnet20"
    assert loaded.class_names == FASHION
    assert loaded.num_params == 269_722 - 16 * 9 * 2  # conv1 sees 1 channel, not 3
    assert loaded.preprocessing.input_size == (1, 28, 28) and loaded.preprocessing.grayscale
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(loaded.model(x), model.eval()(x))


def test_extra_model_files_in_assets_are_listed(models_dir):
    model = build_model("plain20", in_chans=1)
    checkpoint.save_model(models_dir / "plain32-experiment.safetensors", model, fashion_card(model))
    entry = next(e for e in list_models() if e.id == "plain32-experiment")
    assert entry.present and "93.12%" in entry.description  # from the embedded card: no sidecar here
    assert load_model("plain32-experiment").arch == "plain20"


def test_torchvision_model_from_the_hub_cache(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    remote = weights.torchvision_catalog()["resnet18-imagenet"]
    assert not remote.present
    reference = torchvision.models.resnet18().eval()
    remote.cache_path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), remote.cache_path)  # as torchvision's own download leaves it
    assert next(e for e in list_models() if e.id == "resnet18-imagenet").present
    loaded = load_model("resnet18-imagenet", device="cpu")
    assert loaded.class_names[0] == "tench" and len(loaded.class_names) == 1000
    assert (loaded.preprocessing.resize, loaded.preprocessing.crop) == (256, 224)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(loaded.model(x), reference(x), atol=1e-5)


@pytest.mark.parametrize("model_id,enum_member", [("resnet50-imagenet", "IMAGENET1K_V1"),
                                                   ("resnet50-imagenet-v2", "IMAGENET1K_V2")])
def test_imagenet_preprocessing_is_torchvisions_exactly(model_id, enum_member):
    from torchvision.models import ResNet50_Weights

    pre = zoo.torchvision_preprocessing(weights.torchvision_catalog()[model_id])
    image = photo((300, 260))
    expected = getattr(ResNet50_Weights, enum_member).transforms()(image)
    assert torch.equal(pre(image), expected)
    assert pre.display(image).shape == (224, 224, 3)


def test_grey_model_preprocesses_colour_photos():
    pre = zoo.Preprocessing.from_dict(fashion_card(build_model("resnet20", in_chans=1))["preprocessing"])
    tensor = pre(photo((90, 60)))
    assert tensor.shape == (1, 28, 28) and tensor.dtype == torch.float32
    shown = pre.display(photo((90, 60)))
    assert shown.shape == (28, 28, 3) and shown.dtype == np.uint8
    assert np.array_equal(shown[..., 0], shown[..., 2])  # grey, repeated into RGB
    grey3 = zoo.Preprocessing((3, 32, 32), (0.5,) * 3, (0.5,) * 3, grayscale=True)(photo())
    assert grey3.shape == (3, 32, 32) and torch.equal(grey3[0], grey3[2])  # grey-trained, 3-channel input


def test_checkpoint_paths_with_and_without_arch(tmp_path):
    plain = build_model("plain20")
    torch.save(plain.state_dict(), tmp_path / "plain.pth")
    with pytest.raises(UserInputError, match="--arch"):
        load_model(tmp_path / "plain.pth")
    loaded = load_model(tmp_path / "plain.pth", arch="plain20")
    assert loaded.arch == "plain20" and not loaded.model.residual
    assert loaded.preprocessing.input_size == (3, 32, 32) and loaded.class_names[0] == "class 0"
    with pytest.raises(UserInputError, match="do not fit resnet32"):
        load_model(tmp_path / "plain.pth", arch="resnet32")


def test_pth_with_sidecar_card(tmp_path):
    model = build_model("resnet20", shortcut="B", num_classes=10, in_chans=1)
    torch.save(model.state_dict(), tmp_path / "net.pth")
    (tmp_path / "net.json").write_text(json.dumps(fashion_card(model)))
    loaded = load_model(str(tmp_path / "net.pth"))
    assert loaded.class_names == FASHION and loaded.preprocessing.grayscale


def test_unknown_id_suggests_the_closest(models_dir):
    with pytest.raises(UserInputError, match="did you mean resnet50-imagenet"):
        load_model("resnet50-imagnet")


@pytest.mark.skipif(torch.cuda.is_available(), reason="only meaningful without a GPU")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(UserInputError, match="no CUDA GPU"):
        devices.resolve_device("cuda")
    assert devices.resolve_device("auto") == torch.device("cpu")
