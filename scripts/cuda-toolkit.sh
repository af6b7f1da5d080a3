#!/usr/bin/env bash
# Assembles a CUDA 13.0 toolkit from NVIDIA's PyPI wheels into .tools/cuda13
# (git-ignored), for building the `cuda` feature on a machine without a
# system CUDA installation or a GPU. Prints the folder (CUDA_HOME) at the end.
#
# usage: scripts/cuda-toolkit.sh
#
# Why these pieces: candle-kernels' build script runs nvcc (PTX + an sm_90a
# static library), cudarc links -lcuda -lnvrtc -lcurand -lcublas -lcublasLt.
# The wheels lack unversioned .so names (added as links here) and the
# driver's libcuda.so, which only the linker needs: a stub with the same
# symbols and soname serves; at run time the real driver provides it.
# nvcc stays at 13.0.x: driver 580 (CUDA 13.0) rejects PTX from newer nvcc.
set -euo pipefail

cd "$(dirname "$0")/.."
DEST="${CUDA_TOOLKIT_DIR:-.tools/cuda13}"
PYTHON="${PYTHON:-python3}"
WHEELS=(
    nvidia-cuda-nvcc==13.0.88
    nvidia-cuda-crt==13.0.88
    nvidia-nvvm==13.0.88
    nvidia-cuda-cccl==13.0.85
    nvidia-cuda-runtime==13.0.96
    nvidia-cuda-nvrtc==13.0.88
    nvidia-cublas==13.1.0.3
    nvidia-curand==10.4.0.35
)

if [[ -x "$DEST/bin/nvcc" && -f "$DEST/lib/libcuda.so" && -f "$DEST/.complete" ]]; then
    echo "$DEST"
    exit 0
fi

cache=".tools/cuda-wheels"
mkdir -p "$cache"
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$cache" "${WHEELS[@]}" >&2 ||
    { echo "cuda-toolkit: could not download the CUDA wheels from PyPI" >&2; exit 1; }

staging="$DEST.partial.$$"
rm -rf "$staging"
mkdir -p "$staging/unpacked"
trap 'rm -rf "$staging"' EXIT
for spec in "${WHEELS[@]}"; do
    name=${spec%%==*}
    version=${spec##*==}
    wheel=$(compgen -G "$cache/${name//-/_}-$version-*.whl" | head -n1 || true)
    [[ -n "$wheel" ]] || { echo "cuda-toolkit: $spec is missing from $cache" >&2; exit 1; }
    "$PYTHON" -m zipfile -e "$wheel" "$staging/unpacked" >&2
done
root="$staging/unpacked/nvidia/cu13"
[[ -x "$root/bin/nvcc" ]] || chmod +x "$root"/bin/* "$root"/nvvm/bin/* 2>/dev/null || true
chmod +x "$root"/bin/* "$root"/nvvm/bin/* 2>/dev/null || true

# Unversioned names for the linker (libcublas.so -> libcublas.so.13, ...).
for lib in "$root"/lib/lib*.so.*; do
    base=${lib%%.so.*}.so
    [[ -e "$base" ]] || ln -s "$(basename "$lib")" "$base"
done
# CUDA's usual lib64 name.
[[ -e "$root/lib64" ]] || ln -s lib "$root/lib64"

# A link-time stub for the driver library: every cu* function cuda.h
# declares (after its _v2 renames), with the driver's soname.
gcc -E -P -D__CUDA_API_VERSION_INTERNAL=0 -I "$root/include" -x c "$root/include/cuda.h" 2>/dev/null |
    grep -oE '\bcu[A-Za-z0-9_]+[[:space:]]*\(' | tr -d ' (' | sort -u |
    sed 's/.*/void &(void) {}/' >"$staging/cuda_stub.c"
gcc -E -P -I "$root/include" -x c "$root/include/cuda.h" 2>/dev/null |
    grep -oE '\bcu[A-Za-z0-9_]+[[:space:]]*\(' | tr -d ' (' | sort -u |
    sed 's/.*/void &(void) {}/' >>"$staging/cuda_stub.c"
sort -u "$staging/cuda_stub.c" -o "$staging/cuda_stub.c"
gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$root/lib/libcuda.so" "$staging/cuda_stub.c"
echo "cuda-toolkit: libcuda stub with $(wc -l <"$staging/cuda_stub.c") symbols" >&2

"$root/bin/nvcc" --version >&2
# NVIDIA's licence for the libraries (each wheel carries it), kept beside
# them: `make dist CUDA=1` ships it with the libraries it bundles.
mkdir -p "$root/licenses"
for info in "$staging"/unpacked/*.dist-info; do
    for file in "$info"/License* "$info"/LICENSE* "$info"/licenses/*; do
        [[ -f $file ]] && cp "$file" "$root/licenses/$(basename "$info" .dist-info)-$(basename "$file")"
    done
done
rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
mv "$root" "$DEST"
touch "$DEST/.complete"
echo "$DEST"
