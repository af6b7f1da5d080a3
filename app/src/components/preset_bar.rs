use leptos::{html::Input, prelude::*, task::spawn_local};

use crate::api::{delete_preset, list_presets, load_preset, save_preset};
use crate::state::ChatState;

/// Generation presets (text-generation-webui's YAML files): load one into the
/// samplers, save the samplers as one, delete one.
#[component]
pub fn PresetBar() -> impl IntoView {
    let state = ChatState::expect();
    let presets = RwSignal::new(Vec::<String>::new());
    let selected = RwSignal::new(String::new());
    let name_box = NodeRef::<Input>::new();
    let refresh = move || {
        spawn_local(async move {
            match list_presets().await {
                Ok(list) => presets.set(list),
                Err(e) => state.fail(e),
            }
        })
    };
    Effect::new(move |_| {
        if state.ready.get() {
            refresh();
        }
    });
    let load = move |name: String| {
        selected.set(name.clone());
        if name.is_empty() {
            return;
        }
        spawn_local(async move {
            match load_preset(name.clone()).await {
                Ok(info) => {
                    // The preset's samplers; the reply length stays the user's.
                    let keep = state
                        .params
                        .with_untracked(|p| (p.max_new_tokens, p.truncation_length));
                    let mut params = info.params;
                    (params.max_new_tokens, params.truncation_length) = keep;
                    state.params.set(params);
                    let note = if info.ignored.is_empty() {
                        format!("Loaded preset {name}.")
                    } else {
                        format!(
                            "Loaded preset {name}; ignored unsupported keys: {}.",
                            info.ignored.join(", ")
                        )
                    };
                    state.notice.set(Some(note));
                }
                Err(e) => state.fail(e),
            }
        });
    };
    let save = move || {
        let Some(el) = name_box.get_untracked() else {
            return;
        };
        let name = el.value().trim().to_string();
        if name.is_empty() {
            state.error.set(Some("Give the preset a name.".into()));
            return;
        }
        let params = state.params.get_untracked();
        spawn_local(async move {
            match save_preset(name.clone(), params).await {
                Ok(()) => {
                    state.notice.set(Some(format!("Saved preset {name}.")));
                    selected.set(name);
                    refresh();
                }
                Err(e) => state.fail(e),
            }
        });
    };
    let delete = move || {
        let name = selected.get_untracked();
        if name.is_empty()
            || !window()
                .confirm_with_message(&format!("Delete the preset \"{name}\"?"))
                .unwrap_or(false)
        {
            return;
        }
        spawn_local(async move {
            match delete_preset(name).await {
                Ok(()) => {
                    selected.set(String::new());
                    refresh();
                }
                Err(e) => state.fail(e),
            }
        });
    };
    view! {
        <div class="preset-bar">
            <label for="preset-select">"Preset"</label>
            <select id="preset-select" prop:value=move || selected.get() on:change=move |ev| load(event_target_value(&ev))>
                <option value="">"(choose a preset)"</option>
                <For each=move || presets.get() key=|p| p.clone() let:name>
                    // Each option knows whether it is the active one: after a
                    // save the list is redrawn and the select's value alone
                    // would fall back to the first option.
                    <option value=name.clone() prop:selected={
                        let name = name.clone();
                        move || selected.get() == name
                    }>{name.clone()}</option>
                </For>
            </select>
            <button id="preset-delete" on:click=move |_| delete()>"Delete"</button>
            <input id="preset-name" node_ref=name_box placeholder="New preset name" />
            <button id="preset-save" on:click=move |_| save()>"Save as preset"</button>
        </div>
    }
}
