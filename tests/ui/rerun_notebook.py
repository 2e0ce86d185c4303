"""Run a saved notebook from the top in a fresh kernel with nbclient, as "Restart kernel and
run all cells" does, and print what failed as JSON: {"cells": N, "failed": [{"index",
"error"}]}. Every cell runs (errors are allowed, then counted), so that one failure does
not hide the next. Used by the browser tests (autocoder.ts `rerunInFreshKernel`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def rerun(path: Path) -> dict:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    failed = []
    cells = 0
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        cells += 1
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                failed.append({"index": index, "error": f"{output['ename']}: {output['evalue']}"})
    return {"cells": cells, "failed": failed}


if __name__ == "__main__":
    print(json.dumps(rerun(Path(sys.argv[1]))))
