"""Weights: the real download code against a local HTTP server, and safe loading of local files."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import pickle
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from resnet_explorer import build_model
from resnet_explorer.core import checkpoint, model_file, weights
from resnet_explorer.core.errors import UserInputError
from resnet_explorer.core.weights import DownloadCancelled, DownloadError


# ----- a local server ------------------------------------------------------------------------------
class LocalServer:
    """Serves ``files`` on 127.0.0.1. ``/broken/NAME`` closes after half the body; ``/stall/NAME`` sends
    the headers and one chunk, then waits until the test ends."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                mode, _, name = self.path.lstrip("/").rpartition("/")
                data = server.files.get(name)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if mode == "broken":
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                elif mode == "stall":
                    self.wfile.write(data[:1024])
                    self.wfile.flush()
                    server.release.wait(10)
                else:
                    self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def url(self, name: str, mode: str = "") -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/{mode + '/' if mode else ''}{name}"

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def state_dict_bytes(state: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def hashed_name(stem: str, data: bytes, suffix: str = ".pth") -> str:
    """torch.hub's convention: the first 8 hex digits of the sha256 after the last '-'."""
    return f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}{suffix}"


@pytest.fixture
def server():
    with LocalServer() as s:
        yield s


@pytest.fixture
def tiny():
    """A small state dict (~400 KB: several 64 KiB chunks) and its bytes."""
    torch.manual_seed(0)
    state = {"w": torch.randn(100_000), "b": torch.arange(10)}
    return state, state_dict_bytes(state)


def closed_port_url(name: str) -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


