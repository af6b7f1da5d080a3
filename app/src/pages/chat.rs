use leptos::prelude::*;

use crate::components::{Composer, MessageView};
use crate::state::ChatState;

/// The Chat tab: the conversation, the reply's numbers, and the composer.
#[component]
pub fn ChatPage() -> impl IntoView {
    let state = ChatState::expect();
    let count = move || state.messages.with(Vec::len);

    view! {
        <div class="chat">
            <div class="messages" id="messages">
                <Show when=move || count() == 0>
                    <p class="empty-hint">"Type a message below. Enter sends, Shift+Enter adds a line."</p>
                </Show>
                <For each=move || 0..count() key=|i| *i let:index>
                    <MessageView index />
                </For>
            </div>
            <div class="status-line">
                {move || {
                    state
                        .error
                        .get()
                        .map(|e| view! { <p class="error" role="alert">{e}</p> })
                }}
                {move || {
                    state
                        .last_stats
                        .get()
                        .map(|s| {
                            view! {
                                <p class="stats">
                                    {format!(
                                        "{} prompt + {} new tokens · {:.1} tok/s · first token after {:.0} ms",
                                        s.prompt_tokens,
                                        s.completion_tokens,
                                        s.decode_tokens_per_second,
                                        s.time_to_first_token_ms,
                                    )}
                                </p>
                            }
                        })
                }}
            </div>
            <Composer />
        </div>
    }
}
