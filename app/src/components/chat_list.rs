use leptos::{html::Input, prelude::*};

use crate::chat_ops::{
    create_chat, delete_saved_chat, export_open_chat, folder_key, import_chat_file, open_chat,
    refresh_list, rename_open_chat,
};
use crate::files::read_picked_file;
use crate::state::ChatState;

/// Past chats of the current character (or the instruct list): new, open,
/// search, rename, delete, and export / import as text-generation-webui
/// chat files.
#[component]
pub fn ChatList() -> impl IntoView {
    let state = ChatState::expect();
    let rename_box = NodeRef::<Input>::new();
    let import_input = NodeRef::<Input>::new();
    let import = move || {
        if let Some(input) = import_input.get_untracked() {
            read_picked_file(&input, move |_, data| import_chat_file(state, data));
            input.set_value("");
        }
    };
    let renaming = RwSignal::new(false);
    let open_id = move || {
        state
            .chat
            .with(|c| c.as_ref().map(|c| c.key.id.clone()).unwrap_or_default())
    };
    let busy = move || state.busy();

    let confirm_delete = move || {
        let Some((key, revision)) = state
            .chat
            .with_untracked(|c| c.as_ref().map(|c| (c.key.clone(), c.revision)))
        else {
            return;
        };
        let question = format!("Delete the chat \"{}\"? This cannot be undone.", key.id);
        if window().confirm_with_message(&question).unwrap_or(false) {
            delete_saved_chat(state, key, revision);
        }
    };
    // The box starts with the title the list shows; saving it unchanged
    // (or empty) just closes the box.
    let open_title = move || {
        let id = open_id();
        state
            .chats
            .with(|list| {
                list.iter()
                    .find(|s| s.key.id == id)
                    .map(|s| s.title.clone())
            })
            .unwrap_or(id)
    };
    let finish_rename = move || {
        if let Some(el) = rename_box.get_untracked() {
            let name = el.value().trim().to_string();
            if !name.is_empty() && name != open_title() {
                rename_open_chat(state, name);
            }
        }
        renaming.set(false);
    };
    // Opening another chat closes a rename that was under way.
    Effect::new(move |_| {
        open_id();
        renaming.set(false);
    });
    // The box takes the focus with its text selected, ready to type over.
    Effect::new(move |_| {
        if let Some(el) = rename_box.get() {
            let _ = el.focus();
            el.select();
        }
    });

    view! {
        // `data-folder` names the folder of the open chat (tests wait on it
        // after switching mode or character).
        <div class="chat-list" data-folder=move || state.chat.with(|c| c.as_ref().map(|c| folder_key(&c.key.folder)))>
            <div class="chat-list-head">
                <h3>"Past chats"</h3>
                <button id="new-chat" class="primary" disabled=busy on:click=move |_| create_chat(state)>
                    "New chat"
                </button>
            </div>
            <input
                id="chat-search"
                type="search"
                placeholder="Search chats"
                prop:value=move || state.chat_query.get()
                on:input=move |ev| {
                    state.chat_query.set(event_target_value(&ev));
                    refresh_list(state);
                }
            />
            <Show when=move || state.chats.with(Vec::is_empty) && !state.chat_query.with(String::is_empty)>
                <p class="empty-hint" id="no-chats-found">"No chat matches the search."</p>
            </Show>
            <ul class="chat-entries">
                <For
                    each=move || state.chats.get()
                    key=|s| (s.key.id.clone(), s.title.clone(), s.messages)
                    let:summary
                >
                    {
                        let key = summary.key.clone();
                        let id = summary.key.id.clone();
                        let is_open = move || open_id() == id;
                        view! {
                            <li class:active=is_open>
                                <button
                                    class="chat-entry"
                                    data-chat-id=summary.key.id.clone()
                                    disabled=busy
                                    on:click=move |_| open_chat(state, key.clone())
                                >
                                    <span class="chat-title">{summary.title.clone()}</span>
                                    <span class="chat-id">{format!("{} · {} messages", summary.key.id, summary.messages)}</span>
                                </button>
                            </li>
                        }
                    }
                </For>
            </ul>
            <div class="chat-manage">
                <Show
                    when=move || renaming.get()
                    fallback=move || {
                        view! {
                            <button id="rename-chat" disabled=busy on:click=move |_| renaming.set(true)>
                                "Rename"
                            </button>
                            <button id="delete-chat" class="danger" disabled=busy on:click=move |_| confirm_delete()>
                                "Delete"
                            </button>
                        }
                    }
                >
                    <input id="rename-input" node_ref=rename_box prop:value=open_title on:keydown=move |ev| {
                        match ev.key().as_str() {
                            "Enter" => finish_rename(),
                            "Escape" => renaming.set(false),
                            _ => {}
                        }
                    } />
                    <button id="rename-save" on:click=move |_| finish_rename()>"Save"</button>
                    <button id="rename-cancel" on:click=move |_| renaming.set(false)>"Cancel"</button>
                </Show>
            </div>
            <div class="chat-transfer">
                <button id="export-chat" disabled=busy on:click=move |_| export_open_chat(state)>
                    "Export"
                </button>
                <label class="file-button">
                    "Import…"
                    <input
                        id="chat-import"
                        type="file"
                        accept=".json,application/json"
                        node_ref=import_input
                        disabled=busy
                        on:change=move |_| import()
                    />
                </label>
            </div>
        </div>
    }
}
