"""Every reader in the core refuses what is not a regular file, and checks declared sizes before allocating.

Each case here hung, read forever or took gigabytes before (issue 13). ``timeout(20)`` makes a hang fail
the test instead of blocking the suite.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import resource
import struct
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from resnet_explorer import build_model
from resnet_explorer.core import (
    checkpoint,
    data,
    evaluation,
    files,
    images,
    model_file,
    training_state,
    weights,
    zoo,
)
from resnet_explorer.core.errors import UserInputError
from resnet_explorer.core.recorded_runs import RecordedRunError
from resnet_explorer.core.recorded_runs import read_metrics_csv as read_recorded_csv

pytestmark = pytest.mark.timeout(20)

FAST_S = 5.0  # every refusal here is a stat or a header read: well under a second on an idle machine
DEVICES = [d for d in ("/dev/zero", "/dev/urandom") if os.path.exists(d)]


@pytest.fixture(scope="module", autouse=True)
def imports_done():
    """Import torchvision (the zoo's catalogue) once up front, so that timings measure refusals only."""
    weights.torchvision_catalog()


@pytest.fixture
def fifo(tmp_path):
    """A named pipe nobody writes to: open() for reading on it blocks forever."""
    def make(name: str) -> Path:
        path = tmp_path / name
        os.mkfifo(path)
        return path
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes on this platform")
    return make


def refused(call, *args, match: str, exc: type[Exception] = UserInputError) -> str:
    """Call ``call(*args)``, expect ``exc`` matching ``match``, quickly and with a one-line message."""
    start = time.monotonic()
    with pytest.raises(exc, match=match) as err:
        call(*args)
    assert time.monotonic() - start < FAST_S
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


# ----- the shared helper -----------------------------------------------------------------------------
def test_helper_names_what_the_path_is(tmp_path, fifo):
    pipe = fifo("fifo.png")
    message = refused(files.read_file_bytes, pipe, 100, match="not a regular file")
    assert message == f"{pipe}: not a regular file (a named pipe)"
    refused(files.read_file_bytes, tmp_path / "none", 100, match="no such file")
    refused(files.check_regular_file, tmp_path, 100, match="is a directory, not a file")
    for device in DEVICES:
        refused(files.read_file_bytes, device, 100, match=r"not a regular file \(a character device\)")
    (tmp_path / "big.bin").write_bytes(b"x" * 101)
    refused(files.read_file_bytes, tmp_path / "big.bin", 100, match=r"too large \(101 bytes\)")
    assert files.read_file_bytes(tmp_path / "big.bin", 101) == b"x" * 101
    assert files.check_regular_file(tmp_path / "big.bin", None) == 101


def test_a_file_swapped_for_a_pipe_after_the_check_does_not_block(tmp_path, monkeypatch):
    pipe = tmp_path / "swapped"
    os.mkfifo(pipe)
    # The stat check passes (as if a regular file were there), then the open finds the pipe: O_NONBLOCK
    # returns at once and fstat refuses it.
    monkeypatch.setattr(files, "check_regular_file", lambda *a, **kw: 0)
    refused(files.read_file_bytes, pipe, 100, match=r"\(a named pipe\)")


# ----- images ----------------------------------------------------------------------------------------
def test_image_from_a_pipe_or_a_device_is_refused_at_once(fifo):
    pipe = fifo("fifo.png")
    message = refused(images.open_image, pipe, match="named pipe")
    assert message == f"{pipe}: not a regular file (a named pipe)"
    for device in DEVICES:
        refused(images.open_image, device, match="character device")


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def huge_16bit_png(width: int = 9400, height: int = 9400, rows: int = 50) -> bytes:
    """A PNG that declares a 16-bit grey ``width`` x ``height`` canvas but holds only ``rows`` rows, with
    a complete zlib stream and no IEND: what Pillow used to decode silently into a 1.7 GB image."""
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0" * (1 + 2 * width) * rows, 9)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", pixels)


def test_truncated_huge_16bit_png_is_refused_without_decoding(tmp_path):
    path = tmp_path / "huge16.png"
    path.write_bytes(huge_16bit_png())
    assert path.stat().st_size < 2000
    before = max_rss_bytes()
    refused(images.open_image, path, match="truncated or corrupt")
    assert max_rss_bytes() - before < 100 * files.MiB  # its canvas alone would be 168 MiB


