use leptos::prelude::*;

use crate::api::load_account;

/// Under `--auth`: who is logged in, and a way out. The form posts to the
/// access guard, which ends the session; it needs no script.
#[component]
pub fn Account() -> impl IntoView {
    let account = Resource::new(|| (), |_| load_account());
    view! {
        <Suspense fallback=|| ()>
            {move || {
                account
                    .get()
                    .and_then(Result::ok)
                    .flatten()
                    .map(|user| {
                        view! {
                            <form class="account" method="post" action="/logout">
                                <span class="account-user" title="logged in">{user}</span>
                                <button id="logout" type="submit">"Log out"</button>
                            </form>
                        }
                    })
            }}
        </Suspense>
    }
}
