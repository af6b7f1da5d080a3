use serde::{Deserialize, Serialize};

use super::{Character, GenerationParams};

/// A character as the editor shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CharacterInfo {
    pub character: Character,
    pub has_picture: bool,
}

/// A preset, with the keys it had that this engine ignores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PresetInfo {
    pub params: GenerationParams,
    pub ignored: Vec<String>,
}

/// What importing a character card did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CardImport {
    pub name: String,
    /// Card fields mapped into the prompt.
    pub used: Vec<String>,
    /// Card fields kept in the character file but not used in prompts.
    pub kept: Vec<String>,
}
