//! What the browser remembers between visits (settings, sampler values,
//! the last open chat of each folder), in localStorage, under keys of the
//! logged-in user's own (`--auth`) so two users of one browser keep theirs
//! apart. On the server these do nothing.

use serde::{de::DeserializeOwned, Serialize};

pub const SETTINGS: &str = "candlelight.settings";
pub const PARAMS: &str = "candlelight.params";
pub const LAST_CHATS: &str = "candlelight.last-chats";
/// The Notebook's text.
pub const NOTEBOOK: &str = "candlelight.notebook";
/// Whether the Notebook shows its Default layout (output beside input).
pub const NOTEBOOK_SPLIT: &str = "candlelight.notebook-split";
/// The name of the preset the samplers were last loaded from or saved as.
pub const PRESET: &str = "candlelight.preset";
/// True while this browser holds settings the server has not saved yet
/// (a change just before the tab closed): they win over the server's.
pub const SETTINGS_UNSAVED: &str = "candlelight.settings-unsaved";

#[cfg(feature = "hydrate")]
fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// `key`, or `key@user` when someone is logged in (the page's meta tag).
#[cfg(feature = "hydrate")]
fn scoped(key: &str) -> String {
    let user = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| {
            d.query_selector("meta[name=candlelight-user]")
                .ok()
                .flatten()
        })
        .and_then(|m| m.get_attribute("content"))
        .filter(|u| !u.is_empty());
    match user {
        Some(user) => format!("{key}@{user}"),
        None => key.to_string(),
    }
}

/// The stored value, or `None` if absent or unreadable.
pub fn load<T: DeserializeOwned>(key: &str) -> Option<T> {
    #[cfg(feature = "hydrate")]
    {
        let text = storage()?.get_item(&scoped(key)).ok()??;
        serde_json::from_str(&text).ok()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = key;
        None
    }
}

pub fn save<T: Serialize>(key: &str, value: &T) {
    #[cfg(feature = "hydrate")]
    if let (Some(s), Ok(text)) = (storage(), serde_json::to_string(value)) {
        let _ = s.set_item(&scoped(key), &text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (key, value);
}