def test_declared_canvas_over_the_cap_is_refused_before_decoding(tmp_path, monkeypatch):
    # 9000x9000 RGBA is under Pillow's pixel limit, but 309 MiB decoded.
    ihdr = struct.pack(">IIBBBBB", 9000, 9000, 8, 6, 0, 0, 0)
    path = tmp_path / "wide.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b""))
                     + png_chunk(b"IEND", b""))
    refused(images.open_image, path, match=r"declares 9000x9000 RGBA pixels .* refusing to decode")
    monkeypatch.setattr(images, "MAX_DECODED_BYTES", 1000)
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20)).save(buffer, "PNG")  # 1600 bytes decoded
    refused(images.open_image, buffer.getvalue(), match="declares 20x20 RGB")


def test_png_cut_before_iend_is_truncated(tmp_path):
    buffer = io.BytesIO()
    Image.new("L", (32, 32), 200).save(buffer, "PNG")
    whole = buffer.getvalue()
    assert images.open_image(whole).size == (32, 32)
    refused(images.open_image, whole[:-12], match="truncated or corrupt")  # without its IEND chunk


@pytest.mark.parametrize("mode", ["I;16", "I", "F"])
def test_high_depth_grey_is_converted_band_by_band_as_a_whole(monkeypatch, mode):
    rng = np.random.default_rng(0)
    if mode == "F":
        pixels = rng.normal(0, 3, (37, 11)).astype(np.float32)
        expected = (pixels - pixels.min()) / (pixels.max() - pixels.min()) * 255.0
    else:
        top = 65535 if mode == "I;16" else 200_000
        pixels = rng.integers(0, top, (37, 11)).astype(np.uint16 if mode == "I;16" else np.int32)
        expected = pixels / max(float(pixels.max()), 65535.0) * 255.0
    monkeypatch.setattr(images, "HIGH_DEPTH_BAND", 30)  # 2 rows per band: many bands and a short last one
    image = Image.fromarray(pixels)
    assert image.mode == mode
    grey = images.to_rgb_or_l(image)
    assert grey.mode == "L"
    assert np.array_equal(np.asarray(grey), np.round(expected).astype(np.uint8))


# ----- weights and cards -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["fifo.pth", "fifo.safetensors", "fifo.bin"])
def test_weights_from_a_pipe_are_refused_at_once(fifo, name):
    pipe = fifo(name)
    refused(model_file.read_model, pipe, match=r"not a regular file \(a named pipe\)")
    refused(zoo.load_model, pipe, "cpu", match=r"not a regular file \(a named pipe\)")


@pytest.mark.parametrize("device", DEVICES)
def test_weights_from_a_device_are_refused_at_once(device):
    refused(model_file.read_model, device, match="character device")
    refused(evaluation.load_model_file, device, torch.device("cpu"), match="character device")
    refused(evaluation.evaluate, device, "fashion-mnist", match="character device")


@pytest.fixture
def bare_weights(tmp_path):
    """A resnet20 state dict without a card, as .safetensors and as .pth."""
    state = build_model("resnet20", in_chans=1).state_dict()
    return (checkpoint.save_tensors(tmp_path / "bare.safetensors", state),
            torch.save(state, tmp_path / "bare.pth") or tmp_path / "bare.pth")


def test_a_card_that_is_a_pipe_is_refused_not_waited_for(tmp_path, fifo, bare_weights):
    fifo("bare.json")
    for path in bare_weights:
        refused(model_file.read_model, path, match=r"bare.json: not a regular file \(a named pipe\)")


def test_an_oversized_card_is_refused(tmp_path, monkeypatch, bare_weights):
    (tmp_path / "bare.json").write_text(json.dumps({"description": "x" * 5000}))
    monkeypatch.setattr(files, "MAX_CARD_BYTES", 4096)
    refused(model_file.read_model, bare_weights[1], match=r"bare.json is too large .* to be a model card")


