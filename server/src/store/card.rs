//! Importing TavernAI / SillyTavern character cards: a PNG whose `chara`
//! text chunk holds base64 JSON (V1: flat fields; V2: `{"spec":
//! "chara_card_v2", "data": {...}}`). Every field is kept in the character
//! file under `card`; the ones that shape a conversation are mapped into the
//! prompt, and the import report names the ones that are kept but unused.

use base64::Engine as _;
use domain::{Character, LoreEntry};
use serde_json::{Map, Value};

use super::StoreError;

/// A parsed card, ready to save.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportedCard {
    pub character: Character,
    /// The card's own fields, verbatim, saved under `card`.
    pub card: Map<String, Value>,
    /// Which card fields went into the prompt, and which are only kept.
    pub used: Vec<String>,
    pub kept: Vec<String>,
}

fn invalid(msg: impl Into<String>) -> StoreError {
    StoreError::Invalid(format!("not a usable character card: {}", msg.into()))
}

/// The text chunks of a PNG (`tEXt`, and uncompressed `iTXt`), by keyword.
fn text_chunks(png: &[u8]) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !png.starts_with(SIGNATURE) {
        return Err(invalid("the file is not a PNG image"));
    }
    let mut chunks = Vec::new();
    let mut at = SIGNATURE.len();
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]) as usize;
        let kind = &png[at + 4..at + 8];
        let start = at + 8;
        let end = start
            .checked_add(len)
            .filter(|&e| e + 4 <= png.len())
            .ok_or_else(|| invalid("the PNG is truncated"))?;
        let data = &png[start..end];
        match kind {
            b"tEXt" => {
                if let Some(nul) = data.iter().position(|&b| b == 0) {
                    let keyword = String::from_utf8_lossy(&data[..nul]).into_owned();
                    chunks.push((keyword, data[nul + 1..].to_vec()));
                }
            }
            b"iTXt" => {
                // keyword \0 compression-flag method language \0 translated \0 text
                let mut parts = data.splitn(2, |&b| b == 0);
                let keyword =
                    String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
                let rest = parts.next().unwrap_or_default();
                if rest.first() == Some(&0) && rest.len() > 2 {
                    let mut tail = rest[2..].splitn(3, |&b| b == 0);
                    let _language = tail.next();
                    let _translated = tail.next();
                    chunks.push((keyword, tail.next().unwrap_or_default().to_vec()));
                }
            }
            b"IEND" => break,
            _ => {}
        }
        at = end + 4;
    }
    Ok(chunks)
}

/// The card JSON inside a PNG.
pub fn card_json(png: &[u8]) -> Result<Value, StoreError> {
    let chunks = text_chunks(png)?;
    let encoded = ["chara", "ccv3"]
        .iter()
        .find_map(|k| chunks.iter().find(|(key, _)| key.eq_ignore_ascii_case(k)))
        .map(|(_, data)| data)
        .ok_or_else(|| invalid("the PNG has no `chara` text chunk"))?;
    let text: String = encoded
        .iter()
        .map(|&b| b as char)
        .filter(|c| !c.is_whitespace())
        .collect();
    let json = base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|e| invalid(format!("the `chara` chunk is not base64: {e}")))?;
    serde_json::from_slice(&json)
        .map_err(|e| invalid(format!("the `chara` chunk is not JSON: {e}")))
}

