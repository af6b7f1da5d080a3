//! The Chat tab's past-chats list and non-generating edits.

use app::{
    services::ChatLogService,
    types::{
        substitute_names, AppError, Caller, ChatEdit, ChatFolder, ChatKey, ChatLog, ChatSummary,
        UserProfile,
    },
};

use super::edits;
use crate::{state::AppState, store::Chats};

pub struct UiLogs {
    state: AppState,
}

impl UiLogs {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl UiLogs {
    fn chats(&self, caller: &Caller) -> Result<Chats, AppError> {
        Ok(self.state.data.chats.of_user(caller.user.as_deref())?)
    }
}

impl ChatLogService for UiLogs {
    fn list(
        &self,
        caller: &Caller,
        folder: &ChatFolder,
        query: Option<&str>,
    ) -> Result<Vec<ChatSummary>, AppError> {
        let chats = self.chats(caller)?;
        Ok(match query.map(str::trim).filter(|q| !q.is_empty()) {
            Some(q) => chats.search(folder, q)?,
            None => chats.list(folder)?,
        })
    }

    fn load(&self, caller: &Caller, key: &ChatKey) -> Result<ChatLog, AppError> {
        Ok(self.chats(caller)?.load(key)?)
    }

    fn create(
        &self,
        caller: &Caller,
        folder: &ChatFolder,
        user_name: &str,
    ) -> Result<ChatLog, AppError> {
        let greeting = match folder {
            ChatFolder::Instruct => Vec::new(),
            ChatFolder::Character(name) => {
                let c = self.state.data.characters.load(name)?;
                let user = UserProfile {
                    name: user_name.trim().to_string(),
                    ..UserProfile::default()
                };
                let names = |g: &String| substitute_names(g, c.shown_name(), user.shown_name());
                std::iter::once(&c.greeting)
                    .chain(&c.alternate_greetings)
                    .map(names)
                    .collect()
            }
        };
        Ok(self.chats(caller)?.create(folder, &greeting)?)
    }

    fn edit(
        &self,
        caller: &Caller,
        key: &ChatKey,
        base_revision: u64,
        edit: ChatEdit,
    ) -> Result<ChatLog, AppError> {
        let (log, ()) = self
            .chats(caller)?
            .update_with_tools(key, base_revision, |m, tools| edits::apply(m, tools, edit))?;
        Ok(log)
    }

    fn rename(
        &self,
        caller: &Caller,
        key: &ChatKey,
        base_revision: u64,
        new_id: &str,
    ) -> Result<ChatKey, AppError> {
        Ok(self
            .chats(caller)?
            .rename(key, base_revision, new_id.trim())?)
    }

    fn delete(&self, caller: &Caller, key: &ChatKey, base_revision: u64) -> Result<(), AppError> {
        Ok(self.chats(caller)?.delete(key, base_revision)?)
    }

    fn branch(&self, caller: &Caller, key: &ChatKey, upto: usize) -> Result<ChatLog, AppError> {
        Ok(self.chats(caller)?.branch(key, upto)?)
    }

    fn export(&self, caller: &Caller, key: &ChatKey) -> Result<String, AppError> {
        Ok(self.chats(caller)?.export(key)?)
    }

    fn import(
        &self,
        caller: &Caller,
        folder: &ChatFolder,
        file: &[u8],
    ) -> Result<ChatLog, AppError> {
        let text = std::str::from_utf8(file)
            .map_err(|_| AppError::InvalidParameter("the chat file is not UTF-8 text".into()))?;
        Ok(self.chats(caller)?.import(folder, text)?)
    }
}
