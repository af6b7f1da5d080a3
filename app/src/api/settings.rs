use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::types::{AppError, UserSettings};

/// The caller's saved settings; `None` before they first saved any.
#[server(input = Json, endpoint = "load_settings")]
pub async fn load_settings() -> Result<Option<UserSettings>, AppError> {
    let s = crate::services::services()?;
    s.settings.load(&s.caller)
}

/// Keeps the caller's settings on the server (the browser saves them a
/// moment after each change).
#[server(input = Json, endpoint = "save_settings")]
pub async fn save_settings(settings: UserSettings) -> Result<(), AppError> {
    let s = crate::services::services()?;
    s.settings.save(&s.caller, settings)
}
