use leptos::{
    html::{Input, Textarea},
    prelude::*,
    task::spawn_local,
};

use super::message::encode;
use crate::api::{
    delete_character, import_character_card, list_characters, load_character, save_character,
    upload_character_picture,
};
use crate::files::read_picked_file;
use crate::state::ChatState;
use crate::types::{AppError, Character, CharacterInfo};

/// Refreshes the list of characters.
pub fn refresh_characters(state: ChatState) {
    spawn_local(async move {
        match list_characters().await {
            Ok(list) => state.characters.set(list),
            Err(e) => state.fail(e),
        }
    });
}

/// Picks a character for chat modes and edits it: name, greeting, context,
/// post-history instructions, picture; save, save as, delete; import a
/// TavernAI / SillyTavern card.
#[component]
pub fn CharacterPanel() -> impl IntoView {
    let state = ChatState::expect();
    let current = RwSignal::new(None::<CharacterInfo>);
    // Why the chosen character could not be loaded (a damaged file): shown
    // in the panel, and Save replaces the file or Delete removes it.
    let damaged = RwSignal::new(None::<String>);
    let name = NodeRef::<Input>::new();
    let greeting = NodeRef::<Textarea>::new();
    let context = NodeRef::<Textarea>::new();
    let post_history = NodeRef::<Textarea>::new();
    let picture_input = NodeRef::<Input>::new();
    let card_input = NodeRef::<Input>::new();
    // A memo, so that other settings changing does not reload the editor.
    let selected = Memo::new(move |_| state.settings.with(|s| s.character.clone()));
    let selected = move || selected.get();

    Effect::new(move |_| {
        if state.ready.get() {
            refresh_characters(state);
        }
    });
    // Load the chosen character into the editor.
    Effect::new(move |_| {
        if !state.ready.get() {
            return;
        }
        let chosen = selected();
        spawn_local(async move {
            match load_character(chosen.clone()).await {
                Ok(info) => {
                    damaged.set(None);
                    current.set(Some(info));
                }
                Err(e @ AppError::Storage(_)) => {
                    damaged.set(Some(e.to_string()));
                    current.set(Some(CharacterInfo {
                        character: Character {
                            name: chosen,
                            ..Character::default()
                        },
                        has_picture: false,
                    }));
                }
                Err(_) => {
                    damaged.set(None);
                    current.set(None);
                }
            }
        });
    });

    let edited = move || -> Option<Character> {
        let base = current.get_untracked()?.character;
        Some(Character {
            name: name.get_untracked()?.value().trim().to_string(),
            greeting: greeting.get_untracked()?.value(),
            context: context.get_untracked()?.value(),
            post_history_instructions: post_history.get_untracked()?.value(),
            ..base
        })
    };
    let store = move |character: Character, copy_from: Option<String>| {
        spawn_local(async move {
            let new_name = character.name.clone();
            match save_character(character, copy_from).await {
                Ok(()) => {
                    damaged.set(None);
                    state
                        .notice
                        .set(Some(format!("Saved character {new_name}.")));
                    state.settings.update(|s| s.character = new_name);
                    refresh_characters(state);
                }
                Err(e) => state.fail(e),
            }
        });
    };
    let save = move || {
        if let Some(c) = edited() {
            let original = current.get_untracked().map(|i| i.character.name);
            // Saving under a new name is a Save as.
            let copy_from = original.filter(|o| *o != c.name);
            store(c, copy_from);
        }
    };
    let save_as = move || {
        let Some(mut c) = edited() else { return };
        let Ok(Some(new_name)) = window().prompt_with_message_and_default(
            "Save the character as:",
            &format!("{} (copy)", c.name),
        ) else {
            return;
        };
        let original = c.name.clone();
        c.name = new_name.trim().to_string();
        store(c, Some(original));
    };
    let delete = move || {
        let name = selected();
        if !window()
            .confirm_with_message(&format!("Delete the character \"{name}\" and its picture?"))
            .unwrap_or(false)
        {
            return;
        }
        spawn_local(async move {
            match delete_character(name).await {
                Ok(()) => {
                    state.settings.update(|s| s.character = "Assistant".into());
                    refresh_characters(state);
                }
                Err(e) => state.fail(e),
            }
        });
    };
    let upload_picture = move || {
        let Some(input) = picture_input.get_untracked() else {
            return;
        };
        let name = selected();
        read_picked_file(&input, move |_, data| {
            spawn_local(async move {
                match upload_character_picture(name, data).await {
                    Ok(()) => {
                        state.picture_version.update(|v| *v += 1);
                        current.update(|c| {
                            if let Some(c) = c {
                                c.has_picture = true;
                            }
                        });
                    }
                    Err(e) => state.fail(e),
                }
            });
        });
    };
    let import_card = move || {
        let Some(input) = card_input.get_untracked() else {
            return;
        };
        read_picked_file(&input, move |file, data| {
            spawn_local(async move {
                match import_character_card(data).await {
                    Ok(report) => {
                        let mut note = format!(
                            "Imported {file} as {}. Used in prompts: {}.",
                            report.name,
                            report.used.join(", ")
                        );
                        if !report.kept.is_empty() {
                            note.push_str(&format!(
                                " Kept in the file but not used in prompts: {}.",
                                report.kept.join(", ")
                            ));
                        }
                        state.notice.set(Some(note));
                        state.settings.update(|s| s.character = report.name);
                        state.picture_version.update(|v| *v += 1);
                        refresh_characters(state);
                    }
                    Err(e) => state.fail(e),
                }
            });
        });
    };
    let field = move |get: fn(&Character) -> String| {
        move || current.with(|c| c.as_ref().map(|c| get(&c.character)).unwrap_or_default())
    };

    view! {
        <div class="panel character-panel">
            <h2>"Character"</h2>
            <div class="row">
                <select
                    id="character-select"
                    prop:value=selected
                    on:change=move |ev| state.settings.update(|s| s.character = event_target_value(&ev))
                >
                    <For each=move || state.characters.get() key=|c| c.clone() let:name>
                        <option value=name.clone() selected=move || selected() == name>{name.clone()}</option>
                    </For>
                </select>
                <button id="character-save" class="primary" on:click=move |_| save()>"Save"</button>
                <button id="character-save-as" on:click=move |_| save_as()>"Save as…"</button>
                <button id="character-delete" class="danger" on:click=move |_| delete()>"Delete"</button>
            </div>
            {move || {
                damaged
                    .get()
                    .map(|why| {
                        view! {
                            <p id="character-damaged" class="error" role="alert">
                                {why}
                                " Save to replace the file with what is shown here, or delete it."
                            </p>
                        }
                    })
            }}
            <div class="character-editor">
                <div class="character-fields">
                    <label for="character-name">"Name"</label>
                    <input id="character-name" node_ref=name prop:value=field(|c| c.name.clone()) />
                    <label for="character-greeting">"Greeting"</label>
                    <textarea id="character-greeting" rows="3" node_ref=greeting prop:value=field(|c| c.greeting.clone())></textarea>
                    <label for="character-context">"Context ({{char}} and {{user}} are replaced)"</label>
                    <textarea id="character-context" rows="6" node_ref=context prop:value=field(|c| c.context.clone())></textarea>
                    <label for="character-post-history">"Post-history instructions (placed just before the reply)"</label>
                    <textarea id="character-post-history" rows="2" node_ref=post_history prop:value=field(|c| c.post_history_instructions.clone())></textarea>
                </div>
                <div class="character-picture">
                    {move || {
                        let v = state.picture_version.get();
                        current
                            .get()
                            .filter(|c| c.has_picture)
                            .map(|c| view! { <img src=format!("/character-picture/{}?v={v}", encode(&c.character.name)) alt="character picture" /> })
                    }}
                    <label for="character-picture-input">"Picture (PNG or JPEG)"</label>
                    <input id="character-picture-input" type="file" accept="image/png,image/jpeg" node_ref=picture_input on:change=move |_| upload_picture() />
                    <label for="card-import">"Import a TavernAI / SillyTavern card (PNG)"</label>
                    <input id="card-import" type="file" accept="image/png" node_ref=card_input on:change=move |_| import_card() />
                </div>
            </div>
        </div>
    }
}
