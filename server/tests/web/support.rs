//! The one router the web tests build: the server's own `router()` on an
//! engine (or none), with a fresh user data folder each time.

use std::sync::Arc;

use axum::Router;
use engine::Engine;
use server::{router, AppState, ModelLibrary, ServerConfig, UserData};

pub struct TestApp {
    pub router: Router,
    pub dir: tempfile::TempDir,
}

/// The router on `engine` with `config`; the user data folder (and the
/// model folder the Model tab lists) is a new temporary one.
pub fn app_on(engine: Arc<Engine>, config: ServerConfig) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::local(
        engine,
        UserData::open(dir.path()).unwrap(),
        ModelLibrary::new(dir.path(), "http://127.0.0.1:9"),
    );
    TestApp {
        router: router(state, &config),
        dir,
    }
}

/// The router with no model loaded.
pub fn app_with(config: ServerConfig) -> TestApp {
    app_on(
        Arc::new(Engine::without_model("none in this test".into())),
        config,
    )
}
