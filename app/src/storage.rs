//! What the browser remembers between visits (settings, sampler values,
//! the last open chat of each folder), in localStorage. On the server these
//! do nothing.

use serde::{de::DeserializeOwned, Serialize};

pub const SETTINGS: &str = "candlelight.settings";
pub const PARAMS: &str = "candlelight.params";
pub const LAST_CHATS: &str = "candlelight.last-chats";

#[cfg(feature = "hydrate")]
fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The stored value, or `None` if absent or unreadable.
pub fn load<T: DeserializeOwned>(key: &str) -> Option<T> {
    #[cfg(feature = "hydrate")]
    {
        let text = storage()?.get_item(key).ok()??;
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
        let _ = s.set_item(key, &text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (key, value);
}
