"""How long from dropping an image on the window to seeing its analysis? (a benchmark, not a test)

The real ``MainWindow`` is opened (offscreen when asked, or when there is no display) with the bundled
default model, resnet20-fashion-mnist, or ``--model``. Each round drops one image file on it, through
the same path as a real drop (a ``QDropEvent`` with the file's URL sent to the window, after the drag's
enter event as Qt requires: ``dropEvent`` ->
``handle_drop`` -> ``inputs.read_mime`` -> the images worker decodes it -> ``select_image`` -> the
analysis worker runs ``analyze`` -> ``analysis_ready`` updates every view in the GUI thread), and times
until the result is shown and painted:

* wait until the explorer is idle (``Explorer.idle``) with the analysis answering the dropped image;
  by then every view's ``analysis_ready`` slot has run (Predict and the status bar set their texts,
  images and bars; the Feature maps mosaic and the Residuals plots are drawn there when their tab is
  the one shown, and otherwise only when it is shown next, which is what the user waits for);
* then run ``processEvents()`` until two passes in a row deliver no ``UpdateRequest`` to the window:
  that event is what makes Qt repaint the dirty widgets into the backing store (the frame a user sees).
  Hidden tabs are not painted by Qt until shown, so the time includes the paint of what is visible
  (Predict tab, image strip, status bar), as it is for a user. ``window.grab()`` was not used: it
  renders the whole window again, which a real frame does not.

Reference, in the same round, on the same file and the same loaded model: ``open_image`` then
``analyze(loaded, image)`` called directly in the GUI thread with the options the analysis worker uses
(top-5, Grad-CAM of the top class, feature maps and measures, no lesion) and as many torch threads as
the worker has. Files alternate between two samples, each round a fresh copy under a new name (every
drop is a new image: nothing is cached), and so does who goes first. Goal (issue 7): drop-to-result
<= 1.5x the bare ``analyze()``.

    python bench/bench_gui_latency.py [--rounds 5] [--warmup 2] [--model ID|random:ARCH]
        [--images A,B] [--offscreen] [--profile] [--json PATH]

``--model random:resnet50`` writes a randomly initialised ImageNet-shaped model to a temporary weights
file and opens that (the zoo's ImageNet models would need a download). ``--profile`` runs cProfile in
the GUI thread over the timed drops and prints where that thread's time went.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ratio_figure, write_json  # noqa: E402

GOAL = 1.5
SAMPLES = ROOT / "assets" / "samples"
DEFAULT_IMAGES = "fmnist-7-sneaker-00009.png,fmnist-8-bag-00018.png"
TIMEOUT_S = 120.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (each: one drop, one reference)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    parser.add_argument("--model", default=None,
                        help="model id or weights file (default: the bundled default model), or "
                             "random:ARCH for random weights, e.g. random:resnet50")
    parser.add_argument("--images", default=DEFAULT_IMAGES,
                        help="two image files, comma-separated (names in assets/samples, or paths)")
    parser.add_argument("--offscreen", action="store_true",
                        help="no window (QT_QPA_PLATFORM=offscreen); the default without a display")
    parser.add_argument("--profile", action="store_true", help="cProfile the GUI thread over the timed drops")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the figure as JSON")
    return parser.parse_args(argv)


def resolve_images(spec: str) -> list[Path]:
    paths = []
    for name in (s.strip() for s in spec.split(",") if s.strip()):
        path = Path(name) if Path(name).exists() else SAMPLES / name
        if not path.is_file():
            raise SystemExit(f"bench_gui_latency: no image {name} (nor {path})")
        paths.append(path.resolve())
    if len(paths) != 2 or paths[0] == paths[1]:
        raise SystemExit("bench_gui_latency: --images needs two different files")
    return paths


def random_weights_file(arch: str, folder: str) -> str:
    """A randomly initialised ``arch`` saved as a weights file the app opens like any other."""
    import torch

    from resnet_explorer.core.checkpoint import save_model
    from resnet_explorer.core.resnet import build_model

    torch.manual_seed(0)
    model = build_model(arch).eval()
    path = Path(folder) / f"random-{arch}.safetensors"
    save_model(path, model, {"model": dict(model.config)})
    return str(path)


class PaintCounter:
    """Counts the ``UpdateRequest`` events the window receives: each is one repaint of dirty widgets."""

    def __init__(self, window: object) -> None:
        from PySide6.QtCore import QEvent, QObject

        kind = QEvent.Type.UpdateRequest

        class Filter(QObject):
            count = 0

            def eventFilter(self, _watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
                if event.type() == kind:
                    Filter.count += 1
                return False

        self._filter = Filter()
        window.installEventFilter(self._filter)  # type: ignore[attr-defined]

    @property
    def count(self) -> int:
        return self._filter.count


def flush_paints(paints: PaintCounter) -> float:
    """``processEvents()`` until two passes in a row repaint nothing; the time the last repaint ended."""
    from PySide6.QtWidgets import QApplication

    last = time.perf_counter()
    quiet = 0
    while quiet < 2:
        before = paints.count
        QApplication.processEvents()
        if paints.count != before:
            last, quiet = time.perf_counter(), 0
        else:
            quiet += 1
    return last


class Dropper:
    """Drops files on the window and waits until their analysis is shown."""

    def __init__(self, window: object) -> None:
        self.window = window
        self.explorer = window.explorer  # type: ignore[attr-defined]
        self.paints = PaintCounter(window)
        self.views_done = 0.0
        # Connected after the views: runs once every view's analysis_ready slot has run.
        self.explorer.analysis_ready.connect(self._views_updated)

    def _views_updated(self, _result: object) -> None:
        self.views_done = time.perf_counter()

    def drop(self, path: Path) -> dict[str, float]:
        """Drop ``path``; returns the timings of this drop in seconds."""
        from PySide6.QtCore import QEventLoop, QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
        from PySide6.QtGui import QDragEnterEvent, QDropEvent
        from PySide6.QtWidgets import QApplication

        previous = self.explorer.current
        loop = QEventLoop()

        def check() -> None:
            current, analysis = self.explorer.current, self.explorer.analysis
            if (current is not None and current is not previous and current.source == str(path)
                    and analysis is not None and analysis.image_key == current.key
                    and not self.explorer.is_busy()):
                loop.quit()

        timed_out: list[bool] = []

        def expire() -> None:
            timed_out.append(True)
            loop.quit()

        self.explorer.idle.connect(check)
        deadline = QTimer()
        deadline.setSingleShot(True)
        deadline.timeout.connect(expire)
        mime = QMimeData()  # kept alive here: the events do not own it
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        centre = QPoint(self.window.width() // 2, self.window.height() // 2)  # type: ignore[attr-defined]
        with warnings.catch_warnings():  # PySide marks the only constructor Qt has as deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            enter = QDragEnterEvent(centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                    Qt.KeyboardModifier.NoModifier)
        drop = QDropEvent(QPointF(centre), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                          Qt.KeyboardModifier.NoModifier)
        # Qt routes a drop to the widget that accepted the drag's enter event, so enter first (untimed:
        # it happens while the user still moves the file).
        QApplication.sendEvent(self.window, enter)
        paints = self.paints.count
        start = time.perf_counter()
        QApplication.sendEvent(self.window, drop)
        if not drop.isAccepted():
            raise SystemExit("bench_gui_latency: the window refused the drop")
        deadline.start(int(TIMEOUT_S * 1000))
        loop.exec()
        idle = time.perf_counter()
        deadline.stop()
        self.explorer.idle.disconnect(check)
        if timed_out:
            raise SystemExit(f"bench_gui_latency: no analysis of {path.name} within {TIMEOUT_S:.0f} s")
        painted = flush_paints(self.paints)
        return {"total": painted - start, "views": self.views_done - start, "idle": idle - start,
                "analyze": float(self.explorer.analysis.elapsed_s), "repaints": self.paints.count - paints}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.offscreen or not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt is loaded
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app's entry point does (cli.py)
    images = resolve_images(args.images)
    tmp = tempfile.TemporaryDirectory()
    model_id = args.model
    if model_id and model_id.startswith("random:"):
        model_id = random_weights_file(model_id.split(":", 1)[1], tmp.name)

    import torch

    from resnet_explorer.core.images import open_image
    from resnet_explorer.core.probe import analyze
    from resnet_explorer.core.zoo import DEFAULT_MODEL
    from resnet_explorer.gui import i18n
    from resnet_explorer.gui.app import application, pause, wait_until_settled
    from resnet_explorer.gui.main_window import MainWindow
    from resnet_explorer.gui.workers import thread_budget

    app = application()  # noqa: F841 - must outlive the window
    i18n.set_language("en")
    window = MainWindow(persist=False)  # neither reads nor writes the user's settings
    window.show()
    window.start(model_id or DEFAULT_MODEL)
    if not wait_until_settled(window, TIMEOUT_S) or window.explorer.loaded is None:
        print(f"bench_gui_latency: the model {model_id or DEFAULT_MODEL} did not load", file=sys.stderr)
        return 1
    pause(300)  # the first paints of a new window are not what we measure
    loaded = window.explorer.loaded
    info = window.explorer.info
    # The reference runs in this (GUI) thread: give it the threads the analysis worker has.
    torch.set_num_threads(thread_budget())

    def reference(path: Path) -> float:
        start = time.perf_counter()
        image = open_image(str(path), name=path.name)
        analyze(loaded, image, top_k=5, gradcam=True, gradcam_class=None, lesion=(), feature_maps=True)
        return time.perf_counter() - start

    dropper = Dropper(window)
    profiler = None
    ours: list[dict[str, float]] = []
    ref: list[float] = []
    for i in range(args.warmup + args.rounds):
        # A copy under a new name each round: the window keeps every image it opened, and opening a
        # file it already holds fails (controller._add_images: OpenedImage's dataclass __eq__ compares
        # numpy arrays, ValueError) -- a GUI bug this benchmark steps around, not what it measures.
        path = Path(tmp.name) / f"{i:03d}-{images[i % 2].name}"
        shutil.copyfile(images[i % 2], path)
        timed = i >= args.warmup
        if timed and args.profile and profiler is None:
            import cProfile

            profiler = cProfile.Profile()
        # Who goes first alternates too, so neither always runs on a warmer cache.
        if i % 2:
            r = reference(path)
        if profiler is not None:
            profiler.enable()
        o = dropper.drop(path)
        if profiler is not None:
            profiler.disable()
        if not i % 2:
            r = reference(path)
        if timed:
            ours.append(o)
            ref.append(r)
    window.close()

    ms = [1000 * o["total"] for o in ours]
    ref_ms = [1000 * r for r in ref]
    med = {k: 1000 * statistics.median(o[k] for o in ours) for k in ("total", "views", "idle", "analyze")}
    key = "drop_to_result" if not args.model else f"drop_to_result_{info.arch}"
    figure = ratio_figure(
        key, f"drop-to-result in the GUI, {info.arch} (decode, analyse, draw what is shown)",
        "the bare analyze() call", ms, ref_ms, unit="ms", goal=GOAL, model=args.model or info.model_id,
        arch=info.arch, images=[p.name for p in images], threads=thread_budget(),
        platform=os.environ.get("QT_QPA_PLATFORM", ""), worker_analyze_ms=round(med["analyze"], 2),
        views_updated_ms=round(med["views"], 2), painted_after_views_ms=round(med["total"] - med["views"], 2),
        repaints_per_drop=statistics.median(o["repaints"] for o in ours))

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"cores available: {cores}; model {figure.notes['model']} ({info.arch}), images "
          f"{images[0].name} / {images[1].name} alternating; {args.rounds} rounds after {args.warmup} "
          f"warm-up; {thread_budget()} torch thread(s) in the worker and the reference")
    print(f"drop-to-result (GUI)   per round {', '.join(f'{v:.1f}' for v in ms)} ms   median "
          f"{statistics.median(ms):.1f} ms")
    print(f"  of which: analyze() in the worker {med['analyze']:.1f} ms; every view updated at "
          f"{med['views']:.1f} ms; painted {med['total'] - med['views']:.1f} ms later "
          f"({figure.notes['repaints_per_drop']:g} repaints of the window per drop)")
    print(f"open_image + analyze() per round {', '.join(f'{v:.1f}' for v in ref_ms)} ms   median "
          f"{statistics.median(ref_ms):.1f} ms")
    verdict = "met" if figure.met else "NOT met"
    print(f"drop_to_result: {figure.ratio:.2f}x (min {figure.ratio_min:.2f} .. max {figure.ratio_max:.2f}), "
          f"goal <= {GOAL:.1f}x: {verdict}")
    if profiler is not None:
        import pstats

        print("\nGUI thread, cProfile over the timed drops (cumulative):")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(30)
    if args.json:
        write_json([figure], args.json)
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
