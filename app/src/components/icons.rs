//! Icons drawn inline as SVG: emoji depend on the fonts a machine has
//! (headless browsers and many Linux desktops show an empty box).

use leptos::prelude::*;

/// One line drawing on a 24×24 grid, `size` pixels wide, in the text's
/// colour.
fn line_icon(size: u32, transform: &'static str, path: &'static str) -> impl IntoView {
    view! {
        <svg
            class="icon"
            viewBox="0 0 24 24"
            width=size
            height=size
            aria-hidden="true"
            fill="none"
            stroke="currentColor"
            stroke-width="1.8"
            stroke-linecap="round"
            stroke-linejoin="round"
        >
            <path transform=transform d=path />
        </svg>
    }
}

/// A paperclip, for attached files.
#[component]
pub fn PaperclipIcon() -> impl IntoView {
    line_icon(
        18,
        "rotate(40 12 12)",
        "M15 6.5v10a3 3 0 0 1-6 0V5.5a2 2 0 0 1 4 0v10a1 1 0 0 1-2 0V8",
    )
}

/// A wrench, for tools.
#[component]
pub fn WrenchIcon() -> impl IntoView {
    line_icon(
        16,
        "",
        "M14.7 6.3a4 4 0 0 0 5 5L21 10a5.5 5.5 0 0 1-6.9 6.9L7.5 23.5a2.1 2.1 0 0 1-3-3l6.6-6.6A5.5 5.5 0 0 1 18 7l-1.3 1.3a4 4 0 0 0-2-2z",
    )
}
