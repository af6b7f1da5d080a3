use leptos::prelude::*;

use crate::chat_ops::reload_chat;
use crate::state::ChatState;
use crate::types::FinishReason;

/// Errors (with a reload for a stale chat) and the last reply's numbers
/// (notices are toasts, see `Toast`).
#[component]
pub fn StatusLine() -> impl IntoView {
    let state = ChatState::expect();
    view! {
        <div class="status-line">
            {move || {
                state
                    .error
                    .get()
                    .map(|e| {
                        view! {
                            <p class="error" role="alert">
                                {e}
                                <Show when=move || state.stale.get()>
                                    " "
                                    <button id="reload-chat" on:click=move |_| reload_chat(state)>
                                        "Reload chat"
                                    </button>
                                </Show>
                            </p>
                        }
                    })
            }}
            {move || {
                // A reply cut short says so, beside its numbers.
                let ended = match state.last_finish.get()? {
                    FinishReason::Cancelled => "stopped",
                    FinishReason::Interrupted => "interrupted by the server",
                    FinishReason::Length => "max_new_tokens reached",
                    FinishReason::Stop => return None,
                };
                Some(view! { <span class="finish-mark" id="finish-mark">{ended}</span> })
            }}
            {move || {
                state
                    .last_stats
                    .get()
                    .map(|s| {
                        let reused = if s.cached_tokens > 0 { format!(" ({} prompt tokens reused)", s.cached_tokens) } else { String::new() };
                        // A Continue the model ends at once has no speed to show.
                        let text = if s.completion_tokens == 0 {
                            format!("{} prompt + 0 new tokens: the model ended the reply at once{reused}", s.prompt_tokens)
                        } else {
                            format!(
                                "{} prompt + {} new tokens · {:.1} tok/s · first token after {:.0} ms{reused}",
                                s.prompt_tokens,
                                s.completion_tokens,
                                s.decode_tokens_per_second,
                                s.time_to_first_token_ms,
                            )
                        };
                        view! { <p class="stats">{text}</p> }
                    })
            }}
        </div>
    }
}
