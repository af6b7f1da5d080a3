//! The web app `make` built (`target/site`: the wasm bundle, its
//! JavaScript, the CSS and `public/`), compiled into the binary so that it
//! runs from any directory with nothing beside it. Served from memory
//! with content types, ETags (`If-None-Match` answers 304) and brotli or
//! gzip as the browser accepts; file names carry no hash, so browsers
//! revalidate each time (`no-cache`) rather than keep a stale bundle.

use axum::Router;

/// The embedded site's routes, or `None` where this binary was built
/// without one (then the server needs `--site-root`).
#[cfg(embedded_site)]
pub fn embedded() -> Option<Router> {
    use memory_serve::{load, CacheControl};
    Some(
        load!()
            .index_file(None)
            .cache_control(CacheControl::NoCache)
            .html_cache_control(CacheControl::NoCache)
            .into_router(),
    )
}

#[cfg(not(embedded_site))]
pub fn embedded() -> Option<Router> {
    None
}
