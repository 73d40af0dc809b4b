"""Recorded training curves: the shipped Figure 6 runs, read from the engine's ``metrics.csv`` files.

The engine's compare mode writes one run directory per model (``OUT/<model>/metrics.csv``). A recorded
run is such an output copied under ``assets/runs/<run-name>/``; the loader also accepts flat files
(``assets/runs/<run-name>/<model>.csv``) and a single CSV with an ``arch`` column.

Columns are found by name, so a new column in the engine's file never breaks the loader. Errors are
returned as percentages (the paper's Fig. 6 plots error in %); a file that stores accuracy instead of
error, or fractions instead of percentages, is converted.

:func:`render_png` draws the curves with Pillow alone (no Qt, no matplotlib), for the README and for
headless machines.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from resnet_explorer.core.errors import ExplorerError
from resnet_explorer.core.files import MAX_TABLE_BYTES, read_file_text

if TYPE_CHECKING:
    from PIL import ImageDraw, ImageFont

# Name of the recorded run the Train tab shows with "Show recorded run": the bundled family's curves
# (every member on all 60k images, one budget). "figure6", the older 5k-subset run, ships beside it.
DEFAULT_RUN = "family"

# Accepted column names, most specific first. The engine's own names come first.
X_ITERATION = ("iteration", "iter", "step", "global_step")
X_EPOCH = ("epoch",)
TRAIN_LOSS = ("train_loss", "loss")
TRAIN_ERROR = ("train_error", "train_err", "train_top1_error", "train_error_pct")
TRAIN_ACC = ("train_acc", "train_accuracy", "train_top1")
TEST_ERROR = ("test_error", "test_err", "val_error", "test_top1_error", "test_error_pct")
TEST_ACC = ("test_acc", "test_accuracy", "test_top1", "val_acc", "val_top1")
TEST_LOSS = ("test_loss", "val_loss")
ARCH = ("arch", "model")


class RecordedRunMissing(ExplorerError):
    """No recorded run is shipped (yet) where the loader looked."""


class RecordedRunError(ExplorerError):
    """A recorded-run file exists but cannot be read as training curves."""


@dataclass
class Curves:
    """The training curves of one model. Arrays are float64; NaN marks a step without that value.

    ``x`` is in epochs (fractional when the file has iterations and epochs), ``x_label`` says so.
    """

    name: str
    x: np.ndarray
    train_loss: np.ndarray
    train_error: np.ndarray
    test_error: np.ndarray
    x_label: str = "epoch"
    test_loss: np.ndarray | None = None

    @property
    def depth(self) -> int | None:
        """Layer count read from the name (``plain56`` -> 56), or ``None``."""
        match = re.search(r"(\d+)$", self.name)
        return int(match.group(1)) if match else None

    @property
    def residual(self) -> bool:
        """Whether the model has shortcuts (every name except ``plain*``)."""
        return not self.name.lower().startswith("plain")

    def final_test_error(self) -> float:
        """The last recorded test error in %, NaN when the run never evaluated."""
        valid = self.test_error[~np.isnan(self.test_error)]
        return float(valid[-1]) if valid.size else math.nan


@dataclass
class RecordedRun:
    """A set of curves recorded together (one per model), e.g. the paper's Figure 6 comparison."""

    name: str
    source: Path
    curves: dict[str, Curves] = field(default_factory=dict)

    def ordered(self) -> list[Curves]:
        """Plain nets first, then residual ones, each by depth: the order of the paper's legend."""
        return sorted(self.curves.values(), key=lambda c: (c.residual, c.depth or 0, c.name))


def runs_dir() -> Path:
    """Where the shipped recorded runs live (``assets/runs``)."""
    from resnet_explorer.resources import asset

    return asset("runs")


def list_recorded_runs(root: Path | None = None) -> list[str]:
    """Names of the recorded runs shipped under ``root`` (default: ``assets/runs``)."""
    root = runs_dir() if root is None else Path(root)
    if not root.is_dir():
        return []
    names = [p.name for p in sorted(root.iterdir()) if p.is_dir() and _csv_files(p)]
    if any(p.suffix == ".csv" for p in root.iterdir()):
        names.insert(0, ".")
    return names


def load_recorded_run(name: str = DEFAULT_RUN, root: Path | None = None) -> RecordedRun:
    """Load the recorded run ``name`` from ``root`` (default ``assets/runs``), or from a path.

    ``name`` may be a run directory, a single CSV file, or the name of a folder under ``root``.
    Raises :class:`RecordedRunMissing` with a clear message when nothing is shipped there.
    """
    path = Path(name)
    if not path.exists():
        path = (runs_dir() if root is None else Path(root)) / name
    if path.is_file():
        return RecordedRun(path.stem, path, read_metrics_csv(path, default_name=path.stem))
    files = _csv_files(path) if path.is_dir() else []
    if not files:
        raise RecordedRunMissing(
            f"No recorded run is shipped yet at {path}: record one with the engine's compare mode "
            "(e.g. resnet-explorer train --arch plain20,plain56,resnet20,resnet56) and copy its output there."
        )
    run = RecordedRun(path.name, path)
    for file in files:
        run.curves.update(read_metrics_csv(file, default_name=_model_name(path, file)))
    return run


