"""Explorations by a real model on scikit-learn's bundled datasets (issue 14).

Writes iris, wine and diabetes as CSV files, runs `jupyter-autocoder explore` on each (a
fresh kernel; the notebook rerun by nbclient in another) and prints JSON: per dataset the
steps, cells, rounds, seconds and whether the notebook reruns clean.

    python bench/bench_explore.py --model qwen2.5-coder-1.5b --keep notebooks/explorations

Not a timed test: it takes minutes per dataset on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATASETS = ("iris", "wine", "diabetes")


def write_dataset(name: str, folder: Path) -> Path:
    """scikit-learn's bundled dataset as a CSV file with named columns (and the target)."""
    from sklearn import datasets

    frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
    if name in ("iris", "wine"):
        # The class as a label a person would write, not a code.
        names = getattr(datasets, f"load_{name}")().target_names
        frame["target"] = [str(names[code]) for code in frame["target"]]
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path


def explore(data: Path, output: Path, model: str, rounds: int, steps: int) -> dict:
    command = [
        sys.executable, "-m", "jupyter_autocoder.cli", "explore", str(data),
        "--output", str(output), "--model", model, "--rounds", str(rounds),
        "--steps", str(steps), "--install", "never", "--json",
    ]  # fmt: skip
    started = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, cwd=output.parent)
    seconds = time.perf_counter() - started
    try:
        report = json.loads(finished.stdout)
    except json.JSONDecodeError:
        return {"error": finished.stderr[-2000:], "exit_code": finished.returncode}
    done = report.get("done") or {}
    return {
        "exit_code": finished.returncode,
        "steps_planned": len(report["steps"]),
        "steps_done": done.get("steps_done"),
        "steps": [(step.get("title"), step.get("status")) for step in report["steps"]],
        "cells": report["cells"],
        "code_cells": report["code_cells"],
        "rounds": done.get("rounds"),
        "seconds": round(seconds, 1),
        "ended": done.get("reason"),
        "unverified_numbers": report["unverified_numbers"],
        "reruns_clean": report["reruns_clean"],
        "failing_cells": report["failing_cells"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--keep", default=None, help="copy the notebooks into this folder")
    arguments = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-explore-") as folder:
        folder_path = Path(folder)
        for name in arguments.datasets.split(","):
            data = write_dataset(name, folder_path)
            output = folder_path / f"{name}_exploration.ipynb"
            results[name] = explore(data, output, arguments.model, arguments.rounds,
                                    arguments.steps)  # fmt: skip
            print(f"{name}: {json.dumps(results[name])}", file=sys.stderr, flush=True)
            if arguments.keep and output.exists():
                keep = Path(arguments.keep)
                keep.mkdir(parents=True, exist_ok=True)
                (keep / output.name).write_bytes(output.read_bytes())
    clean = sum(1 for result in results.values() if result.get("reruns_clean"))
    print(json.dumps({
        "what": "jupyter-autocoder explore on scikit-learn's datasets as CSV files",
        "model": arguments.model,
        "rounds": arguments.rounds,
        "max_steps": arguments.steps,
        "reruns_clean": f"{clean} of {len(results)}",
        "datasets": results,
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "machine": platform.machine(),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
