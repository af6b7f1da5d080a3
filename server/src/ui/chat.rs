//! Generation into a saved chat. The server owns the chat while it
//! generates: the user's message is saved before the model starts, the reply
//! when it ends (finished, stopped, or abandoned by a closed tab), so a crash
//! or a lost tab loses no finished turn and a stale tab cannot overwrite it.

use std::{future::Future, pin::Pin};

use app::{
    services::{ChatService, EventStream},
    types::{
        AppError, AttachmentPreview, Caller, Character, ChatAction, ChatLog, ChatSettings,
        CompletionRequest, FinishReason, GenerationStats, LoggedMessage, Mode, ModelStatus,
        Placement, ReplyRequest, Role, StreamEvent, ToolCatalog, ToolInfo,
    },
};
use futures::StreamExt;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use engine::{EngineError, EngineEvent};

use super::{
    message_info,
    tool_loop::{self, Capture},
};
use crate::{
    attachments::{self, AttachmentError},
    chat::{Backend, ChatError, ChatRequest},
    prompt::{Continuation, PromptError},
    replies::ReplyStream,
    store::{Chats, GenerationLock, StoreError},
    AppState,
};
use domain::ChatTools;

pub struct UiChat {
    state: AppState,
}

impl UiChat {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl ChatService for UiChat {
    fn start_reply(
        &self,
        caller: &Caller,
        request: ReplyRequest,
    ) -> Pin<Box<dyn Future<Output = Result<EventStream, AppError>> + Send>> {
        let (state, caller) = (self.state.clone(), caller.clone());
        Box::pin(start_reply(state, caller, request))
    }

    fn start_completion(
        &self,
        caller: &Caller,
        request: CompletionRequest,
    ) -> Result<EventStream, AppError> {
        let (events, prompt_tokens) = self.state.chat.start_completion(
            &owner(caller),
            &request.request_id,
            &request.prompt,
            request
                .params
                .validate()
                .map_err(|e| AppError::InvalidParameter(e.message))?,
            crate::chat::CompletionOptions::default(),
        )?;
        // The prompt is the browser's own text: only its length goes back.
        let prompt = StreamEvent::Prompt {
            text: String::new(),
            tokens: prompt_tokens as u32,
            dropped_messages: 0,
        };
        Ok(Box::pin(
            futures::stream::once(async move { prompt })
                .chain(events.filter_map(|e| std::future::ready(shown_event(e)))),
        ))
    }

    fn stop_reply(&self, caller: &Caller, request_id: &str) -> bool {
        self.state.replies.stop(&owner(caller), request_id)
    }

    fn model_status(&self) -> ModelStatus {
        match self.state.chat.served() {
            Ok(m) => ModelStatus::Ready {
                name: m.name,
                architecture: m.architecture,
                context_length: m.context_length,
                device: m.device,
            },
            Err(e) => ModelStatus::Failed {
                reason: crate::errors::engine_error(e).to_string(),
            },
        }
    }

    fn model_template(&self) -> Option<String> {
        self.state.chat.model_template()
    }

    fn read_attachment(
        &self,
        name: String,
        bytes: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<AttachmentPreview, AppError>> + Send>> {
        let chat = self.state.chat.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || attachment_preview(chat.as_ref(), &name, &bytes))
                .await
                .map_err(|_| AppError::from(AttachmentError::Failed))?
        })
    }

    fn tool_catalog(&self) -> Pin<Box<dyn Future<Output = ToolCatalog> + Send>> {
        let tools = self.state.tools.clone();
        Box::pin(async move {
            tools.retry_failed().await;
            tools.catalog().await
        })
    }
}

