use leptos::{html::Textarea, prelude::*};
use web_sys::KeyboardEvent;

use crate::generation::{send_message, stop_generation};
use crate::state::ChatState;

/// True when this Enter press belongs to an IME composition (Chinese,
/// Japanese...): it confirms a candidate and must not send the message.
/// Browsers mark such events with `isComposing`, older ones with key code 229.
fn is_ime_enter(ev: &KeyboardEvent, composing: bool) -> bool {
    composing || ev.is_composing() || ev.key_code() == 229
}

/// The message box: Enter sends, Shift+Enter adds a line, Stop ends a reply.
#[component]
pub fn Composer() -> impl IntoView {
    let state = ChatState::expect();
    let input = NodeRef::<Textarea>::new();
    let composing = RwSignal::new(false);
    let busy = move || state.busy();

    // Text put into the box by Remove last or Impersonate.
    Effect::new(move |_| {
        if let Some(text) = state.draft.get() {
            if let Some(el) = input.get() {
                el.set_value(&text);
            }
        }
    });

    let send = move || {
        let Some(el) = input.get_untracked() else {
            return;
        };
        if send_message(state, el.value()) {
            el.set_value("");
            state.draft.set(None);
        }
    };
    let on_keydown = move |ev: KeyboardEvent| {
        // Ctrl+Enter and Alt+Enter are shortcuts (regenerate, continue).
        if ev.key() == "Enter"
            && !ev.shift_key()
            && !ev.ctrl_key()
            && !ev.alt_key()
            && !ev.meta_key()
        {
            if is_ime_enter(&ev, composing.get_untracked()) {
                return;
            }
            ev.prevent_default();
            send();
        }
    };

    view! {
        <div class="composer">
            <textarea
                node_ref=input
                id="chat-input"
                rows="3"
                placeholder="Send a message (Enter sends, Shift+Enter for a new line)"
                on:keydown=on_keydown
                on:compositionstart=move |_| composing.set(true)
                on:compositionend=move |_| composing.set(false)
            ></textarea>
            <div class="composer-buttons">
                <Show
                    when=busy
                    fallback=move || {
                        view! {
                            <button id="send" class="primary" on:click=move |_| send()>
                                "Send"
                            </button>
                        }
                    }
                >
                    <button id="stop" class="danger" on:click=move |_| stop_generation(state)>
                        "Stop"
                    </button>
                </Show>
            </div>
        </div>
    }
}

/// The message box's current text (for Dummy message / reply).
pub fn take_composer_text() -> String {
    let Some(area) = composer() else {
        return String::new();
    };
    let text = area.value();
    area.set_value("");
    text
}

/// The message box's text, left in the box (Impersonate starts from it).
pub fn composer_text() -> String {
    composer().map(|area| area.value()).unwrap_or_default()
}

fn composer() -> Option<web_sys::HtmlTextAreaElement> {
    use wasm_bindgen::JsCast;
    leptos::prelude::document()
        .get_element_by_id("chat-input")?
        .dyn_into()
        .ok()
}
