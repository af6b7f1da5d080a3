use leptos::prelude::*;

use crate::state::ChatState;
use crate::types::DEFAULT_CHAT_INSTRUCT_COMMAND;

/// The chat-instruct command: the instruction that wraps a chat-mode
/// prompt for an instruct model (text-generation-webui's), editable and
/// resettable.
#[component]
pub fn CommandPanel() -> impl IntoView {
    let state = ChatState::expect();
    view! {
        <div class="panel command-panel">
            <h2>"Chat-instruct command"</h2>
            <label for="chat-instruct-command">"Used in chat-instruct mode; <|character|> and <|prompt|> are filled in"</label>
            <textarea
                id="chat-instruct-command"
                rows="6"
                prop:value=move || state.settings.with(|s| s.chat_instruct_command.clone())
                on:change=move |ev| state.settings.update(|s| s.chat_instruct_command = event_target_value(&ev))
            ></textarea>
            <button
                id="chat-instruct-reset"
                on:click=move |_| state.settings.update(|s| s.chat_instruct_command = DEFAULT_CHAT_INSTRUCT_COMMAND.to_string())
            >
                "Reset to default"
            </button>
        </div>
    }
}