/// Applies the action to the caller's saved chat and streams the reply.
async fn start_reply(
    state: AppState,
    caller: Caller,
    request: ReplyRequest,
) -> Result<EventStream, AppError> {
    let params = request
        .params
        .clone()
        .validate()
        .map_err(|e| AppError::InvalidParameter(e.message))?;
    let chats = state.data.chats.of_user(caller.user.as_deref())?;
    let generation = chats.begin_generation(&request.key, request.base_revision)?;
    let log = chats.load(&request.key)?;
    let plan = plan(&request.action, &log)?;
    let owner = owner(&caller);
    if request.action == ChatAction::RunTools {
        return run_tools(state, chats, generation, &log, request, params, owner);
    }
    let extending = log
        .messages
        .last()
        .filter(|_| plan.target == Placement::Extend);
    let offered =
        tool_loop::offered(&state.tools, request.settings.mode, &log.tools, extending).await;
    let mut history = match (&request.action, plan.target) {
        // The chat up to the message sent again, and its new text (with
        // the files it carried).
        (ChatAction::Resend { index, text }, _) => {
            let message = log
                .messages
                .get(*index)
                .filter(|m| m.role == Role::User)
                .ok_or_else(|| {
                    AppError::InvalidParameter(format!("message {index} is not a user message"))
                })?;
            if text.trim().is_empty() && message.attachments.is_empty() {
                return Err(AppError::InvalidParameter(
                    "the message is empty: write what to send".into(),
                ));
            }
            let mut history = log.history_before(*index);
            history.push(domain::ChatMessage::new(
                Role::User,
                domain::with_attachments(text, &message.attachments),
            ));
            history
        }
        (_, Placement::NewVersion) => log.history_before(log.messages.len() - 1),
        _ => log.history(),
    };
    if let Some(message) = &plan.user_message {
        domain::check_attachments(&message.attachments).map_err(AppError::InvalidParameter)?;
        history.push(domain::ChatMessage::new(Role::User, message.prompt_text()));
    }
    if let ChatAction::Impersonate { text } = &request.action {
        // The user's message being written: the prompt ends inside it.
        history.push(domain::ChatMessage::new(Role::User, text.clone()));
    }
    // "Start reply with": a new reply is written on from that text,
    // which is then part of it.
    let start = &request.settings.start_reply_with;
    let (continuation, begun) = match plan.target {
        Placement::NewReply | Placement::NewVersion if !start.trim().is_empty() => {
            history.push(domain::ChatMessage::new(Role::Assistant, start.clone()));
            (Continuation::ContinueLast, start.clone())
        }
        _ => (plan.continuation, String::new()),
    };
    let chat_request = chat_request(
        &state,
        &request.settings,
        history,
        continuation,
        params,
        &offered,
    )?;
    let capture = capture(&state, &chat_request, &offered, &log.tools, extending)?;
    // Queued first, saved second: a request refused (busy, too long)
    // leaves the chat as it was, with no turn that has no reply.
    let (events, prompt) = state
        .chat
        .start(&owner, &request.request_id, &chat_request)
        .map_err(|e| too_long_with_files(e, plan.user_message.as_ref()))?;
    // Counted before the chat's lock is taken.
    let sent_tokens = match (&plan.user_message, &request.action) {
        (Some(message), _) => token_count(&state, &message.prompt_text()),
        (None, ChatAction::Resend { index, text }) => log
            .messages
            .get(*index)
            .and_then(|m| token_count(&state, &domain::with_attachments(text, &m.attachments))),
        (None, _) => None,
    };
    let saved = match (plan.user_message, &request.action) {
        (Some(mut message), _) => {
            message_info::mark_sent(&mut message, sent_tokens);
            let (log, ()) = chats.update_generating(&generation, |m| {
                m.push(message);
                Ok(())
            })?;
            Some(log.revision)
        }
        (None, ChatAction::Resend { index, text }) => {
            let (log, ()) = chats.update_generating(&generation, |m| {
                domain::fork_user_message(m, *index, text.clone()).map_err(StoreError::Invalid)?;
                message_info::mark_sent(&mut m[*index], sent_tokens);
                Ok(())
            })?;
            Some(log.revision)
        }
        (None, _) => None,
    };

    let (tx, rx) = unbounded_channel();
    let _ = tx.send(StreamEvent::Placed {
        placement: plan.target,
    });
    let _ = tx.send(StreamEvent::Prompt {
        text: prompt.text,
        tokens: prompt.tokens.len() as u32,
        dropped_messages: prompt.dropped_messages as u32,
    });
    if let Some(revision) = saved {
        let _ = tx.send(StreamEvent::Saved { revision });
    }
    if !begun.is_empty() {
        let _ = tx.send(StreamEvent::Text {
            text: begun.clone(),
        });
    }
    tokio::spawn(drive(
        chats,
        events,
        tx,
        generation,
        plan.target,
        begun,
        capture,
    ));
    Ok(Box::pin(tokio_stream_from(rx)))
}

