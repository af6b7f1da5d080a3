//! candlelight's server: the web app, its server functions, and the
//! in-process engine behind them. `main.rs` only parses flags and serves
//! [`router`]; tests build the same router.

pub mod chat;
pub mod config;
pub mod engine;
mod errors;
pub mod openai;
mod pictures;
pub mod prompt;
pub mod store;
pub mod tools;
mod ui;

use std::sync::Arc;

use app::{services::Services, shell, App};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};

use crate::{
    chat::ChatEngine,
    openai::{ApiConfig, ApiState},
    store::UserData,
};

/// What every request handler shares: the chat engine (and through it the
/// model and its queue) and the user data folder.
#[derive(Clone)]
pub struct AppState {
    pub chat: Arc<ChatEngine>,
    pub data: Arc<UserData>,
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

/// The whole HTTP surface: pages, server functions, the `/v1` API, static files.
pub fn router(options: LeptosOptions, state: AppState, api: &ApiConfig) -> Router {
    let services: Services = ui::services(&state);
    let api_routes = openai::routes(
        ApiState {
            chat: state.chat.clone(),
            data: state.data.clone(),
        },
        api,
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
        .merge(pictures::routes(state.data.clone()))
        .merge(api_routes)
}
