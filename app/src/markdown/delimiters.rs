//! LaTeX's `\(…\)` and `\[…\]` rewritten as `$…$` and `$$…$$` before the
//! Markdown parser sees them: to Markdown `\(` is an escaped parenthesis,
//! so models that write LaTeX's own delimiters (most do) would lose them.
//! Code (fenced blocks and inline spans) is left exactly as written.

use std::borrow::Cow;

/// The text with LaTeX delimiters outside code turned into dollar ones.
pub fn latex_to_dollars(text: &str) -> Cow<'_, str> {
    if !text.contains("\\(") && !text.contains("\\[") {
        return Cow::Borrowed(text);
    }
    Cow::Owned(rewrite_outside_code(text))
}

/// The backticks or tildes that open or close a fenced code block on this
/// line (up to three spaces of indent), if it is a fence line.
fn fence_marker(line: &str) -> Option<&str> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let ch = trimmed.chars().next()?;
    if ch != '`' && ch != '~' {
        return None;
    }
    let run = trimmed.len() - trimmed.trim_start_matches(ch).len();
    (run >= 3).then(|| &trimmed[..run])
}

/// One pass over the text: fenced blocks and inline code spans are copied,
/// and each `\(` or `\[` with its closer later in the same paragraph is
/// replaced (the formula inside is trimmed, as `$` math wants no padding).
fn rewrite_outside_code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut at_line_start = true;
    let mut in_fence: Option<String> = None;
    while !rest.is_empty() {
        if at_line_start {
            let line_end = rest.find('\n').map_or(rest.len(), |i| i + 1);
            let line = &rest[..line_end];
            let fence = fence_marker(line);
            let inside = match (&in_fence, fence) {
                (Some(open), Some(close)) if close.starts_with(open.as_str()) => {
                    in_fence = None;
                    true
                }
                (Some(_), _) => true,
                (None, Some(open)) => {
                    in_fence = Some(open.to_string());
                    true
                }
                (None, None) => false,
            };
            if inside {
                out.push_str(line);
                rest = &rest[line_end..];
                continue;
            }
            at_line_start = false;
        }
        let c = rest.chars().next().unwrap_or_default();
        if c == '\n' {
            out.push('\n');
            rest = &rest[1..];
            at_line_start = true;
        } else if c == '`' {
            let run = rest.len() - rest.trim_start_matches('`').len();
            let ticks = &rest[..run];
            match rest[run..].find(ticks) {
                Some(end) => {
                    let span = run + end + run;
                    out.push_str(&rest[..span]);
                    rest = &rest[span..];
                }
                None => {
                    out.push_str(ticks);
                    rest = &rest[run..];
                }
            }
        } else if let Some((formula, used, display)) = formula_at(rest) {
            let dollars = if display { "$$" } else { "$" };
            out.push_str(dollars);
            out.push_str(formula);
            out.push_str(dollars);
            rest = &rest[used..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// A `\(…\)` or `\[…\]` formula starting here: its trimmed inside, the bytes
/// it spans, and whether it is displayed. None when there is no closer
/// before a blank line.
fn formula_at(text: &str) -> Option<(&str, usize, bool)> {
    let (close, display) = if text.starts_with("\\(") {
        ("\\)", false)
    } else if text.starts_with("\\[") {
        ("\\]", true)
    } else {
        return None;
    };
    let body = &text[2..];
    let end = body.find(close)?;
    let inside = &body[..end];
    if inside.contains("\n\n") || inside.trim().is_empty() {
        return None;
    }
    Some((inside.trim(), 2 + end + 2, display))
}

#[cfg(test)]
mod tests {
    use super::latex_to_dollars;

    #[test]
    fn delimiters_outside_code_become_dollars() {
        assert_eq!(latex_to_dollars(r"a \( x \) b"), "a $x$ b");
        assert_eq!(latex_to_dollars("\\[\n\\int f\n\\]"), "$$\\int f$$");
        assert_eq!(latex_to_dollars(r"`\(x\)` \(y\)"), r"`\(x\)` $y$");
        assert_eq!(
            latex_to_dollars("```\n\\(x\\)\n```\n\\(y\\)"),
            "```\n\\(x\\)\n```\n$y$"
        );
    }

    #[test]
    fn unclosed_or_empty_delimiters_are_left_alone() {
        assert_eq!(latex_to_dollars(r"a \( b"), r"a \( b");
        assert_eq!(latex_to_dollars(r"\(\)"), r"\(\)");
        assert_eq!(latex_to_dollars("\\( a\n\nb \\)"), "\\( a\n\nb \\)");
        assert_eq!(latex_to_dollars("no math here"), "no math here");
    }
}
