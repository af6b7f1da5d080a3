//! Browser side of a reply: asks the server to apply an action to the saved
//! chat and generate, shows the streamed text where it will be saved, and
//! reloads the chat from the server when the reply ends.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::StreamExt;
use leptos::{prelude::*, task::spawn_local};

use crate::api::{generate_reply, stop_reply};
use crate::attach::restore_files;
use crate::chat_ops::reload_chat_then;
use crate::state::{ChatState, PromptInfo, Streaming};
use crate::types::{
    fork_user_message, Attachment, ChatAction, EventLineDecoder, FinishReason, Placement,
    ReplyRequest, StreamEvent,
};

/// Sends the user's message and asks for a reply. Returns false (and changes
/// nothing) when a reply is already running or no chat is open.
pub fn send_message(state: ChatState, text: String) -> bool {
    if state.reading_files.get_untracked() > 0 {
        state.error.set(Some(
            "the attached files are still being read; send again in a moment".into(),
        ));
        return false;
    }
    let attachments: Vec<Attachment> = state
        .pending_files
        .with_untracked(|f| f.iter().map(|p| p.attachment.clone()).collect());
    if text.trim().is_empty()
        && attachments.is_empty()
        && state
            .chat
            .with_untracked(|c| c.as_ref().is_none_or(|c| c.messages.is_empty()))
    {
        return false;
    }
    let sent = run(state, ChatAction::Send { text, attachments });
    if sent {
        state.pending_files.set(Vec::new());
    }
    sent
}

/// Regenerate, Continue or Impersonate.
pub fn run(state: ChatState, action: ChatAction) -> bool {
    if state.busy() {
        return false;
    }
    let Some((key, base_revision, last_role)) = state.chat.with_untracked(|c| {
        c.as_ref()
            .map(|c| (c.key.clone(), c.revision, c.messages.last().map(|m| m.role)))
    }) else {
        return false;
    };
    let params = state.params.get_untracked();
    if let Err(e) = params.check() {
        state.error.set(Some(format!("Parameters: {e}")));
        return false;
    }
    // The same rule the server applies (it announces its placement in the
    // reply's first event); decided here too so the reply shows at once.
    let Some(target) = Placement::decide(&action, last_role) else {
        return false;
    };
    // The user's message is shown at once; the server saves it before
    // generating. If the server refuses, it goes back into the box.
    let optimistic = action.new_user_message();
    if let Some(message) = &optimistic {
        state.chat.update(|c| {
            if let Some(c) = c {
                c.messages.push(message.clone());
            }
        });
    }
    // An earlier message sent again: the chat after it goes with its old
    // version at once, as the server will save it.
    if let ChatAction::Resend { index, text } = &action {
        state.chat.update(|c| {
            if let Some(c) = c {
                let _ = fork_user_message(&mut c.messages, *index, text.clone());
            }
        });
    }
    let forked = matches!(action, ChatAction::Resend { .. });
    // Impersonate's reply grows from what the box held.
    let start = match &action {
        ChatAction::Impersonate { text } => text.clone(),
        _ => String::new(),
    };
    let request_id = new_request_id();
    state.clear_messages();
    state.last_stats.set(None);
    state.last_finish.set(None);
    state.streaming.set(Some(Streaming {
        request_id: request_id.clone(),
        target,
        text: start,
    }));
    let request = ReplyRequest {
        request_id: request_id.clone(),
        key,
        base_revision,
        action,
        settings: state.settings.get_untracked(),
        params,
    };
    spawn_local(async move {
        let still_running = {
            let id = request_id.clone();
            move || is_current(state, &id)
        };
        let frames = FrameBuffer::default();
        match generate_reply(request).await {
            Err(e) => {
                // Nothing was saved: undo the optimistic message and keep
                // the chat as it was (a stale tab offers a reload instead).
                if let Some(message) = optimistic {
                    state.chat.update(|c| {
                        if let Some(c) = c {
                            c.messages.pop();
                        }
                    });
                    state.draft.set(Some(message.text().to_string()));
                    restore_files(state, message.attachments);
                }
                if still_running() {
                    state.streaming.set(None);
                }
                state.fail(e);
                if forked {
                    // Back to the chat as the server has it.
                    reload_chat_then(state, |_| {});
                }
                return;
            }
            Ok(stream) => {
                let mut stream = stream.into_inner();
                let mut decoder = EventLineDecoder::default();
                // Read to the end even after Stop: the stream ends once the
                // server has saved the reply, and then the reload shows it.
                while let Some(chunk) = stream.next().await {
                    match chunk {
                        Ok(bytes) => {
                            for event in decoder.push(&bytes) {
                                if !still_running() {
                                    continue;
                                }
                                match event {
                                    StreamEvent::Text { text } => {
                                        frames.push(state, &request_id, &text)
                                    }
                                    other => {
                                        frames.flush(state);
                                        apply(state, other);
                                    }
                                }
                            }
                        }
                        Err(e) => {
                            state.fail(e);
                            break;
                        }
                    }
                }
            }
        }
        if still_running() {
            frames.flush(state);
            state.streaming.set(None);
        }
        state.progress.set(None);
        // The server saved whatever was generated: show its version, and
        // go on with the tools the reply called if they may run at once.
        let stopped = state.last_finish.get_untracked() == Some(FinishReason::Cancelled)
            || state.error.with_untracked(Option::is_some);
        reload_chat_then(state, move |state| {
            if !stopped {
                continue_with_tools(state);
            }
        });
    });
    true
}