def read_metrics_csv(path: Path, default_name: str = "model") -> dict[str, Curves]:
    """Parse one metrics CSV into curves, keyed by model name (the ``arch`` column, else ``default_name``).

    Raises :class:`RecordedRunError` naming the file when it has no usable column or no rows.
    """
    path = Path(path)
    try:
        text = read_file_text(path, MAX_TABLE_BYTES, noun="a metrics table")  # never a pipe or a device
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except (ExplorerError, csv.Error) as exc:
        raise RecordedRunError(f"Cannot read recorded run {path}: {exc}") from exc
    if not rows:
        raise RecordedRunError(f"Recorded run {path} has no rows")
    columns = {c.strip().lower(): c for c in rows[0] if c}
    arch_col = _find(columns, ARCH)
    groups: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        key = (row.get(arch_col) or default_name).strip() if arch_col else default_name
        groups.setdefault(key, []).append(row)
    return {name: _curves_from_rows(name, group, columns, path) for name, group in groups.items()}


def _curves_from_rows(
    name: str, rows: list[dict[str, str]], columns: dict[str, str], path: Path
) -> Curves:
    """Build one :class:`Curves` from the rows of one model."""
    epoch = _column(rows, columns, X_EPOCH)
    iteration = _column(rows, columns, X_ITERATION)
    if epoch is None and iteration is None:
        raise RecordedRunError(f"Recorded run {path} has neither an 'epoch' nor an 'iteration' column")
    x, x_label = (epoch, "epoch") if epoch is not None else (iteration, "iteration")
    train_err = _error_column(rows, columns, TRAIN_ERROR, TRAIN_ACC)
    test_err = _error_column(rows, columns, TEST_ERROR, TEST_ACC)
    loss = _column(rows, columns, TRAIN_LOSS)
    if train_err is None and test_err is None and loss is None:
        raise RecordedRunError(f"Recorded run {path} has no loss or error column")
    nan = np.full(len(rows), np.nan)
    assert x is not None
    order = np.argsort(x, kind="stable")  # files appended after a resume may be out of order
    return Curves(
        name=name,
        x=x[order],
        train_loss=(loss if loss is not None else nan)[order],
        train_error=(train_err if train_err is not None else nan)[order],
        test_error=(test_err if test_err is not None else nan)[order],
        x_label=x_label,
        test_loss=None if (tl := _column(rows, columns, TEST_LOSS)) is None else tl[order],
    )


def _find(columns: dict[str, str], names: Sequence[str]) -> str | None:
    """The file's spelling of the first of ``names`` it has."""
    for name in names:
        if name in columns:
            return columns[name]
    return None


def _column(rows: list[dict[str, str]], columns: dict[str, str], names: Sequence[str]) -> np.ndarray | None:
    """One numeric column (empty cells and text become NaN), or ``None`` when absent."""
    col = _find(columns, names)
    if col is None:
        return None
    return np.array([_to_float(row.get(col)) for row in rows], dtype=np.float64)


def _error_column(
    rows: list[dict[str, str]], columns: dict[str, str], errors: Sequence[str], accuracies: Sequence[str]
) -> np.ndarray | None:
    """An error column in %, taken from an error column or derived from an accuracy column."""
    values = _column(rows, columns, errors)
    from_accuracy = values is None
    if from_accuracy:
        values = _column(rows, columns, accuracies)
    if values is None:
        return None
    finite = values[np.isfinite(values)]
    # Fractions (0..1) become percentages; a column whose values all lie in [0, 1] is a fraction.
    if finite.size and finite.max() <= 1.0:
        values = values * 100.0
    return 100.0 - values if from_accuracy else values


