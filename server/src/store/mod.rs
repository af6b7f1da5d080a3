//! The user data folder, laid out as text-generation-webui lays it out so an
//! existing TGW folder works as is. Every write is atomic.

mod atomic;
mod card;
pub mod characters;
mod chat_file;
pub mod chats;
mod error;
mod folder;
mod names;
pub mod presets;
mod read;
pub mod settings;
pub mod templates;
mod tgw_time;

use std::path::{Path, PathBuf};

pub use atomic::remove_stale_temporaries;
pub use characters::Characters;
pub use chats::{Chats, GenerationLock};
pub use error::StoreError;
pub use names::check_name;
pub use presets::Presets;
pub use settings::SettingsStore;
pub use templates::InstructionTemplates;

pub struct UserData {
    pub root: PathBuf,
    pub characters: Characters,
    pub presets: Presets,
    pub templates: InstructionTemplates,
    pub chats: Chats,
    pub settings: SettingsStore,
}

impl UserData {
    /// Opens (and on first use, fills with the shipped files) the folder.
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        let data = Self {
            root: root.to_path_buf(),
            characters: Characters::new(root),
            presets: Presets::new(root),
            templates: InstructionTemplates::new(root),
            chats: Chats::new(root),
            settings: SettingsStore::new(root),
        };
        let removed = remove_stale_temporaries(root);
        if removed > 0 {
            tracing::info!(
                removed,
                "removed temporary files an interrupted save left behind"
            );
        }
        data.characters.seed()?;
        data.presets.seed()?;
        data.templates.seed()?;
        Ok(data)
    }
}
