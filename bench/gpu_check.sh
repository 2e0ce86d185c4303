#!/usr/bin/env bash
# The GPU check as one command, for a machine with an NVIDIA GPU and no package registry
# (the H200 lent to some tasks: ~15 minutes, a tree under 64 MiB sent there, no downloads).
#
#   bench/gpu_check.sh prepare [--wheel PATH] [--carry DIR]
#       here, where pip reaches PyPI: fills DIR (default .gpu-carry/, ignored by git; name it
#       in the device tool's `carry`) with
#         llama_cpp-cuda.tar.gz     the CUDA wheel's package (scripts/build_cuda_wheel.sh),
#                                   if given, each library once (~25 MB, not the wheel's 145)
#         src/llama_cpp_python-*.tar.gz  the sdist trimmed to what a build reads (9 MB),
#                                   built there if no wheel came or the wheel cannot offload
#         wheels/*.whl              the Python packages the worker needs that the GPU
#                                   machine's image lacks (cp312, manylinux)
#         tokenizer.gguf            the synthetic models' tokenizer: deepseek-coder's, from
#                                   llama.cpp's vocabulary files in the sdist
#   bench/gpu_check.sh run [--carry DIR] [--cpu-smoke] [--jobs N] [-- gpu_check.py options]
#       there: installs DIR's wheels into /tmp/gpu-check-site (pip --no-index --target), puts
#       the CUDA libraries of the machine's nvidia-* packages on LD_LIBRARY_PATH, checks that
#       llama.cpp can offload (else builds the wheel from src/ for architecture 90 with nvcc,
#       CMake and ninja, on --jobs cores), and runs bench/gpu_check.py: JSON on stdout and in
#       $OUT/gpu_check.json (./gpu_check.json without $OUT). --cpu-smoke: 0 layers offloaded,
#       2 layers per shape, short runs: a test of this script on a machine without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."

command="${1:-}"
[ -n "$command" ] && shift
carry=".gpu-carry"
wheel=""
smoke=0
jobs="$(nproc)"
python="${PYTHON:-python3}"
while [ $# -gt 0 ]; do
    case "$1" in
        --carry) carry="$2"; shift 2 ;;
        --wheel) wheel="$2"; shift 2 ;;
        --cpu-smoke) smoke=1; shift ;;
        --jobs) jobs="$2"; shift 2 ;;
        --) shift; break ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done

PIP_QUIET="--quiet --root-user-action=ignore"

# The worker's packages that the GPU machine's image lacks, at the versions used here.
NEEDED="fastapi starlette uvicorn sse-starlette starlette-context pydantic pydantic-core
pydantic-settings python-dotenv annotated-types typing-inspection diskcache traitlets gguf"

prepare() {
    mkdir -p "$carry/wheels" "$carry/src"
    local scratch version source
    scratch="$(mktemp -d)"
    version="$("$python" -c 'import llama_cpp; print(llama_cpp.__version__)')"
    "$python" -m pip download --quiet --no-deps --no-binary=:all: -d "$scratch" \
        "llama-cpp-python==$version"
    tar -xzf "$scratch"/llama_cpp_python-*.tar.gz -C "$scratch"
    source="$(basename "$scratch"/llama_cpp_python-*/)"
    # deepseek-coder's real tokenizer: llama.cpp's own vocabulary-only GGUF (1.2 MB)
    cp "$scratch/$source/vendor/llama.cpp/models/ggml-vocab-deepseek-coder.gguf" \
        "$carry/tokenizer.gguf"
    if [ -n "$wheel" ]; then
        # The wheel holds each library six times (lib/ and llama_cpp/lib/, three names
        # each; a zip has no links): 145 MB for a CUDA build, over what the device tool
        # sends. The package alone, each library once and its other names as links: ~25 MB.
        local slim="$scratch/slim"
        "$python" -m pip install $PIP_QUIET --no-index --no-deps --no-compile --target "$slim" \
            "$wheel"
        for library in "$slim"/llama_cpp/lib/lib*.so; do
            for other in "$library".*; do
                [ -e "$other" ] && ln -sf "$(basename "$library")" "$other"
            done
        done
        tar -czf "$carry/llama_cpp-cuda.tar.gz" -C "$slim" llama_cpp \
            "$(basename "$slim"/llama_cpp_python-*.dist-info)"
    fi
    # The source too, for a build there if the wheel does not run: the sdist less what a
    # build never reads (docs, vocabulary files, web UI, tests): 77 MB becomes about 10.
    tar -czf "$carry/src/$source.tar.gz" -C "$scratch" \
        --exclude="$source/vendor/llama.cpp/docs" --exclude="$source/vendor/llama.cpp/models" \
        --exclude="$source/vendor/llama.cpp/media" --exclude="$source/vendor/llama.cpp/tools/ui" \
        --exclude="$source/vendor/llama.cpp/tests" --exclude="$source/vendor/llama.cpp/.git*" \
        --exclude="$source/.git" --exclude="$source/vendor/llama.cpp/benches" \
        "$source"
    rm -rf "$scratch"
    local pins=()
    for name in $NEEDED; do
        pins+=("$name==$("$python" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')")
    done
    "$python" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d "$carry/wheels" "${pins[@]}"
    du -sh "$carry" "$carry"/* "$carry"/src/*
    if [ "$(du -sm "$carry" | cut -f1)" -gt 60 ]; then
        echo "$carry is over 60 MiB: with the working tree it may pass the device tool's" \
            "64 MiB; drop $carry/src (the fallback build) if the wheel is carried" >&2
    fi
}

cuda_libraries() {
    # The CUDA runtime and cuBLAS of the machine's nvidia-* packages (PyTorch brings them).
    "$python" - <<'EOF'
import glob, os, site
folders = set()
for root in site.getsitepackages():
    for library in glob.glob(f"{root}/nvidia/**/libcu*.so*", recursive=True):
        folders.add(os.path.dirname(library))
print(":".join(sorted(folders)))
EOF
}

