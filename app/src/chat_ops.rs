//! The Chat tab's operations on saved chats: open, create, edit, rename,
//! delete, branch. Each asks the server and replaces the local copy with the
//! server's answer, so the browser never holds a version the server lacks.

use std::collections::HashMap;

use leptos::{prelude::*, task::spawn_local};

use crate::api::{
    branch_chat, delete_chat, edit_chat, export_chat, import_chat, list_chats, load_chat, new_chat,
    rename_chat,
};
use crate::state::ChatState;
use crate::storage;
use crate::types::{ChatEdit, ChatFolder, ChatKey, ChatLog};

/// The folder as one string: `instruct` or `chat/<character>`.
pub fn folder_key(folder: &ChatFolder) -> String {
    match folder {
        ChatFolder::Instruct => "instruct".into(),
        ChatFolder::Character(name) => format!("chat/{name}"),
    }
}

/// Remembers the open chat so a reload reopens it.
fn remember(key: &ChatKey) {
    let mut last: HashMap<String, String> = storage::load(storage::LAST_CHATS).unwrap_or_default();
    last.insert(folder_key(&key.folder), key.id.clone());
    storage::save(storage::LAST_CHATS, &last);
}

fn show(state: ChatState, log: ChatLog) {
    remember(&log.key);
    state.chat.set(Some(log));
}

/// Refreshes the past-chats list of the current folder (filtered by the
/// search box).
pub fn refresh_list(state: ChatState) {
    let folder = state.settings.with_untracked(|s| s.folder());
    let query = Some(state.chat_query.get_untracked()).filter(|q| !q.trim().is_empty());
    spawn_local(async move {
        match list_chats(folder, query).await {
            Ok(list) => state.chats.set(list),
            Err(e) => state.fail(e),
        }
    });
}

/// Opens the current folder's last chat (or its newest, or a new one).
pub fn open_folder(state: ChatState) {
    let folder = state.settings.with_untracked(|s| s.folder());
    state.chat_query.set(String::new());
    spawn_local(async move {
        let list = match list_chats(folder.clone(), None).await {
            Ok(l) => l,
            Err(e) => return state.fail(e),
        };
        state.chats.set(list.clone());
        let last: HashMap<String, String> = storage::load(storage::LAST_CHATS).unwrap_or_default();
        let remembered = last.get(&folder_key(&folder));
        let pick = list
            .iter()
            .find(|s| Some(&s.key.id) == remembered)
            .or_else(|| list.first())
            .map(|s| s.key.clone());
        let opened = match pick {
            Some(key) => load_chat(key).await,
            None => new_chat(folder, user_name(state)).await,
        };
        match opened {
            Ok(log) => {
                show(state, log);
                if list.is_empty() {
                    refresh_list(state);
                }
            }
            Err(e) => state.fail(e),
        }
    });
}

pub fn open_chat(state: ChatState, key: ChatKey) {
    state.clear_messages();
    spawn_local(async move {
        match load_chat(key).await {
            Ok(log) => show(state, log),
            Err(e) => state.fail(e),
        }
    });
}

/// Reloads the open chat from the server (after a reply, or a stale error).
pub fn reload_chat(state: ChatState) {
    reload_chat_then(state, |_| {});
}

/// [`reload_chat`], then `then` (once the chat shows the server's copy).
pub fn reload_chat_then(state: ChatState, then: impl FnOnce(ChatState) + 'static) {
    let Some(key) = state.open_key() else {
        return;
    };
    spawn_local(async move {
        match load_chat(key).await {
            Ok(log) => {
                state.stale.set(false);
                show(state, log);
                refresh_list(state);
                then(state);
            }
            Err(e) => state.fail(e),
        }
    });
}

/// The user's name, for `{{user}}` in a new chat's greetings.
fn user_name(state: ChatState) -> String {
    state.settings.with_untracked(|s| s.user.name.clone())
}

pub fn create_chat(state: ChatState) {
    let folder = state.settings.with_untracked(|s| s.folder());
    state.clear_messages();
    spawn_local(async move {
        match new_chat(folder, user_name(state)).await {
            Ok(log) => {
                show(state, log);
                refresh_list(state);
            }
            Err(e) => state.fail(e),
        }
    });
}

/// Applies an edit to the open chat; `then` runs after it was saved.
pub fn apply_edit(state: ChatState, edit: ChatEdit, then: impl FnOnce() + 'static) {
    let Some((key, revision)) = state
        .chat
        .with_untracked(|c| c.as_ref().map(|c| (c.key.clone(), c.revision)))
    else {
        return;
    };
    state.clear_messages();
    spawn_local(async move {
        match edit_chat(key, revision, edit).await {
            Ok(log) => {
                show(state, log);
                then();
                refresh_list(state);
            }
            Err(e) => state.fail(e),
        }
    });
}

pub fn rename_open_chat(state: ChatState, new_id: String) {
    let Some((key, revision)) = state
        .chat
        .with_untracked(|c| c.as_ref().map(|c| (c.key.clone(), c.revision)))
    else {
        return;
    };
    spawn_local(async move {
        match rename_chat(key, revision, new_id).await {
            Ok(new_key) => {
                remember(&new_key);
                state.chat.update(|c| {
                    if let Some(c) = c {
                        c.key = new_key;
                    }
                });
                refresh_list(state);
            }
            Err(e) => state.fail(e),
        }
    });
}

/// Deletes a chat the browser has seen at `revision`; if it was open,
/// opens another.
pub fn delete_saved_chat(state: ChatState, key: ChatKey, revision: u64) {
    spawn_local(async move {
        match delete_chat(key.clone(), revision).await {
            Ok(()) => {
                let was_open = state
                    .chat
                    .with_untracked(|c| c.as_ref().is_some_and(|c| c.key == key));
                if was_open {
                    state.chat.set(None);
                    open_folder(state);
                } else {
                    refresh_list(state);
                }
            }
            Err(e) => state.fail(e),
        }
    });
}

/// A new chat with the messages up to `index`, opened.
pub fn branch_at(state: ChatState, index: usize) {
    let Some(key) = state.open_key() else {
        return;
    };
    spawn_local(async move {
        match branch_chat(key, index).await {
            Ok(log) => {
                show(state, log);
                state.notice.set(Some("Branched into a new chat.".into()));
                refresh_list(state);
            }
            Err(e) => state.fail(e),
        }
    });
}

/// Downloads the open chat as a text-generation-webui chat file.
pub fn export_open_chat(state: ChatState) {
    let Some(key) = state.open_key() else {
        return;
    };
    spawn_local(async move {
        match export_chat(key.clone()).await {
            Ok(text) => crate::files::download_text(&format!("{}.json", key.id), &text),
            Err(e) => state.fail(e),
        }
    });
}

/// A text-generation-webui chat file (base64) becomes a new chat in the
/// current folder, and is opened.
pub fn import_chat_file(state: ChatState, base64: String) {
    let folder = state.settings.with_untracked(|s| s.folder());
    spawn_local(async move {
        match import_chat(folder, base64).await {
            Ok(log) => {
                show(state, log);
                refresh_list(state);
                state.notice.set(Some("Imported the chat.".into()));
            }
            Err(e) => state.fail(e),
        }
    });
}