# ----- downloads -----------------------------------------------------------------------------------
def test_download_reports_progress_and_lands_complete(server, tiny, tmp_path):
    state, data = tiny
    name = hashed_name("tiny", data)
    server.files[name] = data
    calls: list[tuple[int, int]] = []
    dest = weights.download(server.url(name), tmp_path / name, progress=lambda d, t: calls.append((d, t)))
    assert dest.read_bytes() == data
    assert calls[0] == (0, len(data)) and calls[-1] == (len(data), len(data))
    assert len(calls) > 3 and all(a[0] <= b[0] for a, b in zip(calls, calls[1:], strict=False))
    loaded, _ = model_file.read_model(dest)
    assert torch.equal(loaded["w"], state["w"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_hash_mismatch_is_rejected_and_nothing_is_cached(server, tiny, tmp_path):
    _, data = tiny
    name = "tiny-deadbeef.pth"
    server.files[name] = data
    with pytest.raises(DownloadError, match="corrupt"):
        weights.download(server.url(name), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_transfer_leaves_no_cache_file(server, tiny, tmp_path):
    _, data = tiny
    name = hashed_name("tiny", data)
    server.files[name] = data
    with pytest.raises(DownloadError, match="interrupted"):
        weights.download(server.url(name, "broken"), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_cancel_from_the_progress_callback_stops_and_cleans_up(server, tiny, tmp_path):
    _, data = tiny
    name = hashed_name("tiny", data)
    server.files[name] = data
    cancel = threading.Event()
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if done > 0:
            cancel.set()  # as the GUI's Cancel button would, from another thread

    with pytest.raises(DownloadCancelled):
        weights.download(server.url(name), tmp_path / name, progress=progress, cancel=cancel)
    assert max(seen) < len(data)
    assert list(tmp_path.iterdir()) == []


def test_a_stalled_server_times_out_instead_of_hanging(server, tiny, tmp_path):
    _, data = tiny
    name = hashed_name("tiny", data)
    server.files[name] = data
    with pytest.raises(DownloadError, match="no data for"):
        weights.download(server.url(name, "stall"), tmp_path / name, timeout=0.5)
    assert list(tmp_path.iterdir()) == []


def _record_urlopen_timeouts(monkeypatch) -> list:
    """The ``timeout`` every urlopen call gets (the real urlopen still runs, against the local server)."""
    import inspect
    import urllib.request

    real = urllib.request.urlopen
    seen = []

    def spy(*args, **kwargs):
        bound = inspect.signature(real).bind(*args, **kwargs)
        seen.append(bound.arguments.get("timeout", "not given: the socket default, no limit"))
        return real(*args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", spy)
    return seen


def test_downloads_wait_at_most_30_s_for_the_network_by_default(server, tiny, tmp_path, monkeypatch):
    _, data = tiny
    name = hashed_name("tiny", data)
    server.files[name] = data
    seen = _record_urlopen_timeouts(monkeypatch)
    weights.download(server.url(name), tmp_path / "a" / name)
    # fetch() is what load_model uses for torchvision's weights; it passes no timeout either.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    remote = weights.RemoteWeights("tiny-test", "resnet18", server.url(name), len(data), "x.y", 0.0)
    assert weights.fetch(remote).read_bytes() == data
    assert seen == [30.0, 30.0]


def test_the_model_zoo_downloads_with_the_30_s_timeout(tmp_path, monkeypatch):
    """load_model("resnet18-imagenet") from the GUI's model list or the CLI, offline (a closed port)."""
    from resnet_explorer.core import zoo

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    catalog = weights.torchvision_catalog()
    offline = {k: dataclasses.replace(v, url=closed_port_url(v.filename)) for k, v in catalog.items()}
    monkeypatch.setattr(weights, "torchvision_catalog", lambda: offline)
    seen = _record_urlopen_timeouts(monkeypatch)
    with pytest.raises(DownloadError, match="resnet18-imagenet"):
        zoo.load_model("resnet18-imagenet", device="cpu")
    assert seen == [30.0]


def test_http_error_is_reported(server, tmp_path):
    with pytest.raises(DownloadError, match="404"):
        weights.download(server.url("missing-12345678.pth"), tmp_path / "missing-12345678.pth")


def test_offline_message_names_model_size_and_weights_option(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    remote = weights.torchvision_catalog()["resnet50-imagenet"]
    offline = dataclasses.replace(remote, url=closed_port_url(remote.filename))
    with pytest.raises(DownloadError) as err:
        weights.fetch(offline)
    message = str(err.value)
    assert "resnet50-imagenet" in message and "97.8 MiB" in message
    assert "--weights PATH" in message and "\n" not in message
    assert not any(offline.cache_path.parent.glob("*")) if offline.cache_path.parent.exists() else True


def test_fetch_uses_the_cache_where_torchvision_looks(server, tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    _, data = tiny
    name = hashed_name("tiny", data)
    server.files[name] = data
    remote = weights.RemoteWeights("tiny-test", "resnet18", server.url(name), len(data), "x.y", 0.0)
    assert remote.cache_path == Path(torch.hub.get_dir()) / "checkpoints" / name
    assert weights.fetch(remote) == remote.cache_path and remote.present
    server.files.clear()  # a second fetch must not touch the network
    assert weights.fetch(remote).read_bytes() == data


def test_catalog_matches_torchvision():
    from torchvision.models import ResNet50_Weights, ResNet152_Weights

    catalog = weights.torchvision_catalog()
    assert sorted(catalog) == sorted([f"resnet{d}-imagenet" for d in (18, 34, 50, 101, 152)]
                                     + [f"resnet{d}-imagenet-v2" for d in (50, 101, 152)])
    assert catalog["resnet50-imagenet"].url == ResNet50_Weights.IMAGENET1K_V1.url
    assert catalog["resnet152-imagenet-v2"].url == ResNet152_Weights.IMAGENET1K_V2.url
    assert weights.expected_hash_prefix(catalog["resnet50-imagenet"].filename) == "0676ba61"
    # torchvision's own files are ~1% off its MiB figure at most
    assert abs(catalog["resnet18-imagenet"].size_bytes - 46_830_571) < 50_000


# ----- safe local loading --------------------------------------------------------------------------
class _Payload:
    """Unpickling this would create ``marker``: the classic code-execution gadget, made harmless."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("container", ["torch-zip", "raw-pickle"])
def test_a_malicious_pickle_is_refused_and_runs_nothing(tmp_path, container):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    if container == "torch-zip":
        torch.save({"conv1.weight": torch.zeros(1), "x": _Payload(marker)}, path)
    else:
        path.write_bytes(pickle.dumps({"x": _Payload(marker)}, protocol=2))
    assert not marker.exists()
    with pytest.raises(UserInputError, match="refused to load"):
        model_file.read_model(path)
    assert not marker.exists()


def test_no_code_path_loads_pickles_unsafely():
    package = Path(weights.__file__).resolve().parents[1]
    unsafe = re.compile(r"weights_only\s*=\s*False")
    offenders = [p for p in package.rglob("*.py") if unsafe.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_torchvision_style_pth_nested_and_data_parallel(tmp_path):
    model = build_model("resnet20", shortcut="B")
    nested = {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}
    path = tmp_path / "ckpt.pth"
    torch.save(nested, path)
    state, card = model_file.read_model(path)
    assert card is None
    assert set(state) == set(model.state_dict())
    assert weights.infer_config(state) == {"arch": "resnet20", "num_classes": 10, "in_chans": 3,
                                           "shortcut": "B"}


def test_arch_inference_imagenet_and_ambiguous_cases():
    r50 = build_model("resnet50").state_dict()
    assert weights.infer_config(r50)["arch"] == "resnet50"
    r34c = build_model("resnet34", shortcut="C", num_classes=7).state_dict()
    assert weights.infer_config(r34c) == {"arch": "resnet34", "num_classes": 7, "in_chans": 3,
                                          "shortcut": "C"}
    plain = build_model("plain20").state_dict()
    with pytest.raises(UserInputError, match="--arch resnet20 or --arch plain20"):
        weights.infer_config(plain)
    with pytest.raises(UserInputError, match="not a ResNet state dict"):
        weights.infer_config({"weight": torch.zeros(3)})


def test_safetensors_with_card_and_without(tmp_path):
    model = build_model("resnet20", in_chans=1)
    with_card = checkpoint.save_model(tmp_path / "a.safetensors", model, {"model": model.config})
    _, card = model_file.read_model(with_card)
    assert card["model"]["arch"] == "resnet20"
    bare = checkpoint.save_tensors(tmp_path / "bare.bin", model.state_dict())  # sniffed by content
    state, card = model_file.read_model(bare)
    assert card is None and torch.equal(state["fc.weight"], model.state_dict()["fc.weight"])


@pytest.mark.parametrize("content,message", [
    (b"", "empty"),
    (b"this is not a checkpoint at all\n" * 4, "not a"),
    (b"PK\x03\x04garbage", "not a"),
])
def test_bad_weight_files_get_one_line(tmp_path, content, message):
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    with pytest.raises(UserInputError, match=message) as err:
        model_file.read_model(path)
    assert "\n" not in str(err.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(UserInputError, match="no such file"):
        model_file.read_model(tmp_path / "none.pth")
    with pytest.raises(UserInputError, match="directory"):
        model_file.read_model(tmp_path)
    os.makedirs(tmp_path / "d.pth")
    with pytest.raises(UserInputError, match="directory"):
        model_file.read_model(tmp_path / "d.pth")
