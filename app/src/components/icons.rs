//! Icons drawn inline as SVG: emoji depend on the fonts a machine has
//! (headless browsers and many Linux desktops show an empty box).

use leptos::prelude::*;

/// A paperclip, for attached files.
#[component]
pub fn PaperclipIcon() -> impl IntoView {
    view! {
        <svg
            class="icon"
            viewBox="0 0 24 24"
            width="18"
            height="18"
            aria-hidden="true"
            fill="none"
            stroke="currentColor"
            stroke-width="1.8"
            stroke-linecap="round"
            stroke-linejoin="round"
        >
            <path
                transform="rotate(40 12 12)"
                d="M15 6.5v10a3 3 0 0 1-6 0V5.5a2 2 0 0 1 4 0v10a1 1 0 0 1-2 0V8"
            />
        </svg>
    }
}