fn field(data: &Map<String, Value>, key: &str) -> String {
    data.get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Maps a card's JSON (V1, V2 or V3) onto a character.
pub fn from_card_json(value: &Value) -> Result<ImportedCard, StoreError> {
    let root = value
        .as_object()
        .ok_or_else(|| invalid("the card JSON is not an object"))?;
    let data = match root.get("data").and_then(Value::as_object) {
        Some(data)
            if root
                .get("spec")
                .and_then(Value::as_str)
                .is_some_and(|s| s.starts_with("chara_card_v")) =>
        {
            data
        }
        _ => root,
    };
    let name = field(data, "name");
    if name.is_empty() {
        return Err(invalid("the card has no name"));
    }
    let mut used = Vec::new();
    let mut take = |key: &str| {
        let v = field(data, key);
        if !v.is_empty() {
            used.push(key.to_string());
        }
        v
    };
    let system_prompt = take("system_prompt").replace("{{original}}", "");
    let description = take("description");
    let personality = take("personality");
    let scenario = take("scenario");
    let mes_example = take("mes_example");
    let greeting = take("first_mes");
    let post_history = take("post_history_instructions").replace("{{original}}", "");

    let mut sections = Vec::new();
    for part in [system_prompt.trim(), description.as_str()] {
        if !part.is_empty() {
            sections.push(part.to_string());
        }
    }
    if !personality.is_empty() {
        sections.push(format!("{{{{char}}}}'s personality: {personality}"));
    }
    if !scenario.is_empty() {
        sections.push(format!("Scenario: {scenario}"));
    }
    let lore = read_lore(data);
    if !lore.constant.is_empty() {
        used.push("character_book (constant entries)".into());
        sections.push(lore.constant);
    }
    if !lore.keyword.is_empty() {
        used.push(format!(
            "character_book ({} keyword-triggered entries)",
            lore.keyword.len()
        ));
    }
    if !mes_example.is_empty() {
        sections.push(format!("Example dialogue:\n{mes_example}"));
    }

    let alternate_greetings: Vec<String> = data
        .get("alternate_greetings")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .filter(|s| !s.trim().is_empty())
                .collect()
        })
        .unwrap_or_default();
    if !alternate_greetings.is_empty() {
        used.push("alternate_greetings".into());
    }

    let mapped = [
        "name",
        "system_prompt",
        "description",
        "personality",
        "scenario",
        "mes_example",
        "first_mes",
        "post_history_instructions",
        "alternate_greetings",
        "character_book",
    ];
    let mut kept: Vec<String> = data
        .iter()
        .filter(|(k, v)| !mapped.contains(&k.as_str()) && !is_empty(v))
        .map(|(k, _)| k.clone())
        .collect();
    kept.sort();

    Ok(ImportedCard {
        character: Character {
            name,
            context: sections.join("\n\n"),
            greeting,
            alternate_greetings,
            post_history_instructions: post_history,
            lore: lore.keyword,
            lore_scan_depth: lore.scan_depth,
        },
        card: data.clone(),
        used,
        kept,
    })
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// A card's lorebook: the always-active (`constant`) entries as one text
/// for the context, and the keyword-triggered ones.
pub struct Lore {
    pub constant: String,
    pub keyword: Vec<LoreEntry>,
    pub scan_depth: Option<usize>,
}

