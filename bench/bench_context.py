"""Cost of the panel's question to a kernel about its variables: one silent execution of
`executors/kernel_code.py`'s call, timed from the request to the kernel's reply and idle
status (what the panel waits for before it sends a request), in a real kernel holding 100
variables, among them a DataFrame of 1,000,000 rows.

    python bench/bench_context.py [--repeat 30] [--rows 1000000]

Prints JSON: the median and 90th percentile of the round trip, the kernel's own share
(`seconds` of `values.kernel_context`), the first call of a kernel (which loads the
module), and an `@name` detail of the big DataFrame (head, describe, value counts).
Target: a median under 50 ms for the summary. Run it alone (`flock /tmp/cpu-heavy.lock`)
and read `load` beside the figures: on a shared machine they vary with it.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_client.manager import start_new_kernel

from jupyter_autocoder.executors import kernel_code

TARGET_MS = 50.0

SETUP = """
import numpy as np
import pandas as pd
rng = np.random.default_rng(0)
for number in range(98):
    kind = number % 7
    globals()[f"v{number}"] = (
        number if kind == 0 else
        f"text {number}" * 3 if kind == 1 else
        list(range(number)) if kind == 2 else
        {f"k{i}": i for i in range(number % 20)} if kind == 3 else
        np.arange(number * 10.0) if kind == 4 else
        pd.DataFrame({"x": range(50), "y": [float(i) for i in range(50)]}) if kind == 5 else
        pd.Series(range(100), name=f"s{number}")
    )
del number, kind
big = pd.DataFrame({
    "id": np.arange(ROWS),
    "value": rng.random(ROWS),
    "group": rng.choice(["north", "south", "east", "west"], ROWS),
    "when": pd.date_range("2020-01-01", periods=ROWS, freq="min"),
})
"""


def silent(client, code: str, timeout: float = 120.0) -> tuple[float, str]:
    """Run `code` silently; seconds until both the reply and the idle status came, and stdout."""
    started = time.perf_counter()
    msg_id = client.execute(code, silent=True, store_history=False)
    stdout, idle, replied = [], False, False
    deadline = started + timeout
    while not (idle and replied):
        if time.perf_counter() > deadline:
            raise TimeoutError("the kernel did not answer")
        if not idle:
            try:
                message = client.get_iopub_msg(timeout=0.001)
            except queue.Empty:
                message = None
            if message and message["parent_header"].get("msg_id") == msg_id:
                kind, content = message["msg_type"], message["content"]
                if kind == "stream" and content["name"] == "stdout":
                    stdout.append(content["text"])
                elif kind == "error":
                    raise RuntimeError(f"{content['ename']}: {content['evalue']}")
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
        if not replied:
            try:
                reply = client.get_shell_msg(timeout=0.001)
            except queue.Empty:
                reply = None
            if reply and reply["parent_header"].get("msg_id") == msg_id:
                replied = True
    return time.perf_counter() - started, "".join(stdout)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--budget", type=int, default=3000, help="characters of the summary")
    args = parser.parse_args()

    load_before = os.getloadavg()
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        executed = client.execute_interactive(
            SETUP.replace("ROWS", str(args.rows)), timeout=300, store_history=True
        )
        assert executed["content"]["status"] == "ok", executed["content"]

        call = kernel_code.call_code({"budget": args.budget, "details": []})
        missing_seconds, answer = silent(client, call)
        assert json.loads(answer) == kernel_code.MISSING
        load_seconds, _ = silent(client, kernel_code.load_code())
        first_seconds, answer = silent(client, call)
        told = json.loads(answer)
        names = [variable["name"] for variable in told["variables"]]
        assert "big" in names, names  # the 1M-row frame is among those described

        round_trips, in_kernel = [], []
        for _ in range(args.repeat):
            seconds, answer = silent(client, call)
            round_trips.append(seconds)
            in_kernel.append(json.loads(answer)["seconds"])

        detail_call = kernel_code.call_code({"budget": args.budget, "details": ["big"]})
        detail_trips = []
        for _ in range(max(3, args.repeat // 5)):
            seconds, answer = silent(client, detail_call)
            detail_trips.append(seconds)
        detail = json.loads(answer)["attached"][0]["summary"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)

    median_ms = statistics.median(round_trips) * 1000
    print(
        json.dumps(
            {
                "bench": "kernel_context",
                "variables_in_kernel": len(told["names"]),  # data; the modules besides
                "big_dataframe_rows": args.rows,
                "variables_described": len(told["variables"]),
                "summary_characters": sum(
                    len(v["name"]) + len(v["type_name"]) + len(v["summary"]) + 8
                    for v in told["variables"]
                ),
                "repeat": args.repeat,
                "median_ms": round(median_ms, 2),
                "p90_ms": round(percentile(round_trips, 0.9) * 1000, 2),
                "in_kernel_median_ms": round(statistics.median(in_kernel) * 1000, 2),
                "first_call_missing_ms": round(missing_seconds * 1000, 2),
                "load_module_ms": round(load_seconds * 1000, 2),
                "first_call_after_load_ms": round(first_seconds * 1000, 2),
                "at_name_detail_median_ms": round(statistics.median(detail_trips) * 1000, 2),
                "at_name_detail_characters": len(detail),
                "target_ms": TARGET_MS,
                "within_target": median_ms < TARGET_MS,
                "load_before": [round(value, 2) for value in load_before],
                "load_after": [round(value, 2) for value in os.getloadavg()],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
