//! candlelight's web UI: the page shell, the Chat and Parameters tabs, and the
//! server functions they call. Built twice: with `ssr` into the server
//! binary, with `hydrate` into the wasm bundle (scripts/build-site.sh).

pub mod api;
mod attach;
mod chat_ops;
mod clipboard;
mod components;
mod files;
mod generation;
pub mod markdown;
mod pages;
pub use domain::reasoning;
#[cfg(feature = "ssr")]
pub mod services;
mod settings_sync;
mod shortcuts;
mod state;
mod storage;
pub mod types;

use leptos::{prelude::*, task::spawn_local};

use crate::api::load_settings;
use crate::pages::{ChatPage, ModelsPage, NotebookPage, ParametersPage};
use crate::state::{ChatState, Tab};
use crate::types::{ChatSettings, GenerationParams};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <title>"candlelight"</title>
                <link rel="stylesheet" href="/pkg/candlelight.css" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                // Math and code highlighting in messages (loads its
                // libraries from /vendor when a message needs them).
                <script src="/enhance.js" defer="defer"></script>
                // Read by `storage` so each user's settings stay their own.
                <meta name="candlelight-user" content=current_user() />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The logged-in user (server side; the page carries it in a meta tag).
fn current_user() -> String {
    #[cfg(feature = "ssr")]
    {
        use_context::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<types::Caller>().cloned())
            .and_then(|c| c.user)
            .unwrap_or_default()
    }
    #[cfg(not(feature = "ssr"))]
    String::new()
}

/// The page's Content-Security-Policy: scripts only from this server and
/// the hydration script carrying this response's nonce (plus the wasm
/// module), no framing by other sites, no plugins, no foreign connections.
/// Styles may be inline (rendered Markdown and math use style attributes).
#[cfg(feature = "ssr")]
fn set_content_security_policy() {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    let state = ChatState::new();
    provide_context(state);

    // In the browser: restore what this browser remembers, then what the
    // server keeps for this user (it wins: it follows them from another
    // device), then mark the page ready (end-to-end tests wait for
    // `body[data-hydrated]`).
    Effect::new(move |_| {
        if let Some(settings) = storage::load::<ChatSettings>(storage::SETTINGS) {
            state.settings.set(settings);
        }
        if let Some(params) =
            storage::load::<GenerationParams>(storage::PARAMS).filter(|p| p.check().is_ok())
        {
            state.params.set(params);
        }
        spawn_local(async move {
            match load_settings().await {
                Ok(Some(_)) if settings_sync::unsaved() => settings_sync::save_now(state),
                Ok(Some(saved)) => settings_sync::apply(state, saved),
                // First visit to this server: it keeps this browser's.
                Ok(None) => settings_sync::save_now(state),
                Err(e) => state.fail(e),
            }
            state.ready.set(true);
            if let Some(body) = document().body() {
                let _ = body.set_attribute("data-hydrated", "true");
            }
        });
    });
    Effect::new(move |_| {
        let settings = state.settings.get();
        if state.ready.get() {
            storage::save(storage::SETTINGS, &settings);
            settings_sync::save_soon(state);
        }
    });
    Effect::new(move |_| {
        let params = state.params.get();
        if state.ready.get() {
            storage::save(storage::PARAMS, &params);
            settings_sync::save_soon(state);
        }
    });
    // The mode and character choose the chat folder; open its last chat.
    let folder = Memo::new(move |_| state.settings.with(|s| s.folder()));
    Effect::new(move |_| {
        let _ = folder.get();
        if state.ready.get() {
            chat_ops::open_folder(state);
        }
    });
    shortcuts::install(state);

    let tab_button = move |tab: Tab| {
        view! {
            <button
                class="tab"
                id=format!("tab-{}", tab.label().to_lowercase())
                class:active=move || state.tab.get() == tab
                on:click=move |_| state.tab.set(tab)
            >
                {tab.label()}
            </button>
        }
    };

    view! {
        <header class="topbar">
            <span class="brand">"candlelight"</span>
            <nav class="tabs">{tab_button(Tab::Chat)} {tab_button(Tab::Parameters)} {tab_button(Tab::Notebook)} {tab_button(Tab::Model)}</nav>
            <components::ModelBadge />
            <components::Account />
        </header>
        <components::Toast />
        <main>
            // Both tabs stay mounted so a reply keeps streaming while the
            // Parameters tab is open.
            <section class="tab-page" class:hidden=move || state.tab.get() != Tab::Chat>
                <ChatPage />
            </section>
            <section class="tab-page" class:hidden=move || state.tab.get() != Tab::Parameters>
                <ParametersPage />
            </section>
            <section class="tab-page" class:hidden=move || state.tab.get() != Tab::Notebook>
                <NotebookPage />
            </section>
            <section class="tab-page" class:hidden=move || state.tab.get() != Tab::Model>
                <ModelsPage />
            </section>
        </main>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
