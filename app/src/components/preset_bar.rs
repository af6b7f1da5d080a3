use leptos::{html::Input, prelude::*, task::spawn_local};

use crate::api::{delete_preset, list_presets, load_preset, save_preset};
use crate::state::ChatState;
use crate::storage;
use crate::types::GenerationParams;

/// The preset the samplers start from: `GenerationParams::default()` holds
/// its values (Qwen's recommendation).
const DEFAULT_PRESET: &str = "Qwen (recommended)";

/// The samplers of `preset` as loading it sets them: the reply length and
/// the truncation stay the user's.
fn as_loaded(mut preset: GenerationParams, current: &GenerationParams) -> GenerationParams {
    preset.max_new_tokens = current.max_new_tokens;
    preset.truncation_length = current.truncation_length;
    preset
}

/// Generation presets (text-generation-webui's YAML files): load one into the
/// samplers, save the samplers as one, delete one. The active preset is
/// shown (the last one loaded or saved, else the default one), marked
/// "modified" once a sampler differs from it.
#[component]
pub fn PresetBar() -> impl IntoView {
    let state = ChatState::expect();
    let presets = RwSignal::new(Vec::<String>::new());
    let selected = RwSignal::new(String::new());
    // The selected preset's samplers, to tell whether they were changed.
    let loaded = RwSignal::new(None::<GenerationParams>);
    let name_box = NodeRef::<Input>::new();
    let choose = move |name: String, params: Option<GenerationParams>| {
        storage::save(storage::PRESET, &name);
        selected.set(name);
        loaded.set(params);
    };
    // The first time the list arrives: show the preset the samplers came
    // from, without changing them.
    let show_active = move |list: &[String]| {
        if !selected.get_untracked().is_empty() {
            return;
        }
        let name = storage::load::<String>(storage::PRESET)
            .filter(|n| n.is_empty() || list.contains(n))
            .unwrap_or_else(|| DEFAULT_PRESET.to_string());
        if !list.contains(&name) {
            return;
        }
        spawn_local(async move {
            if let Ok(info) = load_preset(name.clone()).await {
                let params = state.params.with_untracked(|p| as_loaded(info.params, p));
                selected.set(name);
                loaded.set(Some(params));
            }
        });
    };
    let refresh = move || {
        spawn_local(async move {
            match list_presets().await {
                Ok(list) => {
                    show_active(&list);
                    presets.set(list);
                }
                Err(e) => state.fail(e),
            }
        })
    };
    let modified = move || {
        loaded.with(|l| {
            l.as_ref()
                .is_some_and(|p| state.params.with(|now| as_loaded(p.clone(), now) != *now))
        })
    };
    Effect::new(move |_| {
        if state.ready.get() {
            refresh();
        }
    });
    let load = move |name: String| {
        if name.is_empty() {
            choose(name, None);
            return;
        }
        spawn_local(async move {
            match load_preset(name.clone()).await {
                Ok(info) => {
                    let params = state.params.with_untracked(|p| as_loaded(info.params, p));
                    state.params.set(params.clone());
                    choose(name.clone(), Some(params));
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
            match save_preset(name.clone(), params.clone()).await {
                Ok(()) => {
                    state.notice.set(Some(format!("Saved preset {name}.")));
                    choose(name, Some(params));
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
                    choose(String::new(), None);
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
            <Show when=modified>
                <span id="preset-modified" class="modified-mark" title="A sampler differs from the preset">"modified"</span>
            </Show>
            <button id="preset-delete" on:click=move |_| delete()>"Delete"</button>
            <input id="preset-name" node_ref=name_box placeholder="New preset name" />
            <button id="preset-save" on:click=move |_| save()>"Save as preset"</button>
        </div>
    }
}
