#!/usr/bin/env bash
# Builds a CUDA wheel of llama-cpp-python for one GPU architecture, to install with pip on a
# machine with an NVIDIA GPU (or to carry to one that has no registry).
#
#   scripts/build_cuda_wheel.sh [--arch 90-real] [--version 0.3.36] [--source SDIST|DIR]
#                               [--out DIR] [--jobs N] [--work DIR]
#
# --arch: CMAKE_CUDA_ARCHITECTURES. 90 is Hopper (H100, H200), 89 Ada, 86/80 Ampere,
#   120a Blackwell; "-real" keeps the machine code only (no PTX copy): a smaller wheel that
#   runs on that architecture alone. One architecture builds several times faster than
#   llama.cpp's default list.
# --source: the sdist (or its unpacked folder); default: `pip download` of --version.
#
# The toolkit must have nvcc. cuBLAS, which ggml-cuda links, is taken from the toolkit, else
# from an installed `nvidia-cublas` package (PyTorch brings one), else downloaded from PyPI
# (the `nvidia-cublas` wheel carries its headers and libraries) and pointed at with CMake
# cache variables: a pip-assembled toolkit, as on the development machines, lacks it.
# Without libcuda.so (the driver's library; no driver on a build machine without a GPU, and
# no stubs in a pip-assembled toolkit) the wheel is built with GGML_CUDA_NO_VMM=ON: the
# driver API is then not linked, and ggml's CUDA memory pool uses cudaMalloc instead of
# virtual memory (no measured effect on decode speed is known; it only changes the pool).
#
# At run time the wheel needs libcudart.so.N and libcublas.so.N: from a CUDA toolkit on
# LD_LIBRARY_PATH, or `pip install nvidia-cuda-runtime nvidia-cublas` (CUDA 13) and their
# lib folder on LD_LIBRARY_PATH. `python -c "import llama_cpp;
# print(llama_cpp.llama_supports_gpu_offload())"` says True when the build can offload.
#
# --no-cache-dir matters: pip caches the wheel it builds from the sdist under a key that
# does not include CMAKE_ARGS, so without it a CPU wheel built earlier is silently reused
# and the "CUDA" install cannot offload.
set -euo pipefail

arch="90-real"
version="0.3.36"
source=""
out="${PWD}/dist-cuda"
jobs="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
work=""
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) arch="$2"; shift 2 ;;
        --version) version="$2"; shift 2 ;;
        --source) source="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        --work) work="$2"; shift 2 ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done

