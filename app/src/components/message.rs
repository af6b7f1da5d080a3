use leptos::{html::Textarea, prelude::*};

use super::icons::PaperclipIcon;
use super::ToolCallBlock;
use crate::chat_ops::{apply_edit, branch_at};
use crate::generation::{continue_with_tools, run};
use crate::state::{ChatState, Shown};
use crate::types::{size_text, split_at_calls, ChatAction, ChatEdit, Mode, Role, ToolUse};
use crate::{clipboard, markdown, reasoning};

/// One message: Markdown content, its versions (`<` `>`), and the per-message
/// actions (copy, edit in place, branch from here).
#[component]
pub fn MessageView(index: usize, all: Memo<Vec<Shown>>) -> impl IntoView {
    let state = ChatState::expect();
    let shown = Memo::new(move |_| all.with(|v| v.get(index).cloned()));
    let editing = RwSignal::new(false);
    let copied = RwSignal::new(false);
    let editor = NodeRef::<Textarea>::new();

    let role = move || shown.with(|s| s.as_ref().map_or(Role::Assistant, |s| s.role));
    let text = move || shown.with(|s| s.as_ref().map(|s| s.text.clone()).unwrap_or_default());
    let streaming = move || shown.with(|s| s.as_ref().is_some_and(|s| s.streaming));
    let version = move || shown.with(|s| s.as_ref().map_or((0, 1), |s| s.version));
    let in_chat_mode = move || state.settings.with(|s| s.mode != Mode::Instruct);
    let author = move || match role() {
        Role::User => state.settings.with(|s| s.user.name.clone()),
        Role::System => "System".to_string(),
        Role::Tool => "Tool".to_string(),
        Role::Assistant if in_chat_mode() => state.settings.with(|s| s.character.clone()),
        Role::Assistant => "Assistant".to_string(),
    };
    let class = move || match role() {
        Role::User => "message user",
        Role::System | Role::Tool => "message system",
        Role::Assistant => "message assistant",
    };
    let picture = move || {
        (role() == Role::Assistant && in_chat_mode()).then(|| {
            let name = state.settings.with(|s| s.character.clone());
            let v = state.picture_version.get();
            format!("/character-picture/{}?v={v}", encode(&name))
        })
    };
    // The reply's reasoning, shown apart and collapsed, and how long the
    // model spent on it (measured while it streams in this tab).
    let parts = Memo::new(move |_| {
        let t = text();
        let s = reasoning::split(&t);
        (
            s.reasoning.map(str::to_string),
            s.closed,
            s.answer.to_string(),
        )
    });
    let thinking_since = RwSignal::new(None::<f64>);
    let thought_for = RwSignal::new(None::<f64>);
    Effect::new(move |_| {
        let (reasoning, closed, _) = parts.get();
        let live = streaming() && reasoning.is_some();
        let now = js_sys::Date::now();
        if live && !closed && thinking_since.get_untracked().is_none() {
            thinking_since.set(Some(now));
        }
        if let (true, Some(since), None) = (
            closed,
            thinking_since.get_untracked(),
            thought_for.get_untracked(),
        ) {
            thought_for.set(Some((now - since) / 1000.0));
        }
    });
    let summary = move || {
        let closed = parts.with(|p| p.1);
        match (closed, thought_for.get()) {
            (false, _) if streaming() => "Thinking…".to_string(),
            (_, Some(s)) => format!("Thought for {s:.1} s"),
            _ => "Thoughts".to_string(),
        }
    };
    let locked = move || state.busy();
    let select_version = move |delta: isize| {
        let (current, total) = version();
        let next = current as isize + delta;
        if next >= 0 && (next as usize) < total {
            apply_edit(
                state,
                ChatEdit::SelectVersion {
                    index,
                    version: next as usize,
                },
                || {},
            );
        }
    };
    let save_edit = move || {
        if let Some(el) = editor.get_untracked() {
            let text = el.value();
            apply_edit(state, ChatEdit::EditMessage { index, text }, move || {
                editing.set(false)
            });
        }
    };

    // A reply that called tools: its text cut where each call was made,
    // with the call's block there.
    let has_tools = move || shown.with(|s| s.as_ref().is_some_and(|s| !s.tools.is_empty()));
    // The pieces before the last call change only when a call does, so
    // they are a memo of their own: a reply streaming on after its calls
    // redraws only its last piece, and a block the user opened stays open.
    let settled_segments = Memo::new(move |_| {
        shown.with(|s| {
            let Some(s) = s.as_ref() else {
                return Vec::new();
            };
            let mut segments = split_at_calls(&s.text, s.tools.iter());
            segments.pop();
            segments
                .into_iter()
                .map(|(piece, calls)| {
                    let calls: Vec<ToolUse> = calls.into_iter().cloned().collect();
                    (reasoning::split(piece).answer.to_string(), calls)
                })
                .collect::<Vec<_>>()
        })
    });
    let last_segment = Memo::new(move |_| {
        shown.with(|s| {
            s.as_ref()
                .and_then(|s| {
                    split_at_calls(&s.text, s.tools.iter())
                        .pop()
                        .map(|(piece, _)| reasoning::split(piece).answer.to_string())
                })
                .unwrap_or_default()
        })
    });
    let with_tools = move || {
        view! {
            {move || {
                settled_segments
                    .get()
                    .into_iter()
                    .map(|(answer, calls)| {
                        view! {
                            <div class="content" inner_html=markdown::render(&answer)></div>
                            {calls
                                .into_iter()
                                .map(|call| view! { <ToolCallBlock call /> })
                                .collect_view()}
                        }
                        .into_any()
                    })
                    .collect_view()
            }}
            <div class="content" inner_html=move || last_segment.with(|t| markdown::render(t))></div>
        }
    };
    // The last reply's calls are decided but it has not gone on (Stop
    // came first, or the tab was closed): offer to.
    let can_go_on = move || {
        !state.busy()
            && all.with(|v| v.len() == index + 1)
            && state.chat.with(|c| {
                c.as_ref()
                    .and_then(|c| c.messages.last())
                    .is_some_and(|m| m.tool_calls_ready())
            })
    };

    // An earlier message of the user's, edited and sent again: a new
    // version of it and a new reply (see `domain::forks`).
    let resend = move || {
        if let Some(el) = editor.get_untracked() {
            let action = ChatAction::Resend {
                index,
                text: el.value(),
            };
            if run(state, action) {
                editing.set(false);
            }
        }
    };

    // cai-chat shows a picture beside every message: the character's where
    // there is one, else the author's initial.
    let initial = move || {
        author()
            .chars()
            .next()
            .map(|c| c.to_uppercase().to_string())
            .unwrap_or_default()
    };
    // A character without a picture (the server answers 204): the initial.
    let no_picture = RwSignal::new(false);
    Effect::new(move |_| {
        let _ = picture();
        no_picture.set(false);
    });
    let shown_picture = move || picture().filter(|_| !no_picture.get());
    view! {
        <div class=class class:streaming=streaming data-index=index>
            <Show when=move || shown_picture().is_none()>
                <span class="letter-avatar" aria-hidden="true">{initial}</span>
            </Show>
            {move || {
                shown_picture()
                    .map(|src| {
                        view! {
                            <img
                                class="avatar"
                                src=src
                                alt=""
                                on:error=move |_| no_picture.set(true)
                            />
                        }
                    })
            }}
            <div class="message-body">
                <div
                    class="meta"
                    title=move || shown.with(|s| s.as_ref().and_then(numbers_title))
                >
                    <span class="author">{author}</span>
                    <Show when=move || { version().1 > 1 }>
                        <span class="versions">
                            <button class="version-prev" title="Previous version" disabled=locked on:click=move |_| select_version(-1)>
                                "<"
                            </button>
                            <span class="version-label">{move || format!("{}/{}", version().0 + 1, version().1)}</span>
                            <button class="version-next" title="Next version" disabled=locked on:click=move |_| select_version(1)>
                                ">"
                            </button>
                        </span>
                    </Show>
                </div>
                <Show when=move || shown.with(|s| s.as_ref().is_some_and(|s| !s.files.is_empty()))>
                    <div class="message-files">
                        {move || {
                            shown
                                .with(|s| s.as_ref().map(|s| s.files.clone()).unwrap_or_default())
                                .into_iter()
                                .map(|(name, bytes)| {
                                    view! {
                                        <span class="file-chip" title=format!("{name}: attached, {} of text", size_text(bytes))>
                                            <PaperclipIcon />
                                            <span class="file-name">{name.clone()}</span>
                                            <span class="file-size">{size_text(bytes)}</span>
                                        </span>
                                    }
                                })
                                .collect_view()
                        }}
                    </div>
                </Show>
                <Show when=move || streaming() && state.progress.with(Option::is_some)>
                    <p class="reply-progress" id="reply-progress">{move || state.progress.get()}</p>
                </Show>
                <Show
                    when=move || editing.get()
                    fallback=move || {
                        // Model output is rendered as sanitized Markdown: HTML in
                        // it is shown as text, never executed.
                        view! {
                            <Show when=move || parts.with(|p| p.0.is_some())>
                                <details class="thinking" class:live=move || !parts.with(|p| p.1)>
                                    <summary>{summary}</summary>
                                    <div
                                        class="thinking-content"
                                        inner_html=move || parts.with(|p| markdown::render(p.0.as_deref().unwrap_or("")))
                                    ></div>
                                </details>
                            </Show>
                            <Show
                                when=has_tools
                                fallback=move || view! {
                                    <div class="content" inner_html=move || parts.with(|p| markdown::render(&p.2))></div>
                                }.into_any()
                            >
                                {with_tools}
                            </Show>
                            <Show when=move || can_go_on()>
                                <button class="go-on-with-tools primary" on:click=move |_| { continue_with_tools(state); }>
                                    "Go on with the results"
                                </button>
                            </Show>
                        }
                        .into_any()
                    }
                >
                    <textarea class="edit-box" node_ref=editor rows="6" prop:value=text></textarea>
                    <div class="edit-buttons">
                        <button class="save-edit primary" on:click=move |_| save_edit()>"Save"</button>
                        <Show when=move || role() == Role::User>
                            <button
                                class="resend-edit"
                                title="Send this as a new version of the message: the chat after it stays with the old version"
                                disabled=locked
                                on:click=move |_| resend()
                            >
                                "Save and send"
                            </button>
                        </Show>
                        <button class="cancel-edit" on:click=move |_| editing.set(false)>"Cancel"</button>
                    </div>
                </Show>
                <div class="msg-actions">
                    <button class="copy-message" title="Copy" on:click=move |_| {
                        clipboard::copy(&text());
                        // Says it worked, for a moment.
                        copied.set(true);
                        set_timeout(move || copied.set(false), std::time::Duration::from_millis(1500));
                    }>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
                    <button class="edit-message" title="Edit" disabled=move || locked() || streaming() on:click=move |_| editing.set(true)>
                        "Edit"
                    </button>
                    <button class="branch-message" title="Branch here: a new chat up to this message" disabled=move || locked() || streaming() on:click=move |_| branch_at(state, index)>
                        "Branch"
                    </button>
                </div>
            </div>
        </div>
    }
}

