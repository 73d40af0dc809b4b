"""The benchmark suite: every figure a ratio against a reference measured in the same run.

    python -m bench [--quick] [--only KEY,...] [--json bench/results.json] [--markdown]

Runs each bench script in its own process, one after the other (they would disturb each other's
timings if run together), collects their figures and prints one table: ours, the reference, the median
ratio with its min-max over the rounds, the goal and whether it is met. ``--json`` writes the table with
the machine it was measured on; ``--markdown`` also prints it as the README's table. ``--quick`` runs
fewer rounds (a smoke run, not for the README).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Figure, machine, read_json  # noqa: E402

# script, arguments (full run), arguments (--quick), the figure keys it produces
SCRIPTS: list[tuple[str, list[str], list[str], tuple[str, ...]]] = [
    # One thread: what the app's analysis worker uses on this 2-core machine (all cores but one).
    ("bench_analyze.py", ["--runs", "21", "--threads", "1"],
     ["--runs", "5", "--warmup", "1", "--threads", "1"], ("analyze_vs_torchvision", "gradcam_vs_hand")),
    # Each CAM method against a bare forward + backward; Score-CAM's one pair takes minutes on one thread.
    ("bench_cams.py", ["--runs", "11", "--slow-runs", "1", "--threads", "1"],
     ["--runs", "3", "--warmup", "1", "--slow-runs", "1", "--threads", "1", "--methods",
      "gradcam,gradcam++,layercam,occlusion"],
     ("cam_gradcam_vs_fwd_bwd", "cam_gradcampp_vs_fwd_bwd", "cam_layercam_vs_fwd_bwd",
      "cam_scorecam_vs_fwd_bwd", "cam_occlusion_vs_fwd_bwd")),
    ("bench_gui_latency.py", ["--offscreen", "--rounds", "9"], ["--offscreen", "--rounds", "3"],
     ("drop_to_result",)),
    ("bench_gui_latency.py", ["--offscreen", "--rounds", "9", "--model", "random:resnet50"],
     ["--offscreen", "--rounds", "3", "--model", "random:resnet50"], ("drop_to_result_resnet50",)),
    ("bench_train.py", ["--threads", "2", "--rounds", "5"],
     ["--threads", "2", "--rounds", "2", "--steps", "15"], ("train_vs_hand", "train_mfu")),
    ("bench_gui_stall.py", ["--offscreen", "--rounds", "3", "--seconds", "5"],
     ["--offscreen", "--rounds", "2", "--seconds", "2"], ("stall_while_training",)),
    # The three "why shortcuts work" studies, one unit of each (a pass, a grid point, one architecture).
    ("bench_studies.py", ["--runs", "7", "--threads", "1"], ["--runs", "2", "--warmup", "0", "--threads", "1",
                                                             "--images", "250"],
     ("study_lesion_pass", "study_landscape_point", "study_gradients")),
    ("bench_startup.py", ["--rounds", "7"], ["--rounds", "3"], ("app_start",)),
    ("bench_memory.py", ["--rounds", "5"], ["--rounds", "2"], ("analyze_peak_memory",)),
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds: a smoke run")
    parser.add_argument("--only", default="", help="comma-separated figure keys or script names")
    parser.add_argument("--json", default=None, metavar="PATH", help="write the table as JSON")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    return parser.parse_args(argv)


def wanted(script: str, keys: tuple[str, ...], only: set[str]) -> bool:
    return not only or script in only or script.removesuffix(".py") in only or bool(only & set(keys))


def run_script(script: str, arguments: list[str]) -> tuple[list[Figure], str]:
    """Run one bench script; its figures, or an empty list and the reason it failed."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        command = [sys.executable, str(ROOT / "bench" / script), *arguments, "--json", str(out)]
        print(f"$ {' '.join(command[1:])}", flush=True)
        env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        shown = [line for line in done.stdout.splitlines() if line.strip()]
        for line in shown[-8:]:
            print(f"    {line}")
        if not out.exists():
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return [], f"{script} failed (exit {done.returncode}): {tail}"
        return read_json(out), ""


def fmt_measure(figure: Figure, side: str) -> str:
    m = figure.ours if side == "ours" else figure.ref
    if m is None:
        return ""
    digits = 0 if m.median >= 100 else 1 if m.median >= 10 else 2
    text = f"{m.median:.{digits}f} {m.unit}"
    if side == "ours" and figure.goal_on == "ours_max":
        text += f" (worst {m.max:.{digits}f})"
    return text


def fmt_goal(figure: Figure) -> str:
    if figure.goal is None:
        return "report"
    sign = "<=" if figure.better == "lower" else ">="
    if figure.goal_on in ("ours", "ours_max"):
        return f"{sign} {figure.goal:g} {figure.ours.unit if figure.ours else ''}".strip()
    return f"{sign} {figure.goal:g}x"


def fmt_status(figure: Figure) -> str:
    return {True: "met", False: "NOT met", None: "-"}[figure.met]


def table_rows(figures: list[Figure]) -> list[list[str]]:
    rows = []
    for f in figures:
        device = "" if f.device == "cpu" else f" [{f.device}]"
        rows.append([f.figure + device, f.reference, fmt_measure(f, "ours"), fmt_measure(f, "ref"),
                     f"{f.ratio:.3g}x ({f.ratio_min:.3g}-{f.ratio_max:.3g})", fmt_goal(f), fmt_status(f)])
    return rows


HEADER = ["figure", "reference (same run)", "ours", "reference", "ratio (min-max)", "goal", ""]


def print_table(figures: list[Figure]) -> None:
    rows = [HEADER, *table_rows(figures)]
    widths = [min(60, max(len(r[i]) for r in rows)) for i in range(len(HEADER))]
    for r in rows:
        print("  ".join(cell[:60].ljust(w) for cell, w in zip(r, widths, strict=True)))


def markdown(figures: list[Figure]) -> str:
    lines = ["| " + " | ".join(HEADER[:-1] + ["status"]) + " |", "|" + "---|" * len(HEADER)]
    for r in table_rows(figures):
        lines.append("| " + " | ".join(c.replace("|", "/") for c in r) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    only = {k.strip() for k in args.only.split(",") if k.strip()}
    started = time.perf_counter()
    figures: list[Figure] = []
    failures: list[str] = []
    for script, full, quick, keys in SCRIPTS:
        if not wanted(script, keys, only):
            continue
        got, error = run_script(script, quick if args.quick else full)
        figures += [f for f in got if not only or f.key in only or wanted(script, (), only)]
        if error:
            failures.append(error)
    info = machine()
    print()
    print(f"machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, torch {info['torch']}"
          + (f", GPU {info['gpu']}" if "gpu" in info else ", no GPU"))
    print_table(figures)
    for failure in failures:
        print(f"FAILED: {failure}")
    if args.markdown:
        print()
        print(markdown(figures))
    if args.json:
        report = {"machine": info, "command": "python -m bench" + (" --quick" if args.quick else ""),
                  "seconds": round(time.perf_counter() - started), "figures": [vars(f) | {
                      "ours": vars(f.ours) if f.ours else None, "ref": vars(f.ref) if f.ref else None,
                      "met": f.met} for f in figures], "failures": failures}
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
