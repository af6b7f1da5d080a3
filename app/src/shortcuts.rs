//! text-generation-webui's keyboard shortcuts on the Chat tab.

use leptos::{ev, prelude::*};

use crate::clipboard;
use crate::components::{composer_text, remove_last};
use crate::generation::{run, stop_generation};
use crate::state::{ChatState, Tab};
use crate::types::{ChatAction, Role};

/// Ctrl+Enter regenerate, Alt+Enter continue, Esc stop,
/// Ctrl+Shift+Backspace remove last, Ctrl+Shift+M impersonate,
/// Ctrl+Shift+K copy the last reply.
pub fn install(state: ChatState) {
    let handle = window_event_listener(ev::keydown, move |ev| {
        if state.tab.get_untracked() != Tab::Chat || ev.is_composing() {
            return;
        }
        let key = ev.key();
        let (ctrl, shift, alt) = (ev.ctrl_key() || ev.meta_key(), ev.shift_key(), ev.alt_key());
        let handled = match (key.as_str(), ctrl, shift, alt) {
            ("Enter", true, false, false) => {
                run(state, ChatAction::Regenerate);
                true
            }
            ("Enter", false, false, true) => {
                run(state, ChatAction::Continue);
                true
            }
            ("Escape", _, _, _) => {
                stop_generation(state);
                true
            }
            ("Backspace", true, true, _) => {
                remove_last(state);
                true
            }
            ("M" | "m", true, true, _) => {
                run(
                    state,
                    ChatAction::Impersonate {
                        text: composer_text(),
                    },
                );
                true
            }
            ("K" | "k", true, true, _) => {
                let last = state.chat.with_untracked(|c| {
                    c.as_ref()
                        .and_then(|c| c.messages.iter().rev().find(|m| m.role == Role::Assistant))
                        .map(|m| m.text().to_string())
                });
                if let Some(text) = last {
                    clipboard::copy(&text);
                }
                true
            }
            _ => false,
        };
        if handled {
            ev.prevent_default();
        }
    });
    on_cleanup(move || handle.remove());
}
