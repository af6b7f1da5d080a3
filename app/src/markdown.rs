//! Messages as Markdown (code blocks with a copy button, tables, single
//! newlines kept as line breaks, math), safely:
//! HTML in the text is shown as text, and links or images may only point to
//! http(s), mailto or in-page addresses, so model output can never run script.
//!
//! Math (`$…$`, `$$…$$`, `\(…\)`, `\[…\]`) becomes a `span.math` holding
//! the TeX source as text, untouched by Markdown's escapes (so `\,` stays);
//! `public/enhance.js` typesets it with KaTeX and highlights fenced code
//! with highlight.js once the page shows it.

use std::borrow::Cow;

use pulldown_cmark::{html, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

mod delimiters;

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

/// A formula as a span of escaped TeX, for KaTeX to typeset in place.
fn math_span(class: &str, tex: &str) -> Event<'static> {
    let mut escaped = String::with_capacity(tex.len() + 40);
    for c in tex.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            c => escaped.push(c),
        }
    }
    Event::Html(CowStr::from(format!(
        "<span class=\"{class}\">{escaped}</span>"
    )))
}

/// The HTML for a message.
pub fn render(text: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_MATH;
    let text: Cow<str> = delimiters::latex_to_dollars(text);
    let mut events = Vec::new();
    for event in Parser::new_ext(&text, options) {
        match event {
            Event::InlineMath(tex) => events.push(math_span("math math-inline", &tex)),
            Event::DisplayMath(tex) => events.push(math_span("math math-display", &tex)),
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
    fn math_keeps_its_tex_in_all_four_notations() {
        let out = render("Area: $$\\int_0^1 x\\,dx$$ and $a<b$.");
        assert!(
            out.contains(r#"<span class="math math-display">\int_0^1 x\,dx</span>"#),
            "{out}"
        );
        assert!(
            out.contains(r#"<span class="math math-inline">a&lt;b</span>"#),
            "{out}"
        );
        let out = render("So \\( x^2 \\) and\n\\[\n\\frac{1}{2}\n\\]\n");
        assert!(
            out.contains(r#"<span class="math math-inline">x^2</span>"#),
            "{out}"
        );
        assert!(
            out.contains(r#"<span class="math math-display">"#) && out.contains(r"\frac{1}{2}"),
            "{out}"
        );
    }

    #[test]
    fn math_cannot_carry_html_and_code_is_not_math() {
        let out = render("$<script>alert(1)</script>$ and `\\(not math\\)` and\n```\n$x$\n```\n");
        assert!(!out.contains("<script"), "{out}");
        assert!(out.contains(r"<code>\(not math\)</code>"), "{out}");
        assert!(out.contains("<code>$x$\n</code>"), "{out}");
    }

    #[test]
    fn prices_stay_text() {
        let out = render("It costs $5 and $10.");
        assert!(!out.contains("math"), "{out}");
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