/// `text`'s length in the model's tokens, where a tokenizer is at hand.
fn token_count(state: &AppState, text: &str) -> Option<u32> {
    let tokens = state.chat.tokenizer().ok()?.encode_text(text).ok()?;
    Some(tokens.len() as u32)
}

/// The call parser for a reply offered `offered` tools (none without).
fn capture(
    state: &AppState,
    request: &ChatRequest,
    offered: &[ToolInfo],
    chat: &ChatTools,
    extending: Option<&LoggedMessage>,
) -> Result<Option<Capture>, AppError> {
    if offered.is_empty() {
        return Ok(None);
    }
    let format = state.chat.tool_format(request)?;
    Ok(Some(Capture::new(format, offered, chat, extending)))
}

/// `RunTools`: runs the last reply's approved calls (in the stream, so
/// Stop ends them), then lets the reply go on with their results.
fn run_tools(
    state: AppState,
    chats: Chats,
    generation: GenerationLock,
    log: &ChatLog,
    request: ReplyRequest,
    params: domain::ValidParams,
    owner: String,
) -> Result<EventStream, AppError> {
    let reply = log.messages.last();
    if reply.is_some_and(LoggedMessage::tool_call_pending) {
        return Err(AppError::InvalidParameter(
            "a tool call still waits for Approve or Reject".into(),
        ));
    }
    if !reply.is_some_and(LoggedMessage::tool_calls_ready) {
        return Err(AppError::InvalidParameter(
            "no tool calls of the last reply wait to be run".into(),
        ));
    }
    let (tx, rx) = unbounded_channel();
    let _ = tx.send(StreamEvent::Placed {
        placement: Placement::Extend,
    });
    tokio::spawn(async move {
        if let Err(e) =
            tools_then_reply(&state, &chats, generation, &request, params, &owner, &tx).await
        {
            let _ = tx.send(StreamEvent::Error {
                message: e.to_string(),
            });
        }
    });
    Ok(Box::pin(tokio_stream_from(rx)))
}

async fn tools_then_reply(
    state: &AppState,
    chats: &Chats,
    generation: GenerationLock,
    request: &ReplyRequest,
    params: domain::ValidParams,
    owner: &str,
    tx: &UnboundedSender<StreamEvent>,
) -> Result<(), AppError> {
    let (cancel, registration) = state.replies.open(owner, &request.request_id);
    let ran = tool_loop::run_approved(&state.tools, chats, &generation, &cancel, tx).await;
    registration.close();
    let _ = tx.send(StreamEvent::ToolUses { uses: ran? });
    if let Some(reason) = cancel.reason() {
        let _ = tx.send(StreamEvent::Done {
            finish_reason: finish_reason(reason),
            stats: GenerationStats::default(),
        });
        return Ok(());
    }
    if tx.is_closed() {
        // The tab went away while the tools ran: their results stay
        // unread, and the page offers to go on with them.
        return Ok(());
    }
    let log = chats.load(generation.key())?;
    let reply = log.messages.last();
    let offered = tool_loop::offered(&state.tools, request.settings.mode, &log.tools, reply).await;
    let chat_request = chat_request(
        state,
        &request.settings,
        log.history(),
        Continuation::Reply,
        params,
        &offered,
    )?;
    let capture = capture(state, &chat_request, &offered, &log.tools, reply)?;
    let (events, prompt) = state
        .chat
        .start(owner, &request.request_id, &chat_request)?;
    let (log, ()) = chats.update_generating(&generation, |messages| {
        tool_loop::mark_delivered(messages);
        Ok(())
    })?;
    let _ = tx.send(StreamEvent::Prompt {
        text: prompt.text,
        tokens: prompt.tokens.len() as u32,
        dropped_messages: prompt.dropped_messages as u32,
    });
    let _ = tx.send(StreamEvent::Saved {
        revision: log.revision,
    });
    drive(
        chats.clone(),
        events,
        tx.clone(),
        generation,
        Placement::Extend,
        String::new(),
        capture,
    )
    .await;
    Ok(())
}

