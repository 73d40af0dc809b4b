"""Accelerators are found in the background: the window does not wait for torch to say which exist."""

from __future__ import annotations

import threading

from resnet_explorer.gui import device_picker
from resnet_explorer.gui.main_window import MainWindow


def test_the_window_shows_before_the_device_probe_and_adds_a_gpu_when_found(qtbot, monkeypatch):
    release = threading.Event()

    def slow_probe():  # stands in for "import torch; torch.cuda.is_available()"
        assert release.wait(30)
        return [("cuda:0", "cuda:0  Fake GPU")]

    monkeypatch.setattr(device_picker, "probe_devices", slow_probe)
    monkeypatch.setattr(device_picker, "_accelerators", None)
    window = MainWindow(persist=False)
    qtbot.addWidget(window)
    picker, train_devices = window.device_picker, window.train_tab.device
    # Built while the probe still runs: Auto and CPU are there already.
    assert [picker.itemData(i) for i in range(picker.count())] == ["auto", "cpu"]
    picker.set_current("cuda:0")  # a saved choice that is not known yet
    assert picker.currentData() == "auto"

    with qtbot.waitSignal(picker.device_chosen, timeout=30000) as chosen:
        release.set()

    assert chosen.args == ["cuda:0"]  # the saved choice comes back once the GPU is found
    assert [picker.itemData(i) for i in range(picker.count())] == ["auto", "cpu", "cuda:0"]
    assert picker.currentData() == "cuda:0"
    assert [train_devices.itemData(i) for i in range(train_devices.count())] == ["auto", "cpu", "cuda"]
    window.close()
