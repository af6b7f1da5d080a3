use leptos::{
    html::{Input, Textarea},
    prelude::*,
};
use web_sys::{ClipboardEvent, DragEvent, KeyboardEvent};

use super::icons::PaperclipIcon;
use crate::attach::attach_files;
use crate::files::files_of;
use crate::generation::{send_message, stop_generation};
use crate::state::ChatState;
use crate::types::{size_text, MAX_ATTACHMENT_BYTES};

/// True when this Enter press belongs to an IME composition (Chinese,
/// Japanese...): it confirms a candidate and must not send the message.
/// Browsers mark such events with `isComposing`, older ones with key code 229.
fn is_ime_enter(ev: &KeyboardEvent, composing: bool) -> bool {
    composing || ev.is_composing() || ev.key_code() == 229
}

/// The message box: Enter sends, Shift+Enter adds a line, Stop ends a
/// reply. Files are attached with the paperclip, by dropping them on the
/// box, or by pasting them into it.
#[component]
pub fn Composer() -> impl IntoView {
    let state = ChatState::expect();
    let input = NodeRef::<Textarea>::new();
    let picker = NodeRef::<Input>::new();
    let composing = RwSignal::new(false);
    let dragging = RwSignal::new(false);
    let busy = move || state.busy();

    let on_pick = move |_| {
        let Some(el) = picker.get_untracked() else {
            return;
        };
        attach_files(state, files_of(el.files()));
        // The same file can be picked again after it was removed.
        el.set_value("");
    };
    let on_drop = move |ev: DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        let files = files_of(ev.data_transfer().and_then(|d| d.files()));
        attach_files(state, files);
    };
    let on_paste = move |ev: ClipboardEvent| {
        let files = files_of(ev.clipboard_data().and_then(|d| d.files()));
        // Pasted text goes into the box as usual; pasted files are attached.
        if !files.is_empty() {
            ev.prevent_default();
            attach_files(state, files);
        }
    };

    // Text put into the box by Remove last or Impersonate.
    Effect::new(move |_| {
        if let Some(text) = state.draft.get() {
            if let Some(el) = input.get() {
                el.set_value(&text);
            }
        }
    });

    let send = move || {
        let Some(el) = input.get_untracked() else {
            return;
        };
        if send_message(state, el.value()) {
            el.set_value("");
            state.draft.set(None);
        }
    };
    let on_keydown = move |ev: KeyboardEvent| {
        // Ctrl+Enter and Alt+Enter are shortcuts (regenerate, continue).
        if ev.key() == "Enter"
            && !ev.shift_key()
            && !ev.ctrl_key()
            && !ev.alt_key()
            && !ev.meta_key()
        {
            if is_ime_enter(&ev, composing.get_untracked()) {
                return;
            }
            ev.prevent_default();
            send();
        }
    };

    view! {
        <div
            class="composer"
            class:dragging=move || dragging.get()
            on:dragover=move |ev: DragEvent| {
                ev.prevent_default();
                dragging.set(true);
            }
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop
        >
            <PendingFiles />
            <input
                node_ref=picker
                id="attach-input"
                type="file"
                multiple
                hidden
                on:change=on_pick
            />
            <button
                id="attach"
                class="attach"
                title=format!(
                    "Attach files: text, Markdown, code, CSV/JSON, PDF or docx, up to {} each (or drop or paste them here)",
                    size_text(MAX_ATTACHMENT_BYTES),
                )
                aria-label="Attach files"
                on:click=move |_| {
                    if let Some(el) = picker.get_untracked() {
                        el.click();
                    }
                }
            >
                <PaperclipIcon />
            </button>
            <textarea
                node_ref=input
                id="chat-input"
                rows="3"
                placeholder="Send a message (Enter sends, Shift+Enter for a new line)"
                on:keydown=on_keydown
                on:compositionstart=move |_| composing.set(true)
                on:compositionend=move |_| composing.set(false)
                on:paste=on_paste
            ></textarea>
            <div class="composer-buttons">
                <Show
                    when=busy
                    fallback=move || {
                        view! {
                            <button id="send" class="primary" on:click=move |_| send()>
                                "Send"
                            </button>
                        }
                    }
                >
                    <button id="stop" class="danger" on:click=move |_| stop_generation(state)>
                        "Stop"
                    </button>
                </Show>
            </div>
        </div>
    }
}

/// The files waiting for the next message, each with its size in tokens
/// and a button that removes it.
#[component]
fn PendingFiles() -> impl IntoView {
    let state = ChatState::expect();
    let any = move || state.pending_files.with(|f| !f.is_empty()) || state.reading_files.get() > 0;
    view! {
        <Show when=any>
            <div class="pending-files" id="pending-files">
                {move || {
                    state
                        .pending_files
                        .get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, preview)| {
                            let size = match preview.tokens {
                                Some(n) => format!("{n} tokens"),
                                None => size_text(preview.attachment.content.len()),
                            };
                            let name = preview.attachment.name.clone();
                            view! {
                                <span class="file-chip" title=name.clone()>
                                    <span class="file-name">{name.clone()}</span>
                                    <span class="file-size">{size}</span>
                                    <button
                                        class="remove-file"
                                        title=format!("Remove {name}")
                                        aria-label=format!("Remove {name}")
                                        on:click=move |_| {
                                            state.pending_files.update(|f| {
                                                if i < f.len() {
                                                    f.remove(i);
                                                }
                                            })
                                        }
                                    >
                                        "×"
                                    </button>
                                </span>
                            }
                        })
                        .collect_view()
                }}
                <Show when=move || { state.reading_files.get() > 0 }>
                    <span class="file-chip reading">"Reading…"</span>
                </Show>
            </div>
        </Show>
    }
}

/// The message box's current text (for Dummy message / reply).
pub fn take_composer_text() -> String {
    let Some(area) = composer() else {
        return String::new();
    };
    let text = area.value();
    area.set_value("");
    text
}

/// The message box's text, left in the box (Impersonate starts from it).
pub fn composer_text() -> String {
    composer().map(|area| area.value()).unwrap_or_default()
}

fn composer() -> Option<web_sys::HtmlTextAreaElement> {
    use wasm_bindgen::JsCast;
    leptos::prelude::document()
        .get_element_by_id("chat-input")?
        .dyn_into()
        .ok()
}
