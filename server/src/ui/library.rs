//! The Parameters tab's characters, presets and instruction templates.

use app::{
    services::LibraryService,
    types::{AppError, CardImport, Character, CharacterInfo, GenerationParams, PresetInfo},
};

use crate::state::AppState;

pub struct UiLibrary {
    state: AppState,
}

impl UiLibrary {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl LibraryService for UiLibrary {
    fn characters(&self) -> Result<Vec<String>, AppError> {
        Ok(self.state.data.characters.list()?)
    }

    fn character(&self, name: &str) -> Result<CharacterInfo, AppError> {
        let characters = &self.state.data.characters;
        Ok(CharacterInfo {
            character: characters.load(name)?,
            has_picture: characters.picture(name).is_some(),
        })
    }

    fn save_character(
        &self,
        character: Character,
        copy_from: Option<String>,
    ) -> Result<(), AppError> {
        if character.name.trim().is_empty() {
            return Err(AppError::InvalidParameter(
                "a character needs a name".into(),
            ));
        }
        Ok(self
            .state
            .data
            .characters
            .save(&character, copy_from.as_deref())?)
    }

    fn delete_character(&self, name: &str) -> Result<(), AppError> {
        Ok(self.state.data.characters.delete(name)?)
    }

    fn set_picture(&self, name: &str, image: &[u8]) -> Result<(), AppError> {
        // Only an existing character gets a picture.
        self.state.data.characters.load(name)?;
        Ok(self.state.data.characters.save_picture(name, image)?)
    }

    fn import_card(&self, png: &[u8]) -> Result<CardImport, AppError> {
        let report = self.state.data.characters.import_card(png)?;
        Ok(CardImport {
            name: report.name,
            used: report.used,
            kept: report.kept,
        })
    }

    fn presets(&self) -> Result<Vec<String>, AppError> {
        Ok(self.state.data.presets.list()?)
    }

    fn preset(&self, name: &str) -> Result<PresetInfo, AppError> {
        let loaded = self.state.data.presets.load(name)?;
        Ok(PresetInfo {
            params: loaded.params,
            ignored: loaded.ignored,
        })
    }

    fn save_preset(&self, name: &str, params: &GenerationParams) -> Result<(), AppError> {
        Ok(self.state.data.presets.save(name, params)?)
    }

    fn delete_preset(&self, name: &str) -> Result<(), AppError> {
        Ok(self.state.data.presets.delete(name)?)
    }

    fn templates(&self) -> Result<Vec<String>, AppError> {
        Ok(self.state.data.templates.list()?)
    }

    fn template(&self, name: &str) -> Result<String, AppError> {
        Ok(self.state.data.templates.load(name)?)
    }

    fn save_template(&self, name: &str, source: &str) -> Result<(), AppError> {
        // A template that does not compile, or runs away, is refused
        // before it is saved.
        crate::prompt::ChatTemplate::check(source)
            .map_err(|e| AppError::InvalidParameter(e.to_string()))?;
        Ok(self.state.data.templates.save(name, source)?)
    }

    fn delete_template(&self, name: &str) -> Result<(), AppError> {
        Ok(self.state.data.templates.delete(name)?)
    }
}
