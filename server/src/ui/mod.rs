//! The web UI's services (see `app::services`), implemented on the shared
//! application state: generation into saved chats, the chat logs, and the
//! library of characters, presets and templates.

mod chat;
mod edits;
mod library;
mod logs;
mod message_info;
mod models;
mod settings;
mod tool_loop;

use std::sync::Arc;

use app::services::Services;

use crate::state::AppState;

pub fn services(state: &AppState) -> Services {
    Services {
        chat: Arc::new(chat::UiChat::new(state.clone())),
        logs: Arc::new(logs::UiLogs::new(state.clone())),
        library: Arc::new(library::UiLibrary::new(state.clone())),
        models: Arc::new(models::UiModels::new(state.clone())),
        settings: Arc::new(settings::UiSettings::new(state.clone())),
        caller: Default::default(),
    }
}
