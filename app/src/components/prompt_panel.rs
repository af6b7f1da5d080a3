use leptos::prelude::*;

use crate::state::ChatState;

/// The exact prompt sent for the last reply, its size in tokens, and how many
/// old messages did not fit.
#[component]
pub fn PromptPanel() -> impl IntoView {
    let state = ChatState::expect();
    view! {
        {move || {
            state
                .last_prompt
                .get()
                .map(|p| {
                    let dropped = if p.dropped_messages > 0 {
                        format!(", {} older messages left out to fit the context", p.dropped_messages)
                    } else {
                        String::new()
                    };
                    view! {
                        <details class="prompt-panel">
                            <summary>{format!("Prompt sent: {} tokens{dropped}", p.tokens)}</summary>
                            <pre class="prompt-text">{p.text}</pre>
                        </details>
                    }
                })
        }}
    }
}
