//! candlelight's server: the web app, its server functions, the OpenAI API,
//! and the in-process engine behind them. `main.rs` only parses flags and
//! serves [`router`]; tests build the same router.

mod access;
pub mod attachments;
mod calendar;
mod chat;
pub mod chat_tools;
mod config;
mod errors;
mod headers;
mod isolation;
pub mod listen;
mod models;
mod openai;
mod pictures;
mod prompt;
mod remote;
mod replies;
mod secrets;
mod state;
mod status;
mod store;
mod tool_calls;
pub mod tools;
mod ui;

// What the binary (`main.rs`) and the integration tests use; everything
// else is this crate's own (`pub(crate)`).
pub use access::{parse_users, AccessPolicy};
pub use chat::job::job as generation_job;
pub use config::{BackendKind, Cli, Command, ServeArgs};
pub use models::{Downloads, ModelLibrary};
pub use openai::ApiConfig;
pub use prompt::{sandbox, ChatTemplate};
pub use replies::Replies;
pub use secrets::new_token;
pub use store::UserData;

use std::{sync::Arc, time::Duration};

use app::{services::Services, shell, App};
use axum::{extract::DefaultBodyLimit, middleware, Router};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};

pub use state::{AppState, Generator};

use crate::{
    access::{Access, SitePolicy, Throttle, MAX_BODY_BYTES},
    openai::ApiState,
};

/// How the server is exposed: the API's key and CORS, and who may use it.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub api: ApiConfig,
    pub access: AccessPolicy,
    /// Host names accepted besides loopback ones where nothing else guards
    /// the server (`--allowed-host`).
    pub allowed_hosts: Vec<String>,
    /// How long a login lasts (`--session-hours`).
    pub session_lifetime: Duration,
    /// Where the web app's files come from.
    pub site: SiteFiles,
}

/// The built web app: compiled into the binary (the `site` crate), or a
/// folder on disk (`--site-root`, for development).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SiteFiles {
    Embedded,
    Folder(String),
}

impl Default for SiteFiles {
    /// The embedded site where this binary has one, else `target/site`.
    fn default() -> Self {
        if site::embedded().is_some() {
            SiteFiles::Embedded
        } else {
            SiteFiles::Folder("target/site".into())
        }
    }
}

/// What the 404 handler looks for files in when the site is embedded: a
/// path that cannot exist (so it only ever renders the not-found page).
const NO_FOLDER: &str = "/dev/null/embedded-site";

/// A login lasts a week unless `--session-hours` says otherwise.
pub const DEFAULT_SESSION_HOURS: u64 = 24 * 7;

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            api: ApiConfig::default(),
            access: AccessPolicy::Open,
            allowed_hosts: Vec::new(),
            session_lifetime: Duration::from_secs(DEFAULT_SESSION_HOURS * 3600),
            site: SiteFiles::default(),
        }
    }
}

/// Leptos settings for the built site. They are fixed here rather than read
/// from Cargo.toml so the binary runs from any directory that has the site.
pub fn leptos_options(site_root: &str) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("candlelight")
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .env(leptos::config::Env::PROD)
        .build()
}

/// The whole HTTP surface: pages, server functions, the `/v1` API, static
/// files, health and metrics; all behind the access guard, which runs the
/// site checks first; every answer gets the security headers.
pub fn router(state: AppState, config: &ServerConfig) -> Router {
    let (options, embedded) = match &config.site {
        SiteFiles::Folder(root) => (leptos_options(root), None),
        SiteFiles::Embedded => (leptos_options(NO_FOLDER), site::embedded()),
    };
    let services: Services = ui::services(&state);
    let throttle = Arc::new(Throttle::default());
    let api_routes = openai::routes(
        ApiState {
            chat: state.chat.clone(),
            replies: state.replies.clone(),
            data: state.data.clone(),
        },
        &config.api,
        throttle.clone(),
    );
    let site = SitePolicy {
        // Behind a token or a login any host name (a proxy's) may be used.
        check_host: config.access == AccessPolicy::Open,
        allowed_hosts: config.allowed_hosts.clone(),
        api_cors_origin: config
            .api
            .cors_origin
            .as_ref()
            .and_then(|o| o.to_str().ok())
            .map(str::to_string),
    };
    let access = Access::new(
        config.access.clone(),
        config.api.api_key.is_some(),
        site,
        throttle,
        config.session_lifetime,
        openai::refusal_response,
    );
    let routes = generate_route_list(App);
    Router::new()
        .leptos_routes_with_context(
            &options,
            routes,
            move || provide_context(services.clone()),
            {
                let options = options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options)
        .merge(embedded.unwrap_or_default())
        .merge(pictures::routes(state.data.clone()))
        .merge(status::routes(state.clone()))
        .merge(api_routes)
        .layer(middleware::from_fn(errors::server_fn_status))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(access, access::guard))
        .layer(middleware::from_fn(headers::security_headers))
}
