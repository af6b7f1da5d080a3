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
    let busy = move || state.generating.with(Option::is_some);

    let send = move || {
        let Some(el) = input.get_untracked() else {
            return;
        };
        if send_message(state, el.value()) {
            el.set_value("");
        }
    };
    let on_keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() {
            if is_ime_enter(&ev, composing.get_untracked()) {
                return;
            }
            ev.prevent_default();
            send();
        } else if ev.key() == "Escape" {
            stop_generation(state);
        }
    };

    view! {
        <div class="composer">
            <textarea
                node_ref=input
                id="chat-input"
                rows="3"
                placeholder="Send a message"
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
