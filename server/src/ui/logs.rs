//! The Chat tab's past-chats list and non-generating edits.

use app::{
    services::ChatLogService,
    types::{AppError, ChatEdit, ChatFolder, ChatKey, ChatLog, ChatSummary},
};

use super::edits;
use crate::AppState;

pub struct UiLogs {
    state: AppState,
}

impl UiLogs {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl ChatLogService for UiLogs {
    fn list(&self, folder: &ChatFolder, query: Option<&str>) -> Result<Vec<ChatSummary>, AppError> {
        let chats = &self.state.data.chats;
        Ok(match query.map(str::trim).filter(|q| !q.is_empty()) {
            Some(q) => chats.search(folder, q)?,
            None => chats.list(folder)?,
        })
    }

    fn load(&self, key: &ChatKey) -> Result<ChatLog, AppError> {
        Ok(self.state.data.chats.load(key)?)
    }

    fn create(&self, folder: &ChatFolder) -> Result<ChatLog, AppError> {
        let greeting = match folder {
            ChatFolder::Instruct => Vec::new(),
            ChatFolder::Character(name) => {
                let c = self.state.data.characters.load(name)?;
                std::iter::once(c.greeting)
                    .chain(c.alternate_greetings)
                    .collect()
            }
        };
        Ok(self.state.data.chats.create(folder, &greeting)?)
    }

    fn edit(&self, key: &ChatKey, base_revision: u64, edit: ChatEdit) -> Result<ChatLog, AppError> {
        let (log, ()) = self
            .state
            .data
            .chats
            .update(key, base_revision, |m| edits::apply(m, edit))?;
        Ok(log)
    }

    fn rename(&self, key: &ChatKey, new_id: &str) -> Result<ChatKey, AppError> {
        Ok(self.state.data.chats.rename(key, new_id.trim())?)
    }

    fn delete(&self, key: &ChatKey) -> Result<(), AppError> {
        Ok(self.state.data.chats.delete(key)?)
    }

    fn branch(&self, key: &ChatKey, upto: usize) -> Result<ChatLog, AppError> {
        Ok(self.state.data.chats.branch(key, upto)?)
    }
}