def test_the_model_list_skips_a_pipe_card_without_waiting(tmp_path, monkeypatch, fifo):
    models = tmp_path / "models"
    models.mkdir()
    model = build_model("resnet20", in_chans=1)
    checkpoint.save_model(models / "resnet20-fashion-mnist.safetensors", model,
                          {"model": model.config, "description": "embedded card"})
    os.mkfifo(models / "resnet20-fashion-mnist.json")
    monkeypatch.setattr(zoo, "bundled_dir", lambda: models)
    start = time.monotonic()
    entry = next(e for e in zoo.list_models() if e.id == "resnet20-fashion-mnist")
    assert time.monotonic() - start < FAST_S
    assert entry.present and entry.description == "embedded card"


def safetensors_header(tensor_bytes: int) -> bytes:
    """The first bytes of a safetensors file holding one F32 tensor of ``tensor_bytes`` bytes."""
    n = tensor_bytes // 4
    header = json.dumps({"w": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}}).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header


def sparse_safetensors(path: Path, tensor_bytes: int) -> Path:
    """A valid safetensors file declaring ``tensor_bytes`` of zeros that takes a few KiB on disk."""
    head = safetensors_header(tensor_bytes)
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(len(head) + tensor_bytes)  # a hole: nothing written, nothing stored
    return path


def test_sparse_safetensors_over_the_cap_is_refused_before_reading(tmp_path):
    path = sparse_safetensors(tmp_path / "sparse.safetensors", 3 * files.GiB)  # default cap: 2 GiB
    before = max_rss_bytes()
    message = refused(model_file.read_model, path, match=r"too large \(3.0 GiB\) to be a weights file")
    assert message.startswith(str(path))
    refused(model_file.read_safetensors, path, match="too large")
    refused(zoo.load_model, path, "cpu", match="too large")
    assert max_rss_bytes() - before < 100 * files.MiB


def test_sparse_safetensors_under_a_lowered_cap(tmp_path, monkeypatch):
    path = sparse_safetensors(tmp_path / "sparse.safetensors", files.GiB)
    monkeypatch.setattr(files, "MAX_WEIGHTS_BYTES", 64 * files.MiB)
    before = max_rss_bytes()
    refused(evaluation.load_model_file, path, torch.device("cpu"), match=r"too large \(1.0 GiB\)")
    assert max_rss_bytes() - before < 100 * files.MiB


def test_safetensors_header_promising_more_than_the_file_holds(tmp_path):
    path = tmp_path / "cut.safetensors"
    path.write_bytes(safetensors_header(files.GiB) + bytes(4000))
    before = max_rss_bytes()
    refused(model_file.read_safetensors, path,
            match=r"cut.safetensors is truncated: its header declares 1.0 GiB of tensors, "
                  r"the file holds 3.9 KiB")
    refused(model_file.read_model, path, match="truncated")
    assert max_rss_bytes() - before < 100 * files.MiB
    header_len = tmp_path / "long.safetensors"
    header_len.write_bytes(struct.pack("<Q", 10**12) + b"{}")
    refused(model_file.read_safetensors, header_len,
            match="its header claims 931.3 GiB, the file holds 2 bytes")