offload_works() {
    "$python" -c 'import llama_cpp, sys
ok = bool(llama_cpp.llama_supports_gpu_offload())
print("llama-cpp-python", llama_cpp.__version__, "can offload:", ok, file=sys.stderr)
sys.exit(0 if ok else 3)'
}

install_cuda_build() {
    local site="$1" cuda_wheel source
    cuda_wheel="$(ls "$carry"/llama_cpp_python-*.whl 2>/dev/null | head -1 || true)"
    if [ -f "$carry/llama_cpp-cuda.tar.gz" ]; then
        tar -xzf "$carry/llama_cpp-cuda.tar.gz" -C "$site"
        offload_works && return 0
        echo "the carried build cannot offload here: building one" >&2
    elif [ -n "$cuda_wheel" ]; then
        "$python" -m pip install $PIP_QUIET --no-index --no-deps --no-compile --upgrade \
            --target "$site" "$cuda_wheel"
        offload_works && return 0
        echo "the carried wheel cannot offload here: building one" >&2
    elif offload_works; then
        return 0  # the machine's own llama-cpp-python can
    fi
    source="$(ls "$carry"/src/*.tar.gz 2>/dev/null | head -1 || true)"
    [ -n "$source" ] || { echo "no CUDA wheel or source in $carry" >&2; return 3; }
    local started
    started=$(date +%s)
    bash scripts/build_cuda_wheel.sh --arch 90-real --jobs "$jobs" --source "$source" \
        --out /tmp/cuda-wheel >&2
    echo "built the CUDA wheel in $(( $(date +%s) - started )) s" >&2
    "$python" -m pip install $PIP_QUIET --no-index --no-deps --no-compile --upgrade \
        --target "$site" /tmp/cuda-wheel/llama_cpp_python-*.whl
    offload_works
}

run() {
    local site=/tmp/gpu-check-site out="${OUT:-.}"
    mkdir -p "$site"
    export PYTHONPATH="$PWD:$site${PYTHONPATH:+:$PYTHONPATH}"
    local mode=()
    if [ "$smoke" = 1 ]; then
        # This machine's own llama-cpp-python and packages (the carried wheels are cp312).
        mode=(--cpu-smoke --max-tokens 32 --runs 2 --prompt-tokens 256)
    else
        if ls "$carry"/wheels/*.whl >/dev/null 2>&1; then
            "$python" -m pip install $PIP_QUIET --no-index --no-deps --no-compile --target "$site" \
                "$carry"/wheels/*.whl
        fi
        local libraries
        libraries="$(cuda_libraries)"
        export LD_LIBRARY_PATH="${libraries}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        install_cuda_build "$site" || exit 3
    fi
    local tokenizer=()
    [ -f "$carry/tokenizer.gguf" ] && tokenizer=(--tokenizer "$carry/tokenizer.gguf")
    PYTHONUNBUFFERED=1 "$python" bench/gpu_check.py "${tokenizer[@]}" "${mode[@]}" \
        --out "$out/gpu_check.json" "$@"
}

case "$command" in
    prepare) prepare ;;
    run) run "$@" ;;
    *) sed -n "2,22p" "$0"; exit 2 ;;
esac
