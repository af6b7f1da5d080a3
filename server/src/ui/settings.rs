//! Each caller's settings, kept in the user data folder.

use app::{
    services::SettingsService,
    types::{AppError, Caller, UserSettings},
};

use crate::state::AppState;

pub struct UiSettings {
    state: AppState,
}

impl UiSettings {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl SettingsService for UiSettings {
    fn load(&self, caller: &Caller) -> Result<Option<UserSettings>, AppError> {
        Ok(self.state.data.settings.load(caller.user.as_deref())?)
    }

    fn save(&self, caller: &Caller, settings: UserSettings) -> Result<(), AppError> {
        Ok(self
            .state
            .data
            .settings
            .save(caller.user.as_deref(), &settings)?)
    }
}