python="${PYTHON:-python3}"
nvcc="${CUDACXX:-$(command -v nvcc || true)}"
[ -n "$nvcc" ] || { [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc; }
if [ -z "$nvcc" ] || [ ! -x "$nvcc" ]; then
    echo "nvcc not found: install the CUDA toolkit or set CUDACXX" >&2
    exit 1
fi
cuda_home="$(dirname "$(dirname "$(readlink -f "$nvcc")")")"
cuda_version="$("$nvcc" --version | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p')"
cuda_major="${cuda_version%%.*}"
work="${work:-$(mktemp -d /tmp/llama-cuda-build.XXXXXX)}"
mkdir -p "$work" "$out"
echo "nvcc $cuda_version at $nvcc; arch $arch; jobs $jobs; work $work"

cmake_args=(
    -DGGML_CUDA=on
    "-DCMAKE_CUDA_ARCHITECTURES=${arch}"
    "-DCMAKE_CUDA_COMPILER=${nvcc}"
    # Portable CPU code: -march=native of the build machine may not run on the GPU machine.
    -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
    # The multimodal library: not needed for text chat, and a few minutes of compiling.
    -DLLAVA_BUILD=OFF
)

# cuBLAS: the toolkit's own, an installed nvidia-cublas package, or one from PyPI.
cublas_root=""
for candidate in "$cuda_home" "$cuda_home/targets/x86_64-linux"; do
    if [ -f "$candidate/include/cublas_v2.h" ]; then cublas_root="toolkit"; fi
done
if [ -z "$cublas_root" ]; then
    cublas_root="$("$python" - "$cuda_major" <<'EOF' || true
import glob, os, site, sys
major = sys.argv[1]
roots = site.getsitepackages() + [site.getusersitepackages()]
for root in roots:
    for lib in (f"nvidia/cu{major}", "nvidia/cublas"):
        folder = os.path.join(root, lib)
        if glob.glob(f"{folder}/include/cublas_v2.h") and glob.glob(f"{folder}/lib/libcublas.so*"):
            print(folder)
            raise SystemExit
EOF
)"
fi
if [ -z "$cublas_root" ]; then
    # nvidia-cublas (CUDA 13 on) or nvidia-cublas-cu12, at the toolkit's minor release.
    package="nvidia-cublas"
    [ "$cuda_major" -lt 13 ] && package="nvidia-cublas-cu${cuda_major}"
    if ! ls "$work"/cublas-wheel/*.whl >/dev/null 2>&1; then
        echo "cuBLAS is not in the toolkit: downloading ${package}==${cuda_version}.* from PyPI"
        "$python" -m pip download --quiet --no-deps --only-binary=:all: \
            -d "$work/cublas-wheel" "${package}==${cuda_version}.*"
    fi
    mkdir -p "$work/cublas"
    "$python" -m zipfile -e "$work"/cublas-wheel/*.whl "$work/cublas"
    cublas_root="$(dirname "$(dirname "$(find "$work/cublas" -name cublas_v2.h | head -1)")")"
fi
if [ "$cublas_root" != "toolkit" ]; then
    echo "cuBLAS from $cublas_root"
    library() { find "$cublas_root/lib" -name "$1.so*" | sort | head -1; }
    # Only cuBLAS's own headers: the folder may also hold another CUDA release's runtime
    # headers (pip's nvidia packages share it), which must not shadow nvcc's own.
    mkdir -p "$work/cublas-include"
    ln -sf "$cublas_root"/include/cublas*.h "$work/cublas-include/"
    cmake_args+=(
        "-DCUDA_cublas_LIBRARY=$(library libcublas)"
        "-DCUDA_cublasLt_LIBRARY=$(library libcublasLt)"
        # nvcc compiles every file that includes cublas_v2.h.
        "-DCMAKE_CUDA_FLAGS=-I${work}/cublas-include"
    )
fi

# The driver library: without it, no virtual-memory pool (see above).
if ! ls "$cuda_home"/lib64/stubs/libcuda.so "$cuda_home"/targets/*/lib/stubs/libcuda.so \
        >/dev/null 2>&1 && ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so '; then
    echo "no libcuda.so to link: building with GGML_CUDA_NO_VMM=ON"
    cmake_args+=(-DGGML_CUDA_NO_VMM=ON)
fi

if [ -z "$source" ] && ls "$work"/sdist/llama_cpp_python-*.tar.gz >/dev/null 2>&1; then
    source="$(ls "$work"/sdist/llama_cpp_python-*.tar.gz)"
fi
if [ -z "$source" ]; then
    "$python" -m pip download --quiet --no-deps --no-binary=:all: -d "$work/sdist" \
        "llama-cpp-python==${version}"
    source="$(ls "$work"/sdist/llama_cpp_python-*.tar.gz)"
fi

# scikit-build-core, cmake and ninja from the environment where they are installed (a
# machine without a registry), else pip's isolated build fetches them.
isolation=()
if "$python" -c "import scikit_build_core" 2>/dev/null; then
    # nothing to fetch then: no index, so that a machine without one does not wait on it
    isolation=(--no-build-isolation --no-index)
fi

export CMAKE_ARGS="${cmake_args[*]}"
export CMAKE_BUILD_PARALLEL_LEVEL="$jobs"
export CUDACXX="$nvcc"
echo "CMAKE_ARGS=$CMAKE_ARGS"
started=$(date +%s)
"$python" -m pip wheel --no-cache-dir --no-deps "${isolation[@]}" -w "$out" -v "$source"
finished=$(date +%s)
wheel="$(ls -t "$out"/llama_cpp_python-*.whl | head -1)"
echo "built $wheel: $(du -h "$wheel" | cut -f1), $(( (finished - started) / 60 )) min"
