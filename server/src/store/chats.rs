//! Chat logs where text-generation-webui keeps them:
//! `logs/chat/<character>/<id>.json` and `logs/instruct/<id>.json`.
//!
//! Every change is checked against the revision the caller last saw (a stale
//! tab is refused, never allowed to overwrite newer history) and written
//! atomically. While a reply is being generated into a chat, only that
//! generation may save it.

use std::{
    collections::HashSet,
    fs,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard},
    time::{SystemTime, UNIX_EPOCH},
};

use domain::{ChatFolder, ChatKey, ChatLog, ChatSummary, ChatTools, LoggedMessage, Role};

use super::{
    atomic::write_atomic,
    chat_file::{self, ChatFile},
    names::check_name,
    read::{read_text, MAX_CHAT_FILE_BYTES},
    StoreError,
};

/// The chat logs of one folder tree: everyone's on an open server, one
/// user's under `--auth` (see [`Chats::of_user`]).
#[derive(Clone)]
pub struct Chats {
    root: PathBuf,
    logs: PathBuf,
    shared: Arc<Shared>,
}

/// What every user's view shares: one writer at a time, and which chat
/// files a reply is being generated into.
#[derive(Default)]
struct Shared {
    /// Serialises read-check-write of chat files.
    write_lock: Mutex<()>,
    busy: Mutex<HashSet<PathBuf>>,
}

/// Held while a reply is generated into a chat; saves through it bypass the
/// busy check, everyone else's are refused until it is dropped.
pub struct GenerationLock {
    key: ChatKey,
    path: PathBuf,
    shared: Arc<Shared>,
}

impl GenerationLock {
    /// The chat being generated into.
    pub fn key(&self) -> &ChatKey {
        &self.key
    }
}

impl Drop for GenerationLock {
    fn drop(&mut self) {
        lock(&self.shared.busy).remove(&self.path);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Chats {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            logs: root.join("logs"),
            shared: Arc::default(),
        }
    }

    /// The chats `user` sees: their own folder `users/<user>/logs/` under
    /// `--auth`, the shared `logs/` when nobody logs in (`None`).
    pub fn of_user(&self, user: Option<&str>) -> Result<Chats, StoreError> {
        Ok(match user {
            None => self.clone(),
            Some(name) => Chats {
                logs: self.root.join("users").join(check_name(name)?).join("logs"),
                ..self.clone()
            },
        })
    }

    fn dir(&self, folder: &ChatFolder) -> Result<PathBuf, StoreError> {
        Ok(match folder {
            ChatFolder::Instruct => self.logs.join("instruct"),
            ChatFolder::Character(name) => self.logs.join("chat").join(check_name(name)?),
        })
    }

    fn path(&self, key: &ChatKey) -> Result<PathBuf, StoreError> {
        Ok(self
            .dir(&key.folder)?
            .join(format!("{}.json", check_name(&key.id)?)))
    }

    fn read(&self, key: &ChatKey) -> Result<ChatFile, StoreError> {
        read_file(&self.path(key)?, key)
    }

    fn write(&self, key: &ChatKey, file: &ChatFile) -> Result<(), StoreError> {
        write_file(&self.path(key)?, file)
    }

    pub fn load(&self, key: &ChatKey) -> Result<ChatLog, StoreError> {
        Ok(self.read(key)?.into_log(key.clone()))
    }

    /// Chats of a folder, newest first.
    pub fn list(&self, folder: &ChatFolder) -> Result<Vec<ChatSummary>, StoreError> {
        self.summaries(folder, |_| true)
    }

    /// Chats of a folder with a message containing `query` (any case).
    pub fn search(&self, folder: &ChatFolder, query: &str) -> Result<Vec<ChatSummary>, StoreError> {
        let needle = query.to_lowercase();
        self.summaries(folder, |messages| {
            messages.iter().any(|m| {
                m.versions
                    .iter()
                    .any(|v| v.to_lowercase().contains(&needle))
            })
        })
    }

