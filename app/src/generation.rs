//! Browser side of a reply: sends the conversation, applies the streamed
//! events to the state, and stops on request.

use futures::StreamExt;
use leptos::{prelude::*, task::spawn_local};

use crate::api::{generate_reply, stop_reply};
use crate::state::ChatState;
use crate::types::{ChatMessage, EventLineDecoder, ReplyRequest, Role, StreamEvent};

/// Appends the user's message and starts the assistant's reply.
/// Returns false (and changes nothing) when the text is blank or a reply is
/// already running.
pub fn send_message(state: ChatState, text: String) -> bool {
    if text.trim().is_empty() || state.generating.get_untracked().is_some() {
        return false;
    }
    state
        .messages
        .update(|m| m.push(ChatMessage::new(Role::User, text)));
    start_reply(state);
    true
}

/// Ends the running reply now: the browser stops reading at once and the
/// server ends generation before its next token.
pub fn stop_generation(state: ChatState) {
    if let Some(request_id) = state.generating.get_untracked() {
        state.generating.set(None);
        spawn_local(async move {
            let _ = stop_reply(request_id).await;
        });
    }
}

fn start_reply(state: ChatState) {
    let params = state.params.get_untracked();
    if let Err(e) = params.validate() {
        state.error.set(Some(format!("Parameters: {e}")));
        return;
    }
    let messages = state.messages.get_untracked();
    let request_id = new_request_id();
    state.error.set(None);
    state.last_stats.set(None);
    state.generating.set(Some(request_id.clone()));
    state
        .messages
        .update(|m| m.push(ChatMessage::new(Role::Assistant, "")));

    spawn_local(async move {
        let request = ReplyRequest {
            request_id: request_id.clone(),
            messages,
            params,
        };
        let still_running = {
            let request_id = request_id.clone();
            move || state.generating.get_untracked().as_deref() == Some(request_id.as_str())
        };
        match generate_reply(request).await {
            Err(e) => state.error.set(Some(e.to_string())),
            Ok(stream) => {
                let mut stream = stream.into_inner();
                let mut decoder = EventLineDecoder::default();
                while let Some(chunk) = stream.next().await {
                    if !still_running() {
                        break;
                    }
                    match chunk {
                        Ok(bytes) => decoder
                            .push(&bytes)
                            .into_iter()
                            .for_each(|e| apply(state, e)),
                        Err(e) => {
                            state.error.set(Some(e.to_string()));
                            break;
                        }
                    }
                }
            }
        }
        drop_empty_reply(state);
        if still_running() {
            state.generating.set(None);
        }
    });
}

fn apply(state: ChatState, event: StreamEvent) {
    match event {
        StreamEvent::Text { text } => state.messages.update(|m| {
            if let Some(last) = m.last_mut() {
                last.content.push_str(&text);
            }
        }),
        StreamEvent::Done { stats, .. } => state.last_stats.set(Some(stats)),
        StreamEvent::Error { message } => state.error.set(Some(message)),
    }
}

/// An assistant message that never got text (an error before the first
/// token) is removed so the next turn is not sent an empty reply.
fn drop_empty_reply(state: ChatState) {
    state.messages.update(|m| {
        if m.last()
            .is_some_and(|last| last.role == Role::Assistant && last.content.is_empty())
        {
            m.pop();
        }
    });
}

fn new_request_id() -> String {
    format!(
        "{:x}-{:x}",
        js_sys::Date::now() as u64,
        (js_sys::Math::random() * u32::MAX as f64) as u64
    )
}
