"""Cost of the guard of the user's variables per round (before + after a run); prints JSON.

    python bench/bench_guard.py [--rounds 50] [--rows 1000000] [--no-kernel]

A namespace of 100 user variables, as a working notebook has them: a DataFrame of `--rows`
rows (float, int, string, datetime and category columns), ten small DataFrames, ten Series,
nine numpy arrays, twenty lists, ten dicts and forty numbers and strings. Measured:

- in_process: `NamespaceGuard.before` + `.after` on that namespace, as the magic runs them in
  its own shell (`ShellExecutor.guard`), with nothing changed, and with a column of the
  large frame converted in place (the case that is reported);
- kernel: the same through `KernelExecutor.guard` in a real kernel (two silent requests a
  round: what the CLI and the evaluation pay; the panel's probes add the browser's hop);
- begin_turn: once a turn, listing the user's names.

The target (issue 18) is under 20 ms a round.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

SETUP = """
import numpy as np, pandas as pd
rng = np.random.default_rng(0)
rows = {rows}
big = pd.DataFrame({{
    'x': rng.random(rows),
    'n': rng.integers(0, 1000, rows),
    'label': rng.choice(['a', 'b', 'c', 'd'], rows),
    'when': pd.date_range('2020-01-01', periods=rows, freq='min'),
    'kind': pd.Categorical(rng.choice(['p', 'q'], rows)),
}})
for i in range(10):
    globals()[f'frame{{i}}'] = pd.DataFrame(rng.random((1000, 5)), columns=list('abcde'))
    globals()[f'series{{i}}'] = pd.Series(rng.random(1000))
    globals()[f'table{{i}}'] = {{f'k{{j}}': j for j in range(50)}}
for i in range(9):
    globals()[f'array{{i}}'] = rng.random((1000, 10))
for i in range(20):
    globals()[f'items{{i}}'] = list(range(200))
for i in range(20):
    globals()[f'number{{i}}'] = i * 1.5
    globals()[f'text{{i}}'] = f'text {{i}}'
del i
"""


def timings(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 3),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 3),
        "min_ms": round(ordered[0] * 1000, 3),
    }


def in_process(rounds: int, rows: int) -> dict:
    from jupyter_autocoder.executors.guard import NamespaceGuard

    namespace: dict = {}
    exec(SETUP.format(rows=rows), namespace)  # noqa: S102 - the benchmark's own setup
    del namespace["__builtins__"], namespace["np"], namespace["pd"], namespace["rng"]
    del namespace["rows"]
    guard = NamespaceGuard()
    started = time.perf_counter()
    watched = guard.begin_turn(namespace, {})
    begin = time.perf_counter() - started
    unchanged, changed, found = [], [], None
    for _ in range(rounds):
        started = time.perf_counter()
        guard.before(namespace)
        assert guard.after(namespace) == []
        unchanged.append(time.perf_counter() - started)
    for _ in range(rounds):
        guard.before(namespace)
        namespace["big"]["kind"] = namespace["big"]["kind"].astype(str)  # the user's frame
        started = time.perf_counter()
        found = guard.after(namespace)
        after = time.perf_counter() - started
        namespace["big"]["kind"] = namespace["big"]["kind"].astype("category")
        changed.append(after)
    return {
        "watched": watched,
        "begin_turn_ms": round(begin * 1000, 3),
        "round_unchanged": timings(unchanged),
        "after_with_a_conversion": timings(changed),
        "reported": found,
    }


def in_kernel(rounds: int, rows: int) -> dict:
    from jupyter_autocoder.executors.kernel import KernelExecutor

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH", "")]))
    with KernelExecutor(env={"PYTHONPATH": path}) as kernel:
        assert kernel.run(SETUP.format(rows=rows) + "del rng, rows\n", timeout=300).ok
        watched = kernel.guard("begin_turn")
        seconds = []
        for _ in range(rounds):
            started = time.perf_counter()
            kernel.guard("before")
            assert kernel.guard("after") == []
            seconds.append(time.perf_counter() - started)
    return {"watched": watched, "round_unchanged": timings(seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-kernel", action="store_true", help="skip the real kernel")
    arguments = parser.parse_args()
    report = {
        "rows": arguments.rows,
        "rounds": arguments.rounds,
        "load_before": os.getloadavg(),
        "in_process": in_process(arguments.rounds, arguments.rows),
    }
    if not arguments.no_kernel:
        report["kernel"] = in_kernel(arguments.rounds, arguments.rows)
    report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
