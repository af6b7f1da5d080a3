//! The user's settings follow them between devices: the server keeps them
//! (`settings.yaml`), this browser caches them. A change is saved to the
//! server a moment after the last edit, so typing a name is one save.

use std::cell::{Cell, RefCell};

use leptos::{prelude::*, task::spawn_local};

use crate::api::save_settings;
use crate::state::ChatState;
use crate::storage;
use crate::types::UserSettings;

/// How long after the last change the settings are saved.
const SAVE_AFTER: std::time::Duration = std::time::Duration::from_millis(600);

thread_local! {
    /// Bumped per change; a pending save that is no longer the latest
    /// gives way to the next one.
    static GENERATION: Cell<u64> = const { Cell::new(0) };
    /// What the server holds, as far as this page knows: a "change" that
    /// only puts these back (loading them) is not saved again.
    static SYNCED: RefCell<Option<UserSettings>> = const { RefCell::new(None) };
}

/// Puts the server's settings into the page (and this browser's cache).
pub fn apply(state: ChatState, saved: UserSettings) {
    if let Some(preset) = &saved.preset {
        storage::save(storage::PRESET, preset);
    }
    state.settings.set(saved.settings);
    if saved.params.check().is_ok() {
        state.params.set(saved.params);
    }
    SYNCED.with(|s| *s.borrow_mut() = Some(current(state)));
}

/// The page's settings as the server keeps them.
fn current(state: ChatState) -> UserSettings {
    UserSettings {
        settings: state.settings.get_untracked(),
        params: state.params.get_untracked(),
        preset: storage::load::<String>(storage::PRESET).filter(|p| !p.is_empty()),
    }
}

/// Whether this browser changed settings the server has not saved (the
/// tab closed within a moment of the change): then they are the newest.
pub fn unsaved() -> bool {
    storage::load::<bool>(storage::SETTINGS_UNSAVED).unwrap_or(false)
}

/// Saves once the user has stopped changing things for a moment.
pub fn save_soon(state: ChatState) {
    if SYNCED.with(|s| s.borrow().as_ref() == Some(&current(state))) {
        return;
    }
    storage::save(storage::SETTINGS_UNSAVED, &true);
    let mine = GENERATION.with(|g| {
        g.set(g.get() + 1);
        g.get()
    });
    set_timeout(
        move || {
            if GENERATION.with(Cell::get) == mine {
                save_now(state);
            }
        },
        SAVE_AFTER,
    );
}

/// Saves now. Invalid samplers are not saved (the Parameters tab shows
/// why); the server keeps the last valid ones.
pub fn save_now(state: ChatState) {
    let settings = current(state);
    if settings.params.check().is_err() {
        return;
    }
    let mine = GENERATION.with(Cell::get);
    spawn_local(async move {
        match save_settings(settings.clone()).await {
            // Saved, unless a newer change is waiting for its own save.
            Ok(()) if GENERATION.with(Cell::get) == mine => {
                SYNCED.with(|s| *s.borrow_mut() = Some(settings));
                storage::save(storage::SETTINGS_UNSAVED, &false)
            }
            Ok(()) => {}
            Err(e) => state.fail(e),
        }
    });
}
