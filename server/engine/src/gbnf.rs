//! GBNF (llama.cpp's grammar format, text-generation-webui's
//! `grammar_string`) translated to the Lark syntax llguidance reads.
//! The two differ in spelling, not power: `::=` is `:`, `root` is
//! `start`, a character class `[a-z]` is the regex `/[a-z]/` (in Lark
//! brackets mean "optional"), and each rule is written on one line.

use std::fmt::Write;

/// The Lark grammar for `gbnf`, or what is wrong with it.
pub fn gbnf_to_lark(gbnf: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rules = 0;
    let mut defined: Vec<String> = Vec::new();
    let mut used: Vec<String> = Vec::new();
    let chars: Vec<char> = gbnf.chars().collect();
    let mut i = 0;
    let rule_name = |name: &str| {
        if name == "root" {
            "start".to_string()
        } else {
            format!("g_{}", name.to_lowercase().replace('-', "_"))
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            c if c.is_whitespace() => i += 1,
            '"' => {
                let (text, next) = string_literal(&chars, i)?;
                out.push_str(&serde_json::to_string(&text).map_err(|e| e.to_string())?);
                out.push(' ');
                i = next;
            }
            '[' => {
                let start = i;
                i += 1;
                if chars.get(i) == Some(&'^') {
                    i += 1;
                }
                // A `]` right after `[` or `[^` is part of the class.
                if chars.get(i) == Some(&']') {
                    i += 1;
                }
                while i < chars.len() && chars[i] != ']' {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                if i >= chars.len() {
                    return Err("a character class is not closed with `]`".into());
                }
                let class: String = chars[start..=i].iter().collect();
                write!(out, "/{}/ ", class.replace('/', "\\/")).ok();
                i += 1;
            }
            '.' => {
                out.push_str("/(?s:.)/ ");
                i += 1;
            }
            '(' | ')' | '|' | '*' | '+' | '?' => {
                out.push(c);
                out.push(' ');
                i += 1;
            }
            '{' => {
                let end = chars[i..]
                    .iter()
                    .position(|&c| c == '}')
                    .ok_or("a repetition `{` is not closed")?;
                let inner: String = chars[i + 1..i + end].iter().collect();
                if !inner
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ',' || c == ' ')
                {
                    return Err(format!("`{{{inner}}}` is not a repetition count"));
                }
                write!(out, "{{{}}} ", inner.replace(' ', "")).ok();
                i += end + 1;
            }
            c if c.is_alphanumeric() || c == '_' || c == '-' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '-')
                {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                if chars[j..].starts_with(&[':', ':', '=']) {
                    if rules > 0 {
                        out.push('\n');
                    }
                    rules += 1;
                    write!(out, "{}: ", rule_name(&name)).ok();
                    defined.push(name);
                    i = j + 3;
                } else {
                    write!(out, "{} ", rule_name(&name)).ok();
                    used.push(name);
                }
            }
            other => return Err(format!("unexpected `{other}`")),
        }
    }
    if !out.lines().any(|l| l.starts_with("start:")) {
        return Err("the grammar has no `root` rule".into());
    }
    // Said here in the grammar's own names: the grammar engine would name
    // the translated rule.
    if let Some(missing) = used.iter().find(|u| !defined.contains(u)) {
        return Err(format!("the rule `{missing}` is used but never defined"));
    }
    out.push('\n');
    Ok(out)
}

/// A GBNF string literal starting at `chars[at]` (the opening quote):
/// its text and the index after the closing quote.
fn string_literal(chars: &[char], at: usize) -> Result<(String, usize), String> {
    let mut text = String::new();
    let mut i = at + 1;
    loop {
        match chars.get(i) {
            None => return Err("a string is not closed with `\"`".into()),
            Some('"') => return Ok((text, i + 1)),
            Some('\\') => {
                let (c, used) = escape(chars, i + 1)?;
                text.push(c);
                i += 1 + used;
            }
            Some(&c) => {
                text.push(c);
                i += 1;
            }
        }
    }
}

/// The character an escape (after its backslash) stands for, and how many
/// characters it used.
fn escape(chars: &[char], at: usize) -> Result<(char, usize), String> {
    let hex = |n: usize| -> Result<(char, usize), String> {
        let digits: String = chars
            .get(at + 1..at + 1 + n)
            .ok_or("a short escape")?
            .iter()
            .collect();
        u32::from_str_radix(&digits, 16)
            .ok()
            .and_then(char::from_u32)
            .map(|c| (c, 1 + n))
            .ok_or_else(|| format!("`\\{}{digits}` is not a character", chars[at]))
    };
    match chars.get(at) {
        Some('n') => Ok(('\n', 1)),
        Some('t') => Ok(('\t', 1)),
        Some('r') => Ok(('\r', 1)),
        Some('x') => hex(2),
        Some('u') => hex(4),
        Some('U') => hex(8),
        Some(&c) => Ok((c, 1)),
        None => Err("a string ends in a backslash".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::gbnf_to_lark;

    #[test]
    fn a_gbnf_grammar_becomes_lark() {
        let gbnf = "# yes or no\nroot ::= answer \"!\"?\nanswer ::= (\"yes\" | \"no\")\n  | [0-9]{1,3} # a number\nname-x ::= [^\"\\n]+ .";
        let lark = gbnf_to_lark(gbnf).unwrap();
        assert_eq!(
            lark,
            "start: g_answer \"!\" ? \n\
             g_answer: ( \"yes\" | \"no\" ) | /[0-9]/ {1,3} \n\
             g_name_x: /[^\"\\n]/ + /(?s:.)/ \n"
        );
    }

    #[test]
    fn escapes_and_errors() {
        let lark = gbnf_to_lark(r#"root ::= "a\x41\u00e9\n""#).unwrap();
        assert_eq!(lark, "start: \"aAé\\n\" \n");
        assert!(gbnf_to_lark("answer ::= \"x\"")
            .unwrap_err()
            .contains("root"));
        assert!(gbnf_to_lark("root ::= \"x")
            .unwrap_err()
            .contains("not closed"));
        assert!(gbnf_to_lark("root ::= [a-z")
            .unwrap_err()
            .contains("not closed"));
        assert_eq!(
            gbnf_to_lark("root ::= greeting \"!\"\ngreet ::= \"hi\"").unwrap_err(),
            "the rule `greeting` is used but never defined"
        );
        assert!(gbnf_to_lark("root ::= x ; y")
            .unwrap_err()
            .contains("unexpected"));
    }
}