/// Reads `character_book` from a card's fields (disabled and empty entries
/// are skipped; the rest in `insertion_order`).
pub fn read_lore(data: &Map<String, Value>) -> Lore {
    let book = data.get("character_book");
    let mut entries: Vec<&Value> = book
        .and_then(|b| b.get("entries"))
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    entries.sort_by_key(|e| {
        e.get("insertion_order")
            .and_then(Value::as_i64)
            .unwrap_or(0)
    });
    let flag = |e: &Value, key: &str, default: bool| {
        e.get(key).and_then(Value::as_bool).unwrap_or(default)
    };
    let strings = |e: &Value, key: &str| -> Vec<String> {
        e.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut constant = Vec::new();
    let mut keyword = Vec::new();
    for entry in entries {
        let content = entry
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim();
        if !flag(entry, "enabled", true) || content.is_empty() {
            continue;
        }
        if flag(entry, "constant", false) {
            constant.push(content.to_string());
            continue;
        }
        let keys = strings(entry, "keys");
        if keys.is_empty() {
            continue;
        }
        keyword.push(LoreEntry {
            keys,
            secondary_keys: strings(entry, "secondary_keys"),
            selective: flag(entry, "selective", false),
            case_sensitive: flag(entry, "case_sensitive", false),
            content: content.to_string(),
        });
    }
    Lore {
        constant: constant.join("\n"),
        keyword,
        scan_depth: book
            .and_then(|b| b.get("scan_depth"))
            .and_then(Value::as_u64)
            .map(|d| d as usize),
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use serde_json::json;

    /// A minimal PNG (1x1) with a `chara` tEXt chunk holding `card`.
    pub fn card_png(card: &Value) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut chunk = |kind: &[u8], data: &[u8]| {
            png.extend_from_slice(&(data.len() as u32).to_be_bytes());
            png.extend_from_slice(kind);
            png.extend_from_slice(data);
            png.extend_from_slice(&[0, 0, 0, 0]); // CRC is not checked by readers we target
        };
        chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
        let mut text = b"chara\0".to_vec();
        text.extend(
            base64::engine::general_purpose::STANDARD
                .encode(card.to_string())
                .bytes(),
        );
        chunk(b"tEXt", &text);
        chunk(b"IEND", &[]);
        png
    }

    pub fn v2_card() -> Value {
        json!({
            "spec": "chara_card_v2",
            "spec_version": "2.0",
            "data": {
                "name": "Seraphina",
                "description": "{{char}} is a forest guardian.",
                "personality": "gentle, protective",
                "scenario": "{{user}} wakes up in her glade.",
                "first_mes": "*She smiles.* You're awake.",
                "mes_example": "<START>\n{{user}}: Who are you?\n{{char}}: A guardian.",
                "creator_notes": "Be kind to her.",
                "system_prompt": "You are {{char}}. {{original}}",
                "post_history_instructions": "Stay in character.",
                "alternate_greetings": ["*She hums.* Hello there.", ""],
                "character_book": {"entries": [
                    {"keys": ["glade"], "content": "The glade is hidden.", "constant": true, "enabled": true},
                    {"keys": ["river"], "content": "The river is cold.", "constant": false, "enabled": true}
                ]},
                "tags": ["fantasy"],
                "creator": "someone",
                "character_version": "1.2",
                "extensions": {"talkativeness": "0.5"}
            }
        })
    }

    #[test]
    fn v2_card_imports_every_field() {
        let card = from_card_json(&card_json(&card_png(&v2_card())).unwrap()).unwrap();
        let c = &card.character;
        assert_eq!(c.name, "Seraphina");
        assert_eq!(c.greeting, "*She smiles.* You're awake.");
        assert_eq!(c.alternate_greetings, vec!["*She hums.* Hello there."]);
        assert_eq!(c.post_history_instructions, "Stay in character.");
        assert_eq!(
            c.context,
            "You are {{char}}.\n\n{{char}} is a forest guardian.\n\n{{char}}'s personality: gentle, protective\n\n\
Scenario: {{user}} wakes up in her glade.\n\nThe glade is hidden.\n\n\
Example dialogue:\n<START>\n{{user}}: Who are you?\n{{char}}: A guardian."
        );
        assert_eq!(
            c.lore,
            vec![LoreEntry {
                keys: vec!["river".into()],
                content: "The river is cold.".into(),
                ..Default::default()
            }]
        );
        assert!(card
            .used
            .contains(&"character_book (1 keyword-triggered entries)".to_string()));
        assert_eq!(
            card.kept,
            vec![
                "character_version",
                "creator",
                "creator_notes",
                "extensions",
                "tags",
            ]
        );
        // Every field of the card is kept verbatim.
        assert_eq!(Value::Object(card.card), v2_card()["data"]);
    }

    #[test]
    fn v1_card_is_flat() {
        let v1 = json!({"name": "Bob", "description": "A baker.", "first_mes": "Bread?", "personality": "", "scenario": "", "mes_example": ""});
        let card = from_card_json(&card_json(&card_png(&v1)).unwrap()).unwrap();
        assert_eq!(card.character.context, "A baker.");
        assert_eq!(card.character.greeting, "Bread?");
        assert_eq!(card.used, vec!["description", "first_mes"]);
    }

    #[test]
    fn malformed_cards_are_refused_with_a_reason() {
        let msg = |png: &[u8]| match card_json(png).and_then(|v| from_card_json(&v)) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted"),
        };
        assert!(msg(b"GIF89a").contains("not a PNG"));
        let mut png = card_png(&json!({"name": "x"}));
        png.truncate(33); // signature and IHDR only
        assert!(msg(&png).contains("no `chara`"), "{}", msg(&png));
        let mut cut = card_png(&json!({"name": "x"}));
        cut.truncate(33 + 20); // inside the text chunk
        assert!(msg(&cut).contains("truncated"), "{}", msg(&cut));
        let mut bad_b64 = b"\x89PNG\r\n\x1a\n".to_vec();
        bad_b64.extend_from_slice(&9u32.to_be_bytes());
        bad_b64.extend_from_slice(b"tEXtchara\0%%%");
        assert!(msg(&bad_b64).contains("truncated") || msg(&bad_b64).contains("base64"));
        assert!(msg(&card_png(&json!({"description": "no name"}))).contains("no name"));
        assert!(msg(&card_png(&json!([1, 2]))).contains("not an object"));
    }
}
