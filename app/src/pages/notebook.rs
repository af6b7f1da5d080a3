use futures::StreamExt;
use leptos::{prelude::*, task::spawn_local};

use crate::api::{generate_completion, stop_reply};
use crate::generation::new_request_id;
use crate::state::ChatState;
use crate::storage;
use crate::types::{CompletionRequest, EventLineDecoder, FinishReason, StreamEvent};

/// text-generation-webui's Notebook: raw text in one box, and the model
/// continues it in place (no chat template, nothing saved), with the
/// Parameters tab's samplers, Stop, and the token counts. Its Default
/// layout keeps the input and writes the continuation into a second box
/// beside it (TGW's Default tab).
#[component]
pub fn NotebookPage() -> impl IntoView {
    let state = ChatState::expect();
    let text = RwSignal::new(String::new());
    // Default layout: the continuation goes here, the input stays.
    let split = RwSignal::new(false);
    let output = RwSignal::new(String::new());
    // The running generation's request id (Stop names it).
    let running = RwSignal::new(None::<String>);
    let status = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);

    let generate = move || {
        if running.get_untracked().is_some() {
            return;
        }
        let params = state.params.get_untracked();
        if let Err(e) = params.check() {
            error.set(Some(e.to_string()));
            return;
        }
        let prompt = text.get_untracked();
        if prompt.trim().is_empty() {
            error.set(Some("Write some text for the model to continue.".into()));
            return;
        }
        let id = new_request_id();
        running.set(Some(id.clone()));
        error.set(None);
        status.set(None);
        let into_output = split.get_untracked();
        if into_output {
            output.set(String::new());
        }
        spawn_local(async move {
            let mine = {
                let id = id.clone();
                move || running.get_untracked().as_deref() == Some(id.as_str())
            };
            let request = CompletionRequest {
                request_id: id.clone(),
                prompt,
                params,
            };
            match generate_completion(request).await {
                Err(e) => error.set(Some(e.to_string())),
                Ok(stream) => {
                    let mut stream = stream.into_inner();
                    let mut decoder = EventLineDecoder::default();
                    let mut prompt_tokens = 0;
                    'read: while let Some(chunk) = stream.next().await {
                        let bytes = match chunk {
                            Ok(bytes) => bytes,
                            Err(e) => {
                                error.set(Some(e.to_string()));
                                break;
                            }
                        };
                        for event in decoder.push(&bytes) {
                            if !mine() {
                                break 'read; // stopped: dropping the stream ends it
                            }
                            match event {
                                StreamEvent::Prompt { tokens, .. } => prompt_tokens = tokens,
                                StreamEvent::Waiting { ahead } => {
                                    status.set(Some(format!("waiting: {ahead} ahead")))
                                }
                                StreamEvent::Reading { done, total } => status
                                    .set(Some(format!("reading prompt: {done} / {total} tokens"))),
                                StreamEvent::Text { text: piece } => {
                                    status.set(None);
                                    let target = if into_output { output } else { text };
                                    target.update(|t| t.push_str(&piece));
                                }
                                StreamEvent::Done {
                                    finish_reason,
                                    stats,
                                } => status.set(Some(format!(
                                    "{prompt_tokens} prompt + {} new tokens · {:.1} tok/s{}",
                                    stats.completion_tokens,
                                    stats.decode_tokens_per_second,
                                    if finish_reason == FinishReason::Cancelled {
                                        " · stopped"
                                    } else {
                                        ""
                                    }
                                ))),
                                StreamEvent::Error { message } => error.set(Some(message)),
                                StreamEvent::Saved { .. }
                                | StreamEvent::Placed { .. }
                                | StreamEvent::RunningTool { .. }
                                | StreamEvent::ToolUses { .. } => {}
                            }
                        }
                    }
                }
            }
            if mine() {
                running.set(None);
            }
        });
    };
    let stop = move || {
        if let Some(id) = running.get_untracked() {
            running.set(None);
            status.set(Some("stopped".into()));
            spawn_local(async move {
                let _ = stop_reply(id).await;
            });
        }
    };
    let busy = move || running.with(Option::is_some);

    // The text survives a reload: kept in the browser whenever no
    // generation is writing it, read back once the page is live.
    let restored = StoredValue::new(false);
    Effect::new(move |_| {
        if let Some(saved) = storage::load::<String>(storage::NOTEBOOK) {
            text.set(saved);
        }
        if let Some(saved) = storage::load::<bool>(storage::NOTEBOOK_SPLIT) {
            split.set(saved);
        }
        restored.set_value(true);
    });
    Effect::new(move |_| {
        let now = split.get();
        if restored.get_value() {
            storage::save(storage::NOTEBOOK_SPLIT, &now);
        }
    });
    Effect::new(move |_| {
        let now = text.get();
        if !busy() && restored.get_value() {
            storage::save(storage::NOTEBOOK, &now);
        }
    });

    view! {
        <div class="notebook">
            <div class="panel">
                <h2>"Notebook"</h2>
                <div class="notebook-layout" role="radiogroup" aria-label="Layout">
                    <label>
                        <input
                            type="radio"
                            name="notebook-layout"
                            id="notebook-layout-notebook"
                            prop:checked=move || !split.get()
                            disabled=busy
                            on:change=move |_| split.set(false)
                        />
                        " Notebook (continue in place)"
                    </label>
                    <label>
                        <input
                            type="radio"
                            name="notebook-layout"
                            id="notebook-layout-default"
                            prop:checked=move || split.get()
                            disabled=busy
                            on:change=move |_| split.set(true)
                        />
                        " Default (input and output side by side)"
                    </label>
                </div>
                <p class="help">"The model continues your text without a chat template. Samplers and max_new_tokens come from the Parameters tab."</p>
                <div class="notebook-boxes" class:split=move || split.get()>
                    <textarea
                        id="notebook-text"
                        class="code"
                        rows="20"
                        aria-label="Input"
                        prop:value=move || text.get()
                        prop:readonly=move || busy() && !split.get()
                        on:input=move |ev| text.set(event_target_value(&ev))
                    ></textarea>
                    <Show when=move || split.get()>
                        <textarea
                            id="notebook-output"
                            class="code"
                            rows="20"
                            aria-label="Output"
                            readonly
                            prop:value=move || output.get()
                        ></textarea>
                    </Show>
                </div>
                <div class="row">
                    <Show
                        when=busy
                        fallback=move || view! {
                            <button id="notebook-generate" class="primary" on:click=move |_| generate()>"Generate"</button>
                        }
                    >
                        <button id="notebook-stop" class="danger" on:click=move |_| stop()>"Stop"</button>
                    </Show>
                    <span class="notebook-status" id="notebook-status">{move || status.get()}</span>
                </div>
                {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            </div>
        </div>
    }
}