/// A file's text and its size in the loaded model's tokens (none where no
/// model is loaded, or the backend cannot count).
fn attachment_preview(
    chat: &dyn Backend,
    name: &str,
    bytes: &[u8],
) -> Result<AttachmentPreview, AppError> {
    let attachment = attachments::read(name, bytes)?;
    let tokens = match chat.tokenizer() {
        Ok(tokenizer) => match tokenizer.encode_text(&attachment.content) {
            Ok(ids) => Some(ids.len()),
            Err(EngineError::TextTooLong { context_tokens, .. }) => {
                return Err(AppError::InvalidParameter(format!(
                    "{}'s text is far longer than the model's whole context ({context_tokens} tokens)",
                    attachment.name
                )))
            }
            Err(_) => None,
        },
        Err(_) => None,
    };
    Ok(AttachmentPreview { attachment, tokens })
}

/// The request for the model: the chat's settings, its character and
/// template, and the tools it offers.
fn chat_request(
    state: &AppState,
    settings: &ChatSettings,
    history: Vec<domain::ChatMessage>,
    continuation: Continuation,
    params: domain::ValidParams,
    offered: &[ToolInfo],
) -> Result<ChatRequest, AppError> {
    let data = &state.data;
    let character = match (settings.mode, data.characters.load(&settings.character)) {
        (_, Ok(c)) => c,
        (Mode::Instruct, Err(_)) => Character::default(),
        (_, Err(e)) => return Err(e.into()),
    };
    let instruction_template = match &settings.instruction_template {
        Some(name) => Some(data.templates.load(name)?),
        None => None,
    };
    Ok(ChatRequest {
        history,
        mode: settings.mode,
        character,
        user: settings.user.clone(),
        system_message: Some(settings.system_message.clone()).filter(|s| !s.trim().is_empty()),
        chat_instruct_command: settings.chat_instruct_command.clone(),
        instruction_template,
        continuation,
        params,
        enable_thinking: Some(settings.thinking),
        tools: offered.iter().map(ToolInfo::definition).collect(),
        grammar: None,
        logprobs: None,
        pass_through: Default::default(),
    })
}

/// What an action does before the model runs.
struct Plan {
    /// Saved as the user's turn once the reply is queued (Send).
    user_message: Option<LoggedMessage>,
    target: Placement,
    continuation: Continuation,
}

fn plan(action: &ChatAction, log: &ChatLog) -> Result<Plan, AppError> {
    let target = Placement::decide(action, log.messages.last().map(|m| m.role))
        .ok_or_else(|| AppError::InvalidParameter("there is no reply to continue".into()))?;
    let user_message = action.new_user_message();
    let continuation = match target {
        Placement::Extend => Continuation::ContinueLast,
        Placement::Composer => Continuation::Impersonate,
        Placement::NewReply | Placement::NewVersion => Continuation::Reply,
    };
    Ok(Plan {
        user_message,
        target,
        continuation,
    })
}

/// A prompt too long for the context, where the new message carries
/// files: the message says so, and what to do. Nothing is cut: the files
/// go in whole or the message is refused (and stays in the message box).
fn too_long_with_files(e: ChatError, message: Option<&LoggedMessage>) -> AppError {
    let files = message.map_or(0, |m| m.attachments.len());
    match e {
        ChatError::Prompt(PromptError::ContextTooLong {
            prompt_tokens,
            budget,
        }) if files > 0 => AppError::InvalidParameter(format!(
            "the message with its attached {} needs {prompt_tokens} tokens, but only {budget} fit (truncation_length minus max_new_tokens): remove a file, or raise truncation_length on the Parameters tab",
            if files == 1 { "file" } else { "files" }
        )),
        e => e.into(),
    }
}

/// The engine's name for the caller's replies, so one user's request id
/// cannot stop another's reply.
pub fn owner(caller: &Caller) -> String {
    caller.user.clone().unwrap_or_default()
}