def _to_float(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


def _csv_files(directory: Path) -> list[Path]:
    """``*.csv`` directly in ``directory`` and ``*/metrics.csv`` one level below, sorted."""
    flat = sorted(p for p in directory.glob("*.csv") if p.is_file())
    nested = sorted(p for p in directory.glob("*/metrics.csv") if p.is_file())
    return flat + nested


def _model_name(run_dir: Path, file: Path) -> str:
    """``run/plain56/metrics.csv`` -> ``plain56``; ``run/plain56.csv`` -> ``plain56``."""
    return file.parent.name if file.name == "metrics.csv" and file.parent != run_dir else file.stem


# --------------------------------------------------------------------------------------------------
# Headless rendering (Pillow)
# --------------------------------------------------------------------------------------------------

# Okabe-Ito colours (safe for colour-blind readers), one per depth as in the paper's legend.
DEPTH_COLOURS = {
    20: (0, 114, 178), 32: (86, 180, 233), 44: (0, 158, 115), 56: (213, 94, 0), 110: (0, 0, 0),
    1202: (204, 121, 167),
    18: (0, 114, 178), 34: (213, 94, 0), 50: (0, 158, 115), 101: (204, 121, 167), 152: (0, 0, 0),
}
FALLBACK_COLOURS = [(0, 114, 178), (204, 121, 167), (240, 228, 66), (117, 112, 179)]


def colour_for(name: str, index: int = 0) -> tuple[int, int, int]:
    """The RGB colour of a model's curves: by depth, so plain56 and resnet56 share a colour."""
    match = re.search(r"(\d+)$", name)
    depth = int(match.group(1)) if match else None
    if depth in DEPTH_COLOURS:
        return DEPTH_COLOURS[depth]
    return FALLBACK_COLOURS[index % len(FALLBACK_COLOURS)]


def render_png(run: RecordedRun, path: Path, size: tuple[int, int] = (1200, 480),
               y_max: float | None = None) -> Path:
    """Draw the run like the paper's Fig. 6 (plain nets left, ResNets right; thin = train, bold = test).

    ``y_max`` (in %) fixes the error axis (the paper's Fig. 6 shows 0-20%); by default it fits every value.
    Uses Pillow only, so it works on a server. Returns ``path``.
    """
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    panels = _panels(run.ordered())
    width = size[0] // len(panels)
    if y_max is None:
        y_max = _error_ceiling(c for group in panels.values() for c in group)
    for i, (title, group) in enumerate(panels.items()):
        _draw_panel(draw, (i * width, 0, (i + 1) * width, size[1]), title, group, y_max)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def _panels(curves: list[Curves]) -> dict[str, list[Curves]]:
    """Split into "plain" and "ResNet" panels like Fig. 6; one panel when only one kind is present."""
    plain = [c for c in curves if not c.residual]
    residual = [c for c in curves if c.residual]
    if plain and residual:
        return {"Plain networks": plain, "Residual networks (ResNets)": residual}
    return {"Plain networks" if plain else "Residual networks (ResNets)": plain or residual}


def _error_ceiling(curves: Iterable[Curves]) -> float:
    """A y-axis top that shows every error value, rounded up to 10%."""
    values = [v for c in curves for arr in (c.train_error, c.test_error) for v in arr[np.isfinite(arr)]]
    top = max(values, default=100.0)
    return float(min(100.0, max(10.0, math.ceil(top / 10.0) * 10.0)))


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def _draw_panel(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], title: str, curves: list[Curves],
                y_max: float) -> None:
    """One Fig. 6 panel: axes, grid, labels, curves and legend inside ``box``."""
    left, top, right, bottom = box
    plot = (left + 70, top + 40, right - 20, bottom - 55)
    x_max = max((float(np.nanmax(c.x)) for c in curves if c.x.size), default=1.0) or 1.0
    _draw_axes(draw, plot, x_max, y_max, curves[0].x_label if curves else "epoch")
    draw.text(((plot[0] + plot[2]) // 2, top + 12), title, fill="black", font=_font(18), anchor="mt")

    def to_px(xs: np.ndarray, ys: np.ndarray) -> list[tuple[float, float]]:
        px = plot[0] + xs / x_max * (plot[2] - plot[0])
        py = plot[3] - np.clip(ys, 0, y_max) / y_max * (plot[3] - plot[1])
        return list(zip(px.tolist(), py.tolist(), strict=True))

    for i, c in enumerate(curves):
        colour = colour_for(c.name, i)
        for ys, width in ((c.train_error, 1), (c.test_error, 3)):
            ok = np.isfinite(ys) & np.isfinite(c.x)
            if ok.sum() >= 2:
                draw.line(to_px(c.x[ok], ys[ok]), fill=colour, width=width, joint="curve")
    _draw_legend(draw, plot, curves)


def _draw_axes(draw: ImageDraw.ImageDraw, plot: tuple[int, int, int, int], x_max: float, y_max: float,
               x_label: str) -> None:
    x0, y0, x1, y1 = plot
    small = _font(13)
    for k in range(0, 6):
        y = y1 - k / 5 * (y1 - y0)
        draw.line([(x0, y), (x1, y)], fill=(225, 225, 225))
        draw.text((x0 - 8, y), f"{y_max * k / 5:.0f}", fill="black", font=small, anchor="rm")
        x = x0 + k / 5 * (x1 - x0)
        draw.text((x, y1 + 8), _tick(x_max * k / 5), fill="black", font=small, anchor="mt")
    draw.rectangle(plot, outline="black")
    draw.text(((x0 + x1) // 2, y1 + 30), x_label, fill="black", font=_font(14), anchor="mt")
    # Pillow cannot rotate text in place: the y label sits above the axis instead of beside it.
    draw.text((x0 - 40, y0 - 8), "error (%)", fill="black", font=_font(14), anchor="lb")


def _tick(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _draw_legend(draw: ImageDraw.ImageDraw, plot: tuple[int, int, int, int], curves: list[Curves]) -> None:
    """Model names with their colour, plus the thin/bold key, in the top-right corner."""
    font = _font(13)
    x, y = plot[2] - 170, plot[1] + 10
    for i, c in enumerate(curves):
        draw.line([(x, y + 8), (x + 28, y + 8)], fill=colour_for(c.name, i), width=3)
        draw.text((x + 36, y + 8), c.name, fill="black", font=font, anchor="lm")
        y += 20
    draw.text((x, y + 6), "thin: train   bold: test", fill=(90, 90, 90), font=font, anchor="lm")