@pytest.mark.parametrize("entry,match", [
    ({"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}, "does not fill"),
    ({"dtype": "Q99", "shape": [2], "data_offsets": [0, 8]}, "bad entry"),
    ({"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}, "does not fill"),
    ({"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}, "does not fill"),
])
def test_safetensors_entries_are_checked_like_the_library_does(tmp_path, entry, match):
    header = json.dumps({"w": entry}).encode()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(8))
    refused(model_file.read_safetensors, path, match=match)


def test_safetensors_read_back_exactly(tmp_path):
    tensors = {"f": torch.randn(3, 4), "h": torch.randn(5).to(torch.bfloat16), "b": torch.tensor(True),
               "i": torch.arange(7, dtype=torch.int8), "e": torch.zeros(0, 3), "l": torch.arange(3)}
    path = checkpoint.save_tensors(tmp_path / "all.safetensors", tensors, {"k": "v"})
    back, meta = model_file.read_safetensors(path)
    assert meta == {"k": "v"} and set(back) == set(tensors)
    for name, tensor in tensors.items():
        assert back[name].dtype == tensor.dtype and torch.equal(back[name], tensor), name


def zip_bomb(path: Path, unpacked: int, chunk: int = 4 * files.MiB) -> Path:
    """A zip laid out like torch.save's, whose data member deflates ``unpacked`` zeros into a few
    hundred KiB; written chunk by chunk so building it needs little memory."""
    zeros = bytes(chunk)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb/data.pkl", b"\x80\x02}q\x00.")
        with archive.open("bomb/data/0", "w", force_zip64=True) as member:
            for _ in range(unpacked // chunk):
                member.write(zeros)
        archive.writestr("bomb/version", b"3\n")
    return path


def test_zip_bomb_pth_is_refused_before_torch_load(tmp_path, monkeypatch):
    path = zip_bomb(tmp_path / "bomb.pth", 64 * files.MiB)
    assert path.stat().st_size < files.MiB

    def never(*a, **kw):
        raise AssertionError("torch.load must not see a zip bomb")

    monkeypatch.setattr(torch, "load", never)
    message = refused(model_file.read_model, path, match=r"would unpack to 64.0 MiB from .* \(a zip bomb\?\)")
    assert message.startswith(str(path))
    refused(zoo.load_model, path, "cpu", match="zip bomb")


def test_pth_over_a_lowered_cap_is_refused_and_real_ones_load(tmp_path, monkeypatch, bare_weights):
    state, _ = model_file.read_model(bare_weights[1])  # torch.save's own zip: about 1x its size
    assert "fc.weight" in state
    monkeypatch.setattr(files, "MAX_WEIGHTS_BYTES", 1000)
    refused(model_file.read_model, bare_weights[1], match="too large")


# ----- datasets --------------------------------------------------------------------------------------
def idx_header(dims: tuple[int, ...]) -> bytes:
    return bytes([0, 0, 0x08, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)


def test_idx_gzip_bomb_stops_at_the_declared_size(tmp_path):
    path = tmp_path / "bomb-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:  # declares 10 images, then 64 MiB of zeros
        f.write(idx_header((10, 28, 28)))
        zeros = bytes(4 * files.MiB)
        for _ in range(16):
            f.write(zeros)
    before = max_rss_bytes()
    refused(data.read_idx, path, match=r"header promises \[10, 28, 28\] bytes of data, the file holds more")
    assert max_rss_bytes() - before < 32 * files.MiB


def test_idx_header_declaring_too_much_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header((60000, 60000, 60000)) + bytes(100)))
    refused(data.read_idx, path, match=r"declares \[60000, 60000, 60000\]")
    raw = tmp_path / "cut-idx3-ubyte"
    raw.write_bytes(idx_header((60000, 28, 28)) + bytes(100))
    refused(data.read_idx, raw, match="truncated or corrupt: .* the file holds 100")


def test_idx_round_trip_and_a_pipe_in_the_dataset_folder(tmp_path, fifo):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "ok.gz").write_bytes(gzip.compress(idx_header(array.shape) + array.tobytes()))
    assert torch.equal(data.read_idx(tmp_path / "ok.gz"), torch.from_numpy(array))
    (tmp_path / "ok").write_bytes(idx_header(array.shape) + array.tobytes())
    assert torch.equal(data.read_idx(tmp_path / "ok"), torch.from_numpy(array))
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for stem in data.IDX_FILES.values():
        (folder / f"{stem}.gz").write_bytes(gzip.compress(idx_header((1,)) + b"\0"))
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    fifo("fashion-mnist/train-labels-idx1-ubyte.gz")  # read right after the training images
    start = time.monotonic()
    with pytest.raises(UserInputError, match=r"labels-idx1-ubyte.gz: not a regular file \(a named pipe\)"):
        data.load_dataset("fashion-mnist", data_dir=tmp_path, download=False)
    assert time.monotonic() - start < FAST_S


# ----- run state and metrics -------------------------------------------------------------------------
def test_run_state_and_metrics_from_pipes_are_refused(tmp_path, fifo):
    os.mkfifo(tmp_path / training_state.STATE_FILE)
    refused(training_state.load_state, tmp_path,
            match=r"state.safetensors: not a regular file \(a named pipe\)")
    pipe = fifo(training_state.METRICS_FILE)
    refused(training_state.read_metrics_csv, pipe, match="named pipe")
    refused(read_recorded_csv, pipe, match="named pipe", exc=RecordedRunError)