/// Percent-encodes a path segment (character names may be Chinese).
pub fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What the pointer on a message's name shows, where it has numbers.
fn numbers_title(shown: &Shown) -> Option<String> {
    shown
        .info
        .as_ref()
        .map(reply_title)
        .or_else(|| shown.sent.as_ref().map(sent_title))
}

/// What the pointer on a sent message's name shows: when it was sent, its
/// length, and how its reply's prompt was read.
fn sent_title(info: &crate::types::SentInfo) -> String {
    let mut parts = vec![format!("sent {}", local_time(info.sent_at_ms))];
    if let Some(tokens) = info.tokens {
        parts.insert(0, format!("{tokens} tokens"));
    }
    if let Some(read) = &info.prompt {
        let mut prompt = format!("prompt {} tokens ({} reused)", read.tokens, read.reused);
        // A speed of the one token read again says nothing.
        if read.reused + 1 < read.tokens {
            prompt.push_str(&format!(
                " read at {:.1} tok/s",
                read.decitokens_per_second as f64 / 10.0
            ));
        }
        parts.push(prompt);
    }
    parts.join(" · ")
}

/// What the pointer on a reply's name shows: its length, speed, first
/// token and when it ended (local time).
fn reply_title(info: &crate::types::ReplyInfo) -> String {
    let when = local_time(info.finished_at_ms);
    format!(
        "{} tokens · {:.1} tok/s · first token after {} ms · {when}",
        info.tokens,
        info.decitokens_per_second as f64 / 10.0,
        info.first_token_ms,
    )
}

#[cfg(feature = "hydrate")]
fn local_time(ms: u64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    String::from(date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}

#[cfg(not(feature = "hydrate"))]
fn local_time(ms: u64) -> String {
    format!("{} s after 1970 (UTC)", ms / 1000)
}