/// Forwards the engine's events to the browser and saves the reply (which
/// starts with `begun`, already sent) when it ends. If the browser goes
/// away, generation is cancelled (by dropping the engine's stream) and what
/// was generated is still saved.
async fn drive(
    chats: Chats,
    mut events: ReplyStream,
    tx: UnboundedSender<StreamEvent>,
    generation: GenerationLock,
    target: Placement,
    begun: String,
    mut capture: Option<Capture>,
) {
    let mut text = begun;
    let mut end: Option<StreamEvent> = None;
    while let Some(event) = events.next().await {
        let Some(event) = shown_event(event) else {
            continue;
        };
        match event {
            StreamEvent::Text { text: piece } => {
                // With tools on, calls are held back and kept aside.
                let piece = match &mut capture {
                    Some(capture) => capture.push(&piece, text.len()),
                    None => piece,
                };
                if piece.is_empty() {
                    continue;
                }
                text.push_str(&piece);
                if tx.send(StreamEvent::Text { text: piece }).is_err() {
                    break; // the browser went away
                }
            }
            last @ (StreamEvent::Done { .. } | StreamEvent::Error { .. }) => {
                end = Some(last);
                break;
            }
            other => {
                let _ = tx.send(other);
            }
        }
    }
    drop(events);
    if let Some(capture) = &mut capture {
        let rest = capture.finish(text.len());
        if !rest.is_empty() {
            text.push_str(&rest);
            let _ = tx.send(StreamEvent::Text { text: rest });
        }
    }
    let stats = match &end {
        Some(StreamEvent::Done { stats, .. }) => Some(stats.clone()),
        _ => None,
    };
    match save_reply(&chats, &generation, target, text, stats, capture) {
        Ok(Some(revision)) => {
            let _ = tx.send(StreamEvent::Saved { revision });
        }
        Ok(None) => {}
        Err(e) => {
            tracing::error!(error = %e, "saving a reply failed");
            let _ = tx.send(StreamEvent::Error {
                message: AppError::from(e).to_string(),
            });
        }
    }
    drop(generation);
    let _ = tx.send(end.unwrap_or(StreamEvent::Done {
        finish_reason: FinishReason::Cancelled,
        stats: GenerationStats::default(),
    }));
}

/// An engine event as the browser is sent it (the UI asks for no
/// log-probabilities).
fn shown_event(event: EngineEvent) -> Option<StreamEvent> {
    Some(match event {
        EngineEvent::Text(text) => StreamEvent::Text { text },
        EngineEvent::Waiting { ahead } => StreamEvent::Waiting {
            ahead: ahead as u32,
        },
        EngineEvent::Reading { done, total } => StreamEvent::Reading {
            done: done as u32,
            total: total as u32,
        },
        EngineEvent::Finished { reason, stats } => StreamEvent::Done {
            finish_reason: finish_reason(reason),
            stats: shown_stats(stats),
        },
        EngineEvent::Failed(e) => StreamEvent::Error {
            message: crate::errors::engine_error(e).to_string(),
        },
        EngineEvent::Logprobs(_) => return None,
    })
}

fn save_reply(
    chats: &Chats,
    generation: &GenerationLock,
    target: Placement,
    text: String,
    stats: Option<GenerationStats>,
    capture: Option<Capture>,
) -> Result<Option<u64>, StoreError> {
    let calls = capture.filter(Capture::has_calls);
    if (text.is_empty() && calls.is_none()) || target == Placement::Composer {
        return Ok(None);
    }
    let (log, ()) = chats.update_generating(generation, |messages| {
        // Calls are placed after the text the reply had before this part.
        let base = match (target, messages.last()) {
            (Placement::Extend, Some(last)) if last.role == Role::Assistant => last.text().len(),
            _ => 0,
        };
        target.apply_even_empty(messages, &text);
        if let Some(reply) = messages.last_mut() {
            if let Some(stats) = &stats {
                reply.reply_info = Some(message_info::reply_info(stats, reply.current));
            }
            if let Some(calls) = calls {
                let uses = calls.into_uses(reply, base);
                reply.tool_uses.extend(uses);
            }
        }
        if let Some(stats) = &stats {
            message_info::note_prompt(messages, target, stats);
        }
        Ok(())
    })?;
    Ok(Some(log.revision))
}

/// A tokio receiver as a `Stream`.
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<StreamEvent>,
) -> impl futures::Stream<Item = StreamEvent> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

fn finish_reason(reason: engine::FinishReason) -> FinishReason {
    match reason {
        engine::FinishReason::Stop => FinishReason::Stop,
        engine::FinishReason::Length => FinishReason::Length,
        engine::FinishReason::Cancelled => FinishReason::Cancelled,
        engine::FinishReason::Interrupted => FinishReason::Interrupted,
    }
}

fn shown_stats(s: engine::GenerationStats) -> GenerationStats {
    GenerationStats {
        prompt_tokens: s.prompt_tokens,
        cached_tokens: s.cached_tokens,
        completion_tokens: s.completion_tokens,
        time_to_first_token_ms: s.time_to_first_token_ms,
        prompt_tokens_per_second: s.prompt_tokens_per_second,
        decode_tokens_per_second: s.decode_tokens_per_second,
    }
}
