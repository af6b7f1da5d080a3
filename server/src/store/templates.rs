//! Instruction templates in text-generation-webui's format:
//! `instruction-templates/<name>.yaml` holding `instruction_template: |-`
//! and the Jinja source.

use std::path::Path;

use serde_json::{Map, Value};

use super::{folder::Folder, StoreError};

pub const DEFAULTS: &[(&str, &str)] = &[(
    "ChatML.yaml",
    include_str!("../../defaults/instruction-templates/ChatML.yaml"),
)];

const KEY: &str = "instruction_template";

pub struct InstructionTemplates {
    folder: Folder,
}

impl InstructionTemplates {
    pub fn new(root: &Path) -> Self {
        Self {
            folder: Folder::new(root, "instruction-templates", "instruction template"),
        }
    }

    pub fn seed(&self) -> Result<(), StoreError> {
        self.folder.seed(DEFAULTS)
    }

    pub fn list(&self) -> Result<Vec<String>, StoreError> {
        self.folder.list()
    }

    /// The Jinja source of the named template.
    pub fn load(&self, name: &str) -> Result<String, StoreError> {
        let (path, map) = self.folder.read_mapping(name)?;
        match map.get(KEY) {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(StoreError::malformed(
                &path,
                format!("`{KEY}` is missing or not text"),
            )),
        }
    }

    pub fn save(&self, name: &str, source: &str) -> Result<(), StoreError> {
        let mut map = Map::new();
        map.insert(KEY.into(), Value::String(source.to_string()));
        self.folder.write_mapping(name, &map)?;
        Ok(())
    }

    pub fn delete(&self, name: &str) -> Result<(), StoreError> {
        self.folder.delete(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_round_trip_as_block_scalars() {
        let dir = tempfile::tempdir().unwrap();
        let t = InstructionTemplates::new(dir.path());
        t.seed().unwrap();
        assert!(t.load("ChatML").unwrap().contains("<|im_start|>"));
        let src = "{%- for m in messages %}\n  {{ m.content }}\n{%- endfor %}";
        t.save("Mine", src).unwrap();
        assert_eq!(t.load("Mine").unwrap(), src);
        let text =
            std::fs::read_to_string(dir.path().join("instruction-templates/Mine.yaml")).unwrap();
        assert!(text.starts_with("instruction_template: |"), "{text}");
    }
}
