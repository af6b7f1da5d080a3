//! Messages as Markdown (code blocks with a copy button, tables, single
//! newlines kept as line breaks), safely:
//! HTML in the text is shown as text, and links or images may only point to
//! http(s), mailto or in-page addresses, so model output can never run script.

use pulldown_cmark::{html, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("mailto:")
        || lower.starts_with('#')
        || (!lower.contains(':') && !lower.starts_with("//"))
}

fn neutralize(url: CowStr<'_>) -> CowStr<'_> {
    if safe_url(&url) {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

/// The HTML for a message.
pub fn render(text: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut events = Vec::new();
    for event in Parser::new_ext(text, options) {
        match event {
            // Raw HTML from the model is text, escaped by the renderer.
            Event::Html(raw) | Event::InlineHtml(raw) => events.push(Event::Text(raw)),
            // A single newline is a line break, as in chat (and TGW's nl2br).
            Event::SoftBreak => events.push(Event::HardBreak),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => events.push(Event::Start(Tag::Link {
                link_type: if link_type == LinkType::Email {
                    link_type
                } else {
                    LinkType::Inline
                },
                dest_url: neutralize(dest_url),
                title,
                id,
            })),
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => events.push(Event::Start(Tag::Image {
                link_type,
                dest_url: neutralize(dest_url),
                title,
                id,
            })),
            Event::Start(Tag::CodeBlock(kind)) => {
                events.push(Event::Html(CowStr::Borrowed(
                    "<div class=\"code-block\"><button type=\"button\" class=\"copy-code\">Copy</button>",
                )));
                events.push(Event::Start(Tag::CodeBlock(kind)));
            }
            Event::End(TagEnd::CodeBlock) => {
                events.push(Event::End(TagEnd::CodeBlock));
                events.push(Event::Html(CowStr::Borrowed("</div>")));
            }
            other => events.push(other),
        }
    }
    let mut out = String::with_capacity(text.len() * 3 / 2);
    html::push_html(&mut out, events.into_iter());
    out
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn html_and_script_are_text() {
        let out = render("Hi <script>alert(1)</script> and <img src=x onerror=alert(1)>");
        assert!(!out.contains("<script"), "{out}");
        assert!(!out.contains("<img"), "{out}");
        assert!(out.contains("&lt;script&gt;"), "{out}");
    }

    #[test]
    fn unsafe_links_are_neutralized() {
        let out = render(
            "[click](javascript:alert(1)) [ok](https://example.com) ![i](data:image/png;base64,xx)",
        );
        assert!(!out.contains("javascript:"), "{out}");
        assert!(!out.contains("data:"), "{out}");
        assert!(out.contains("href=\"https://example.com\""), "{out}");
    }

    #[test]
    fn code_blocks_get_a_copy_button_and_tables_render() {
        let out = render("```rust\nfn main() {}\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n");
        assert!(out.contains("<div class=\"code-block\"><button type=\"button\" class=\"copy-code\">Copy</button>"), "{out}");
        assert!(
            out.contains("<pre><code class=\"language-rust\">fn main() {}"),
            "{out}"
        );
        assert!(
            out.contains("<table>") && out.contains("<td>2</td>"),
            "{out}"
        );
    }
}
