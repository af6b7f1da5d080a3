use leptos::prelude::*;

use super::composer::{composer_text, take_composer_text};
use crate::api::{load_model_status, load_model_template};
use crate::attach::restore_files;
use crate::chat_ops::apply_edit;
use crate::clipboard;
use crate::generation::run;
use crate::state::ChatState;
use crate::types::{reasoning::template_reasons, ChatAction, ChatEdit, ModelStatus, Role};

/// Puts the last user message back into the box and removes the last
/// exchange (text-generation-webui's Remove last).
pub fn remove_last(state: ChatState) {
    if state.busy() {
        return;
    }
    let last_user = state.chat.with_untracked(|c| {
        c.as_ref()
            .and_then(|c| c.messages.iter().rev().find(|m| m.role == Role::User))
            .map(|m| (m.text().to_string(), m.attachments.clone()))
    });
    // The message and its files go back into the box.
    apply_edit(state, ChatEdit::RemoveLast, move || {
        if let Some((text, files)) = last_user {
            state.draft.set(Some(text));
            restore_files(state, files);
        }
    });
}

/// The chat actions text-generation-webui users know, under the messages.
#[component]
pub fn ActionBar() -> impl IntoView {
    let state = ChatState::expect();
    // The Thinking switch only where it does something: a reasoning
    // model's template, or a remote server's (whose template is unknown).
    let reasons = Resource::new(
        move || state.model_version.get(),
        |_| async {
            let remote = matches!(load_model_status().await,
                Ok(ModelStatus::Ready { architecture, .. }) if architecture == "remote");
            remote
                || load_model_template()
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|t| template_reasons(&t))
        },
    );
    let busy = move || state.busy() || state.chat.with(Option::is_none);
    // On a phone the actions fold behind one button (CSS shows the
    // toggle only there); an action that changes the chat or starts a
    // reply folds them again.
    let open = RwSignal::new(false);
    Effect::new(move |_| {
        state.chat.track();
        state.streaming.track();
        open.set(false);
    });
    // text-generation-webui's "Copy last reply": the shown version.
    let last_reply = move || {
        state.chat.with(|c| {
            c.as_ref()?
                .messages
                .iter()
                .rev()
                .find(|m| m.role == Role::Assistant)
                .map(|m| m.text().to_string())
        })
    };
    let copy_last_reply = move || {
        if let Some(text) = last_reply() {
            clipboard::copy(&text);
            state.notice.set(Some("Copied the last reply.".into()));
        }
    };
    let dummy = move |reply: bool| {
        let text = take_composer_text();
        if text.trim().is_empty() {
            state
                .error
                .set(Some("Type the message in the box first.".into()));
            return;
        }
        let edit = if reply {
            ChatEdit::DummyReply { text }
        } else {
            ChatEdit::DummyMessage { text }
        };
        apply_edit(state, edit, || {});
    };
    view! {
        <div class="action-bar" class:open=move || open.get()>
            <button
                id="actions-menu"
                class="actions-toggle"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)
            >
                {move || if open.get() { "Actions ▴" } else { "Actions ▾" }}
            </button>
            <button id="regenerate" title="Regenerate (Ctrl+Enter): a new version of the last reply" disabled=busy on:click=move |_| { run(state, ChatAction::Regenerate); }>
                "Regenerate"
            </button>
            <button id="continue" title="Continue (Alt+Enter): more of the last reply" disabled=busy on:click=move |_| { run(state, ChatAction::Continue); }>
                "Continue"
            </button>
            <button id="remove-last" title="Remove last (Ctrl+Shift+Backspace): the last exchange; your message goes back into the box" disabled=busy on:click=move |_| remove_last(state)>
                "Remove last"
            </button>
            <button id="impersonate" title="Impersonate (Ctrl+Shift+M): the model writes your next message, starting from the box's text" disabled=busy on:click=move |_| { run(state, ChatAction::Impersonate { text: composer_text() }); }>
                "Impersonate"
            </button>
            <button id="copy-last-reply" title="Copy last reply: the character's last message, to the clipboard" disabled=move || last_reply().is_none() on:click=move |_| copy_last_reply()>
                "Copy last reply"
            </button>
            <button id="dummy-message" title="Send dummy message: add the box's text as your message, without a reply" disabled=busy on:click=move |_| dummy(false)>
                "Send dummy message"
            </button>
            <button id="dummy-reply" title="Send dummy reply: add the box's text as the character's reply" disabled=busy on:click=move |_| dummy(true)>
                "Send dummy reply"
            </button>
            <label class="start-reply">
                "Start reply with "
                <input
                    id="start-reply-with"
                    placeholder="e.g. Sure thing!"
                    prop:value=move || state.settings.with(|s| s.start_reply_with.clone())
                    on:change=move |ev| state.settings.update(|s| s.start_reply_with = event_target_value(&ev))
                />
            </label>
            <Suspense fallback=|| ()>
                {move || reasons.get().filter(|r| *r).map(|_| view! {
                    <label class="thinking-switch" title="Let reasoning models think before they answer (passed to templates that read enable_thinking, as Qwen3's)">
                        <input
                            type="checkbox"
                            id="thinking-switch"
                            prop:checked=move || state.settings.with(|s| s.thinking)
                            on:change=move |ev| state.settings.update(|s| s.thinking = event_target_checked(&ev))
                        />
                        " Thinking"
                    </label>
                })}
            </Suspense>
        </div>
    }
}