    fn summaries(
        &self,
        folder: &ChatFolder,
        keep: impl Fn(&[LoggedMessage]) -> bool,
    ) -> Result<Vec<ChatSummary>, StoreError> {
        let dir = self.dir(folder)?;
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(&dir, e)),
        };
        let mut found: Vec<(SystemTime, ChatSummary)> = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let Some(id) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            let key = ChatKey {
                folder: folder.clone(),
                id,
            };
            // A file that is not a chat is skipped, not fatal to the list.
            let Ok(file) = self.read(&key) else { continue };
            if !keep(&file.messages) {
                continue;
            }
            let modified = entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(UNIX_EPOCH);
            found.push((modified, summary(key, &file.messages)));
        }
        found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.key.id.cmp(&a.1.key.id)));
        Ok(found.into_iter().map(|(_, s)| s).collect())
    }

    /// A new chat, starting with `greeting` (and its alternatives) if any.
    pub fn create(&self, folder: &ChatFolder, greeting: &[String]) -> Result<ChatLog, StoreError> {
        let messages = match greeting.first() {
            Some(first) if !first.is_empty() => vec![LoggedMessage {
                role: Role::Assistant,
                versions: greeting.iter().filter(|g| !g.is_empty()).cloned().collect(),
                current: 0,
                attachments: Vec::new(),
                reply_info: None,
                tool_uses: Vec::new(),
                forks: Vec::new(),
                sent_info: None,
            }],
            _ => Vec::new(),
        };
        let _guard = lock(&self.shared.write_lock);
        let key = self.fresh_key(folder, &timestamp_id())?;
        let file = ChatFile {
            messages,
            revision: 1,
            ..Default::default()
        };
        self.write(&key, &file)?;
        Ok(file.into_log(key))
    }

    /// `base` or `base-2`, `base-3`... whichever is free.
    fn fresh_key(&self, folder: &ChatFolder, base: &str) -> Result<ChatKey, StoreError> {
        for n in 1.. {
            let id = if n == 1 {
                base.to_string()
            } else {
                format!("{base}-{n}")
            };
            let key = ChatKey {
                folder: folder.clone(),
                id,
            };
            if !self.path(&key)?.exists() {
                return Ok(key);
            }
        }
        unreachable!("an unbounded range always yields a free name")
    }

    /// Applies `change` to the messages if `base_revision` is current and no
    /// reply is being generated into the chat, then saves.
    pub fn update<T>(
        &self,
        key: &ChatKey,
        base_revision: u64,
        change: impl FnOnce(&mut Vec<LoggedMessage>) -> Result<T, StoreError>,
    ) -> Result<(ChatLog, T), StoreError> {
        let path = self.path(key)?;
        if self.is_busy(&path) {
            return Err(StoreError::Busy);
        }
        self.update_unchecked(key, &path, Some(base_revision), |file| {
            change(&mut file.messages)
        })
    }

    /// [`Self::update`] for a change that may also touch the chat's tool
    /// switches.
    pub fn update_with_tools<T>(
        &self,
        key: &ChatKey,
        base_revision: u64,
        change: impl FnOnce(&mut Vec<LoggedMessage>, &mut ChatTools) -> Result<T, StoreError>,
    ) -> Result<(ChatLog, T), StoreError> {
        let path = self.path(key)?;
        if self.is_busy(&path) {
            return Err(StoreError::Busy);
        }
        self.update_unchecked(key, &path, Some(base_revision), |file| {
            change(&mut file.messages, &mut file.tools)
        })
    }

    fn is_busy(&self, path: &Path) -> bool {
        lock(&self.shared.busy).contains(path)
    }

    fn update_unchecked<T>(
        &self,
        key: &ChatKey,
        path: &Path,
        base_revision: Option<u64>,
        change: impl FnOnce(&mut ChatFile) -> Result<T, StoreError>,
    ) -> Result<(ChatLog, T), StoreError> {
        let _guard = lock(&self.shared.write_lock);
        let mut file = read_file(path, key)?;
        if base_revision.is_some_and(|base| base != file.revision) {
            return Err(StoreError::Stale);
        }
        let out = change(&mut file)?;
        file.revision += 1;
        write_file(path, &file)?;
        Ok((file.into_log(key.clone()), out))
    }

    /// Marks the chat as being generated into, after checking the caller's
    /// copy is current.
    pub fn begin_generation(
        &self,
        key: &ChatKey,
        base_revision: u64,
    ) -> Result<GenerationLock, StoreError> {
        let path = self.path(key)?;
        let current = read_file(&path, key)?.revision;
        if current != base_revision {
            return Err(StoreError::Stale);
        }
        if !lock(&self.shared.busy).insert(path.clone()) {
            return Err(StoreError::Busy);
        }
        Ok(GenerationLock {
            key: key.clone(),
            path,
            shared: self.shared.clone(),
        })
    }

    /// A save by the generation holding the lock.
    pub fn update_generating<T>(
        &self,
        generation: &GenerationLock,
        change: impl FnOnce(&mut Vec<LoggedMessage>) -> Result<T, StoreError>,
    ) -> Result<(ChatLog, T), StoreError> {
        self.update_unchecked(&generation.key, &generation.path, None, |file| {
            change(&mut file.messages)
        })
    }

    /// Renames the chat if `base_revision` is current (a stale tab cannot
    /// rename a chat it has not seen).
    pub fn rename(
        &self,
        key: &ChatKey,
        base_revision: u64,
        new_id: &str,
    ) -> Result<ChatKey, StoreError> {
        check_name(new_id)?;
        if self.is_busy(&self.path(key)?) {
            return Err(StoreError::Busy);
        }
        let _guard = lock(&self.shared.write_lock);
        self.check_revision(key, base_revision)?;
        if new_id == key.id {
            // Saved unchanged: nothing to do, and not a clash with itself.
            return Ok(key.clone());
        }
        let target = ChatKey {
            folder: key.folder.clone(),
            id: new_id.to_string(),
        };
        let (from, to) = (self.path(key)?, self.path(&target)?);
        if to.exists() {
            return Err(StoreError::Invalid(format!(
                "a chat named `{new_id}` already exists"
            )));
        }
        fs::rename(&from, &to).map_err(|e| StoreError::io(&from, e))?;
        Ok(target)
    }

    /// Deletes the chat if `base_revision` is current: history the caller
    /// has not seen is never deleted unseen.
    pub fn delete(&self, key: &ChatKey, base_revision: u64) -> Result<(), StoreError> {
        let path = self.path(key)?;
        if self.is_busy(&path) {
            return Err(StoreError::Busy);
        }
        let _guard = lock(&self.shared.write_lock);
        self.check_revision(key, base_revision)?;
        fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))
    }

    fn check_revision(&self, key: &ChatKey, base_revision: u64) -> Result<(), StoreError> {
        if self.read(key)?.revision == base_revision {
            Ok(())
        } else {
            Err(StoreError::Stale)
        }
    }

    /// The chat as a text-generation-webui chat file (Export).
    pub fn export(&self, key: &ChatKey) -> Result<String, StoreError> {
        let file = self.read(key)?;
        serde_json::to_string_pretty(&chat_file::render(&file))
            .map_err(|e| StoreError::Invalid(format!("the chat could not be written out: {e}")))
    }

    /// A new chat in `folder` from a text-generation-webui chat file's text
    /// (Import); the file's extra metadata is kept.
    pub fn import(&self, folder: &ChatFolder, text: &str) -> Result<ChatLog, StoreError> {
        let not_a_chat = || {
            StoreError::Invalid(
                "the file is not a text-generation-webui chat (JSON with \"internal\" or \"data\")"
                    .into(),
            )
        };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|_| not_a_chat())?;
        let parsed = chat_file::parse(&value).ok_or_else(not_a_chat)?;
        let _guard = lock(&self.shared.write_lock);
        let key = self.fresh_key(folder, &timestamp_id())?;
        let mut file = ChatFile {
            revision: 1,
            ..parsed
        };
        // Someone else's file decides nothing here: no call of it runs
        // unasked, and no tool runs without asking.
        file.tools.always_allow.clear();
        for call in file.messages.iter_mut().flat_map(|m| &mut m.tool_uses) {
            if call.state == domain::ToolState::Approved {
                call.state = domain::ToolState::Pending;
            }
        }
        self.write(&key, &file)?;
        Ok(file.into_log(key))
    }

    /// A new chat holding messages `..=upto` of `key`.
    pub fn branch(&self, key: &ChatKey, upto: usize) -> Result<ChatLog, StoreError> {
        let source = self.read(key)?;
        if upto >= source.messages.len() {
            return Err(StoreError::Invalid(format!(
                "message {upto} does not exist"
            )));
        }
        let _guard = lock(&self.shared.write_lock);
        let new_key = self.fresh_key(&key.folder, &format!("{}-branch", key.id))?;
        let file = ChatFile {
            messages: source.messages[..=upto].to_vec(),
            revision: 1,
            tools: source.tools,
            other_metadata: Default::default(),
        };
        self.write(&new_key, &file)?;
        Ok(file.into_log(new_key))
    }
}