/// Runs the last reply's approved tool calls and lets it go on, once no
/// call waits for the user (the Tools loop; see `ChatAction::RunTools`).
pub fn continue_with_tools(state: ChatState) -> bool {
    let ready = state.chat.with_untracked(|c| {
        c.as_ref()
            .and_then(|c| c.messages.last())
            .is_some_and(|m| m.tool_calls_ready())
    });
    ready && run(state, ChatAction::RunTools)
}

/// Ends the running reply now: the text so far stays where it is, the box
/// is free at once, and the server ends generation before its next token
/// (saving what it has; the reload when its stream ends shows that).
pub fn stop_generation(state: ChatState) {
    let Some(streaming) = state.streaming.get_untracked() else {
        return;
    };
    keep_locally(state, &streaming);
    state.streaming.set(None);
    state.last_finish.set(Some(FinishReason::Cancelled));
    spawn_local(async move {
        let _ = stop_reply(streaming.request_id).await;
    });
}

/// Puts the streamed text into the local copy of the chat, where the server
/// will save it.
fn keep_locally(state: ChatState, streaming: &Streaming) {
    if streaming.text.is_empty() {
        return;
    }
    state.chat.update(|c| {
        if let Some(c) = c {
            streaming.target.apply(&mut c.messages, &streaming.text);
        }
    });
}

fn is_current(state: ChatState, request_id: &str) -> bool {
    state
        .streaming
        .with_untracked(|s| s.as_ref().is_some_and(|s| s.request_id == request_id))
}

/// How often the growing reply is redrawn.
const UPDATE_EVERY: std::time::Duration = std::time::Duration::from_millis(66);

/// Streamed text waits here for the next update (`UPDATE_EVERY`), so the
/// browser renders and lays out the growing reply ~15 times a second, not
/// once per token: on a two-core laptop, redrawing per token took a core
/// from the engine (text-generation-webui caps UI updates per second for
/// the same reason).
#[derive(Clone, Default)]
struct FrameBuffer {
    text: Rc<RefCell<String>>,
    scheduled: Rc<Cell<bool>>,
}

impl FrameBuffer {
    fn push(&self, state: ChatState, request_id: &str, text: &str) {
        self.text.borrow_mut().push_str(text);
        if self.scheduled.replace(true) {
            return;
        }
        let (frames, id) = (self.clone(), request_id.to_string());
        set_timeout(
            move || {
                frames.scheduled.set(false);
                if is_current(state, &id) {
                    frames.flush(state);
                }
            },
            UPDATE_EVERY,
        );
    }

    /// Shows the waiting text now (before any other event, and at the end).
    fn flush(&self, state: ChatState) {
        let text = std::mem::take(&mut *self.text.borrow_mut());
        if !text.is_empty() {
            apply(state, StreamEvent::Text { text });
        }
    }
}

fn apply(state: ChatState, event: StreamEvent) {
    match event {
        StreamEvent::Placed { placement } => state.streaming.update(|s| {
            if let Some(s) = s {
                s.target = placement;
            }
        }),
        StreamEvent::Prompt {
            text,
            tokens,
            dropped_messages,
        } => state.last_prompt.set(Some(PromptInfo {
            text,
            tokens,
            dropped_messages,
        })),
        StreamEvent::Saved { .. } => {}
        StreamEvent::Waiting { ahead } => state.progress.set(Some(match ahead {
            0 => "waiting: next in line".to_string(),
            n => format!("waiting: {n} ahead"),
        })),
        StreamEvent::Reading { done, total } => state.progress.set(Some(format!(
            "reading prompt: {} / {} tokens",
            thousands(done),
            thousands(total)
        ))),
        StreamEvent::Text { text } => {
            if state.progress.with_untracked(Option::is_some) {
                state.progress.set(None);
            }
            let mut to_box = None;
            state.streaming.update(|s| {
                if let Some(s) = s {
                    s.text.push_str(&text);
                    if s.target == Placement::Composer {
                        // The prompt ends with `Name:`, so the model's
                        // text starts with the space after it.
                        to_box = Some(s.text.trim_start().to_string());
                    }
                }
            });
            if to_box.is_some() {
                state.draft.set(to_box);
            }
        }
        StreamEvent::Done {
            stats,
            finish_reason,
        } => {
            state.progress.set(None);
            state.last_stats.set(Some(stats));
            state.last_finish.set(Some(finish_reason));
        }
        StreamEvent::Error { message } => {
            state.progress.set(None);
            state.error.set(Some(message));
        }
        StreamEvent::RunningTool { name } => {
            state.progress.set(Some(format!("running tool {name}…")));
        }
        StreamEvent::ToolUses { uses } => {
            state.progress.set(None);
            state.chat.update(|c| {
                if let Some(reply) = c.as_mut().and_then(|c| c.messages.last_mut()) {
                    reply.tool_uses.retain(|u| u.version != reply.current);
                    reply.tool_uses.extend(uses);
                }
            });
        }
    }
}

/// 3500 as "3,500".
fn thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub(crate) fn new_request_id() -> String {
    format!(
        "{:x}-{:x}",
        js_sys::Date::now() as u64,
        (js_sys::Math::random() * u32::MAX as f64) as u64
    )
}
