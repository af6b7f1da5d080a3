//! Embeds the built web app (`target/site`, which `make` builds before the
//! server) into this crate. Without a built site the crate embeds nothing
//! and the server serves `--site-root` from disk, as a developer's plain
//! `cargo build` does.

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(embedded_site)");
    println!("cargo::rerun-if-env-changed=CANDLELIGHT_SITE_DIR");
    let dir = std::env::var_os("CANDLELIGHT_SITE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/site"));
    // An existing folder, so that cargo watches it rather than running this
    // script on every build while there is no site yet.
    let _ = std::fs::create_dir_all(&dir);
    println!("cargo::rerun-if-changed={}", dir.display());
    if dir.join("pkg/candlelight.js").is_file() {
        std::env::set_var("MEMORY_SERVE_QUIET", "1");
        memory_serve::load_directory_with_embed(&dir, true);
        println!("cargo::rustc-cfg=embedded_site");
    }
}