fn read_file(path: &Path, key: &ChatKey) -> Result<ChatFile, StoreError> {
    let text = read_text(path, MAX_CHAT_FILE_BYTES)?.ok_or_else(|| StoreError::NotFound {
        kind: "chat",
        name: key.id.clone(),
    })?;
    let value = serde_json::from_str(&text).map_err(|e| StoreError::malformed(path, e))?;
    chat_file::parse(&value).ok_or_else(|| StoreError::malformed(path, "not a chat log"))
}

fn write_file(path: &Path, file: &ChatFile) -> Result<(), StoreError> {
    let text = serde_json::to_string_pretty(&chat_file::render(file))
        .map_err(|e| StoreError::malformed(path, e))?;
    write_atomic(path, text.as_bytes()).map_err(|e| StoreError::io(path, e))
}

/// Whether `id` is one the chat was given automatically (a timestamp, as
/// text-generation-webui names chats, or a branch of one) rather than a
/// name the user chose.
fn is_automatic_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() >= 17
        && b[..17].iter().enumerate().all(|(i, c)| match i {
            8 | 11 | 14 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

/// A chat's title: the name the user gave it (Rename), else the start of
/// its first user message, marked as a branch where it is one (it starts
/// with the same message as the chat it came from).
fn summary(key: ChatKey, messages: &[LoggedMessage]) -> ChatSummary {
    if !is_automatic_id(&key.id) {
        return ChatSummary {
            title: key.id.clone(),
            messages: messages.len(),
            key,
        };
    }
    let first_user = messages
        .iter()
        .find(|m| m.role == Role::User)
        .map(|m| m.text().trim().to_string())
        .unwrap_or_default();
    let mut title: String = first_user.chars().take(60).collect();
    if first_user.chars().count() > 60 {
        title.push('…');
    }
    if title.is_empty() {
        title = "(new chat)".into();
    }
    if key.id.ends_with("-branch") || key.id.contains("-branch-") {
        title.push_str(" (branch)");
    }
    ChatSummary {
        title,
        messages: messages.len(),
        key,
    }
}

/// text-generation-webui's chat id: the UTC time as `YYYYMMDD-HH-MM-SS`.
fn timestamp_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = crate::calendar::civil_date(days as i64);
    format!(
        "{y:04}{m:02}{d:02}-{:02}-{:02}-{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Chats) {
        let dir = tempfile::tempdir().unwrap();
        let chats = Chats::new(dir.path());
        (dir, chats)
    }

    fn folder() -> ChatFolder {
        ChatFolder::Character("AI助理".into())
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(timestamp_id().len(), "20261127-14-03-09".len());
        assert!(is_automatic_id(&timestamp_id()));
        assert!(is_automatic_id("20261127-14-03-09-branch-2"));
        assert!(!is_automatic_id("otters"));
        assert!(!is_automatic_id("2026 trip notes"));
    }

    #[test]
    fn create_starts_with_the_greeting_and_its_alternatives() {
        let (_d, chats) = store();
        let chat = chats
            .create(&folder(), &["你好！".into(), "Hi!".into()])
            .unwrap();
        assert_eq!(chat.messages.len(), 1);
        assert_eq!(chat.messages[0].versions, vec!["你好！", "Hi!"]);
        assert_eq!(chats.load(&chat.key).unwrap(), chat);
        let second = chats.create(&folder(), &[]).unwrap();
        assert_ne!(second.key, chat.key, "same-second chats get distinct ids");
        assert!(second.messages.is_empty());
        assert_eq!(chats.list(&folder()).unwrap().len(), 2);
    }

    #[test]
    fn a_stale_revision_is_refused_and_nothing_is_overwritten() {
        let (_d, chats) = store();
        let chat = chats.create(&ChatFolder::Instruct, &[]).unwrap();
        let add = |text: &'static str| {
            move |m: &mut Vec<LoggedMessage>| {
                m.push(LoggedMessage::new(Role::User, text));
                Ok(())
            }
        };
        let (tab1, _) = chats
            .update(&chat.key, chat.revision, add("from tab 1"))
            .unwrap();
        let stale = chats.update(&chat.key, chat.revision, add("from tab 2"));
        assert!(matches!(stale, Err(StoreError::Stale)));
        assert_eq!(chats.load(&chat.key).unwrap(), tab1);
    }

    #[test]
    fn a_generating_chat_accepts_only_the_generation_s_saves() {
        let (_d, chats) = store();
        let chat = chats.create(&ChatFolder::Instruct, &[]).unwrap();
        let generation = chats.begin_generation(&chat.key, chat.revision).unwrap();
        assert!(matches!(
            chats.begin_generation(&chat.key, chat.revision),
            Err(StoreError::Busy)
        ));
        assert!(matches!(
            chats.update(&chat.key, chat.revision, |_| Ok(())),
            Err(StoreError::Busy)
        ));
        assert!(matches!(
            chats.delete(&chat.key, chat.revision),
            Err(StoreError::Busy)
        ));
        let (saved, _) = chats
            .update_generating(&generation, |m| {
                m.push(LoggedMessage::new(Role::Assistant, "reply"));
                Ok(())
            })
            .unwrap();
        drop(generation);
        chats.update(&chat.key, saved.revision, |_| Ok(())).unwrap();
    }

    #[test]
    fn export_and_import_round_trip_in_tgw_format() {
        let (_d, chats) = store();
        let chat = chats
            .create(&folder(), &["Hi!".into(), "Hello!".into()])
            .unwrap();
        let (chat, _) = chats
            .update(&chat.key, chat.revision, |m| {
                m.push(LoggedMessage::new(Role::User, "你好"));
                m.push(LoggedMessage::new(Role::Assistant, "你好！"));
                Ok(())
            })
            .unwrap();
        let text = chats.export(&chat.key).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["internal"][1], serde_json::json!(["你好", "你好！"]));
        let copy = chats.import(&ChatFolder::Instruct, &text).unwrap();
        assert_eq!(
            copy.messages, chat.messages,
            "greeting versions and turns kept"
        );
        assert_ne!(copy.key, chat.key);

        // An imported file decides nothing: its approved calls wait for the
        // user again, and nothing is allowed to run unasked.
        let planted = serde_json::json!({
            "internal": [["Hi", "Sure."]],
            "metadata": {
                "candlelight_tools": {"enabled": ["shell"], "always_allow": ["shell"]},
                "assistant_0": {"candlelight_tool_uses": [{"id": "call_x", "version": 0, "at": 5,
                    "name": "shell", "arguments": "{}", "state": "approved"}]},
            },
        });
        let copy = chats
            .import(&ChatFolder::Instruct, &planted.to_string())
            .unwrap();
        assert!(copy.tools.always_allow.is_empty());
        assert_eq!(copy.tools.enabled, ["shell"]);
        assert_eq!(
            copy.messages[1].tool_uses[0].state,
            domain::ToolState::Pending
        );
        for bad in ["not json", "{\"messages\": []}", "[1, 2]"] {
            let err = chats.import(&ChatFolder::Instruct, bad).unwrap_err();
            assert!(
                err.to_string().contains("not a text-generation-webui chat"),
                "{err}"
            );
        }
    }

    #[test]
    fn rename_branch_delete_and_search() {
        let (_d, chats) = store();
        let chat = chats.create(&folder(), &["Greetings".into()]).unwrap();
        let (chat, _) = chats
            .update(&chat.key, chat.revision, |m| {
                m.push(LoggedMessage::new(Role::User, "Tell me about otters"));
                m.push(LoggedMessage::new(Role::Assistant, "Otters hold hands."));
                Ok(())
            })
            .unwrap();
        assert!(matches!(
            chats.rename(&chat.key, chat.revision - 1, "otters"),
            Err(StoreError::Stale)
        ));
        let renamed = chats.rename(&chat.key, chat.revision, "otters").unwrap();
        assert_eq!(renamed.id, "otters");
        let unchanged = chats.rename(&renamed, chat.revision, "otters").unwrap();
        assert_eq!(unchanged, renamed, "renaming to the same name is no clash");
        assert!(chats.load(&chat.key).is_err());
        let branch = chats.branch(&renamed, 1).unwrap();
        assert_eq!(branch.messages.len(), 2);
        assert_eq!(branch.key.id, "otters-branch");
        let found = chats.search(&folder(), "OTTERS HOLD").unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key, renamed);
        assert_eq!(found[0].title, "otters", "a renamed chat shows its name");
        // A branch of an unnamed chat shows its first message, as a branch.
        let unnamed = chats.create(&folder(), &[]).unwrap();
        let (unnamed, _) = chats
            .update(&unnamed.key, unnamed.revision, |m| {
                m.push(LoggedMessage::new(Role::User, "Tell me about seals"));
                m.push(LoggedMessage::new(Role::Assistant, "Seals sleep in water."));
                Ok(())
            })
            .unwrap();
        let seal_branch = chats.branch(&unnamed.key, 1).unwrap();
        let titles: Vec<String> = chats
            .search(&folder(), "seals sleep")
            .unwrap()
            .into_iter()
            .map(|s| s.title)
            .collect();
        assert!(
            titles.contains(&"Tell me about seals".to_string()),
            "{titles:?}"
        );
        assert!(
            titles.contains(&"Tell me about seals (branch)".to_string()),
            "{titles:?}"
        );
        chats.delete(&seal_branch.key, 1).unwrap();
        chats.delete(&unnamed.key, unnamed.revision).unwrap();
        assert!(matches!(
            chats.delete(&renamed, chat.revision + 1),
            Err(StoreError::Stale)
        ));
        assert_eq!(chats.list(&folder()).unwrap().len(), 2);
        chats.delete(&renamed, chat.revision).unwrap();
        assert_eq!(chats.list(&folder()).unwrap().len(), 1);
        assert!(matches!(
            chats.rename(&branch.key, branch.revision, "../escape"),
            Err(StoreError::InvalidName { .. })
        ));
    }
}
