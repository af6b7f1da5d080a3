use leptos::{
    html::{Input, Textarea},
    prelude::*,
    task::spawn_local,
};

use crate::api::{
    delete_template, list_templates, load_model_template, load_template, save_template,
};
use crate::state::ChatState;

/// The instruction template (the model's own or a saved one) and the
/// instruct system message. Edits to the source take effect only once saved
/// under a name, and the panel says so while they are unsaved.
#[component]
pub fn TemplatePanel() -> impl IntoView {
    let state = ChatState::expect();
    let templates = RwSignal::new(Vec::<String>::new());
    let source = RwSignal::new(String::new());
    // The editor's text differs from the template in use.
    let edited = RwSignal::new(false);
    let editor = NodeRef::<Textarea>::new();
    let name_box = NodeRef::<Input>::new();
    let selected = Memo::new(move |_| state.settings.with(|s| s.instruction_template.clone()));
    let selected = move || selected.get();

    let refresh = move || {
        spawn_local(async move {
            match list_templates().await {
                Ok(list) => templates.set(list),
                Err(e) => state.fail(e),
            }
        })
    };
    // Show the chosen template's source.
    Effect::new(move |_| {
        if !state.ready.get() {
            return;
        }
        let choice = selected();
        spawn_local(async move {
            let text = match choice {
                Some(name) => load_template(name).await,
                None => load_model_template()
                    .await
                    .map(|t| t.unwrap_or_else(|| "(the model has no chat template)".into())),
            };
            match text {
                Ok(t) => {
                    source.set(t);
                    edited.set(false);
                }
                Err(e) => state.fail(e),
            }
        });
    });
    Effect::new(move |_| {
        if state.ready.get() {
            refresh();
        }
    });
    let save = move || {
        let (Some(box_el), Some(area)) = (name_box.get_untracked(), editor.get_untracked()) else {
            return;
        };
        let name = box_el.value().trim().to_string();
        if name.is_empty() {
            state.error.set(Some("Give the template a name.".into()));
            return;
        }
        let text = area.value();
        spawn_local(async move {
            match save_template(name.clone(), text).await {
                Ok(()) => {
                    let model = state.model_name.get_untracked();
                    state
                        .settings
                        .update(|s| s.choose_template(Some(name.clone()), model));
                    state
                        .notice
                        .set(Some(format!("Saved instruction template {name}.")));
                    refresh();
                }
                Err(e) => state.fail(e),
            }
        });
    };
    let delete = move || {
        let Some(name) = selected() else { return };
        if !window()
            .confirm_with_message(&format!("Delete the instruction template \"{name}\"?"))
            .unwrap_or(false)
        {
            return;
        }
        spawn_local(async move {
            match delete_template(name).await {
                Ok(()) => {
                    state.settings.update(|s| s.choose_template(None, None));
                    refresh();
                }
                Err(e) => state.fail(e),
            }
        });
    };
    view! {
        <div class="panel template-panel">
            <h2>"Instruction template"</h2>
            <select
                id="template-select"
                prop:value=move || selected().unwrap_or_default()
                on:change=move |ev| {
                    let v = event_target_value(&ev);
                    let model = state.model_name.get_untracked();
                    state.settings.update(|s| s.choose_template((!v.is_empty()).then_some(v), model));
                }
            >
                <option value="">"(the model's own template)"</option>
                <For each=move || templates.get() key=|t| t.clone() let:name>
                    // As in the preset bar: the active one stays shown after
                    // the list is redrawn.
                    <option value=name.clone() prop:selected={
                        let name = name.clone();
                        move || selected().as_deref() == Some(name.as_str())
                    }>{name.clone()}</option>
                </For>
            </select>
            <button id="template-delete" disabled=move || selected().is_none() on:click=move |_| delete()>"Delete"</button>
            <textarea
                id="template-source"
                class="code"
                rows="10"
                node_ref=editor
                prop:value=move || source.get()
                on:input=move |ev| edited.set(source.with_untracked(|s| *s != event_target_value(&ev)))
            ></textarea>
            <Show when=move || edited.get()>
                <p class="notice inline" id="template-unsaved">
                    "Unsaved edits: chats use the template above as it was until you save it under a name."
                </p>
            </Show>
            <div class="row">
                <input id="template-name" node_ref=name_box placeholder="Save as (name)" />
                <button id="template-save" on:click=move |_| save()>"Save template"</button>
            </div>
            <label for="system-message">"System message (instruct mode; empty keeps the template's default)"</label>
            <textarea
                id="system-message"
                rows="2"
                prop:value=move || state.settings.with(|s| s.system_message.clone())
                on:change=move |ev| state.settings.update(|s| s.system_message = event_target_value(&ev))
            ></textarea>
        </div>
    }
}
