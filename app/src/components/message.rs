use leptos::prelude::*;

use crate::state::ChatState;
use crate::types::Role;

/// One message of the conversation, read from the shared state by index so a
/// streaming reply re-renders only its own text.
#[component]
pub fn MessageView(index: usize) -> impl IntoView {
    let state = ChatState::expect();
    let role = move || state.messages.with(|m| m.get(index).map(|m| m.role));
    let content = move || {
        state
            .messages
            .with(|m| m.get(index).map(|m| m.content.clone()).unwrap_or_default())
    };
    let is_streaming = move || {
        state.generating.with(Option::is_some) && state.messages.with(|m| m.len() == index + 1)
    };
    let class = move || match role() {
        Some(Role::User) => "message user",
        Some(Role::System) => "message system",
        _ => "message assistant",
    };
    let author = move || match role() {
        Some(Role::User) => "You",
        Some(Role::System) => "System",
        _ => "Assistant",
    };

    view! {
        <div class=class class:streaming=is_streaming data-index=index>
            <div class="author">{author}</div>
            // Model output is plain text: rendered as a text node, never as HTML.
            <div class="content">{content}</div>
        </div>
    }
}
