#!/usr/bin/env bash
# Builds the web app into target/site with only what that needs (no
# cargo-leptos): the app crate for wasm32 (profile wasm-release, feature
# hydrate), wasm-bindgen (pinned in the Makefile), wasm-opt from the npm
# package binaryen, the stylesheet and public/. Every step after cargo's
# own runs only when its input changed, and a file whose content is the
# same is left untouched, so the server (which embeds target/site, see
# server/site) is not rebuilt for nothing.
#
# The names are the ones leptos expects from a server built without
# cargo-leptos (LEPTOS_OUTPUT_NAME unset): /pkg/candlelight.js,
# /pkg/candlelight_bg.wasm, /pkg/candlelight.css.
set -euo pipefail
cd "$(dirname "$0")/.."

SITE=target/site
PKG=$SITE/pkg
WORK=target/site-build
WASM=target/wasm32-unknown-unknown/wasm-release/app.wasm
WASM_OPT=node_modules/.bin/wasm-opt

# Copies SRC to DST only when the contents differ (an unchanged file keeps
# its time, so nothing downstream thinks it changed).
install_if_changed() {
    local src=$1 dst=$2
    if ! cmp -s "$src" "$dst"; then
        mkdir -p "$(dirname "$dst")"
        cp "$src" "$dst.tmp.$$"
        mv -f "$dst.tmp.$$" "$dst"
    fi
}

cargo build --package app --lib --target wasm32-unknown-unknown --profile wasm-release \
    --no-default-features --features hydrate

mkdir -p "$PKG" "$WORK"
sum=$(sha256sum "$WASM" | cut -d' ' -f1)
if [[ ! -f $PKG/candlelight_bg.wasm || ! -f $PKG/candlelight.js || "$(cat "$WORK/wasm.sha256" 2>/dev/null)" != "$sum" ]]; then
    out=$WORK/bindgen
    rm -rf "$out"
    wasm-bindgen --target web --no-typescript --out-dir "$out" --out-name candlelight "$WASM"
    # The same features cargo-leptos enables; binaryen 123 (Debian's 108
    # breaks hydration).
    "$WASM_OPT" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
        "$out/candlelight_bg.wasm" -o "$out/candlelight_bg.wasm"
    install_if_changed "$out/candlelight.js" "$PKG/candlelight.js"
    install_if_changed "$out/candlelight_bg.wasm" "$PKG/candlelight_bg.wasm"
    echo "$sum" > "$WORK/wasm.sha256"
fi
install_if_changed style/main.css "$PKG/candlelight.css"

# public/ as it is now: new and changed files copied, removed ones removed.
expected=$WORK/expected.txt
printf '%s\n' pkg/candlelight.js pkg/candlelight_bg.wasm pkg/candlelight.css > "$expected"
while IFS= read -r -d '' file; do
    rel=${file#public/}
    install_if_changed "$file" "$SITE/$rel"
    printf '%s\n' "$rel" >> "$expected"
done < <(find public -type f ! -name '.copied' -print0)
while IFS= read -r -d '' file; do
    rel=${file#"$SITE"/}
    grep -qxF "$rel" "$expected" || rm -f "$file"
done < <(find "$SITE" -type f -print0)
find "$SITE" -mindepth 1 -type d -empty -delete
echo "site: $SITE ($(du -sh "$SITE" | cut -f1))"
