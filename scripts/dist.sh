#!/usr/bin/env bash
# Packs a release binary (the web app is inside it) with how to run it and
# the licences: target/dist/candlelight-<version>-<arch>-<cpu|cuda>.tar.gz.
#
# usage: scripts/dist.sh BINARY cpu|cuda
set -euo pipefail
cd "$(dirname "$0")/.."
binary=$1
kind=$2
[[ -x $binary ]] || { echo "dist: $binary is not built" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
name="candlelight-$version-$(uname -m)-$kind"
stage="target/dist/$name"
rm -rf "$stage"
mkdir -p "$stage"
cp "$binary" "$stage/candlelight"
strip "$stage/candlelight" 2>/dev/null || true
# The README's "Running a release" section, from its heading to the next.
awk '/^## Running a release/{on=1} /^## /&&on&&!/^## Running a release/{exit} on' README.md > "$stage/RUN.md"
[[ -s $stage/RUN.md ]] || { echo "dist: README.md has no '## Running a release' section" >&2; exit 1; }
cp scripts/dist/LICENSE-MIT scripts/dist/LICENSE-APACHE "$stage/"
if [[ $kind == cuda ]]; then
    # The CUDA libraries the binary links (cuBLAS, cuRAND, the runtime),
    # from the PyPI toolkit `make cuda-build` used, so a GPU box needs only
    # its NVIDIA driver; `candlelight-cuda` puts them on the library path.
    toolkit=${CUDA_TOOLKIT_DIR:-.tools/cuda13}
    mkdir -p "$stage/lib"
    for lib in libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libcudart.so.13; do
        found=$(compgen -G "$toolkit/lib/$lib*" | head -n1 || true)
        [[ -n $found ]] || { echo "dist: $lib is not in $toolkit/lib (run make cuda-build)" >&2; exit 1; }
        cp -L "$found" "$stage/lib/$lib"
    done
    # Their licence (NVIDIA's, from the wheels), as the licence asks.
    if compgen -G "$toolkit/licenses/*" >/dev/null; then
        mkdir -p "$stage/licenses"
        cp "$toolkit"/licenses/* "$stage/licenses/"
    else
        echo "dist: $toolkit/licenses is empty: remove $toolkit and run make cuda-build again" >&2
        exit 1
    fi
    cat > "$stage/candlelight-cuda" <<'LAUNCH'
#!/bin/sh
# Runs candlelight on the GPU with the CUDA libraries shipped beside it.
here=$(dirname "$(readlink -f "$0")")
LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$here/candlelight" --device cuda "$@"
LAUNCH
    chmod +x "$stage/candlelight-cuda"
fi
tar -C target/dist -czf "target/dist/$name.tar.gz" "$name"
rm -rf "$stage"
echo "dist: target/dist/$name.tar.gz ($(du -h "target/dist/$name.tar.gz" | cut -f1))"
