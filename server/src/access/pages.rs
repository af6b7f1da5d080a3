//! The few pages the access guard answers with itself: no script, no
//! external files, nothing about the server beyond what the form needs.

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:15vh auto;padding:0 1rem}}\
input{{width:100%;padding:.5rem;margin:.3rem 0 .8rem;box-sizing:border-box}}button{{padding:.5rem 1rem}}\
.error{{color:#c62828}}</style></head><body>{body}</body></html>"
    )
}

/// Asks for the access token that candlelight printed at start.
pub fn token_form(wrong: bool) -> String {
    let error = if wrong {
        "<p class=\"error\">That token is not right.</p>"
    } else {
        ""
    };
    page(
        "candlelight: access token",
        &format!(
            "<h1>candlelight</h1><p>This server needs its access token. Open the link it printed when it started, \
or paste the token here.</p>{error}<form method=\"get\" action=\"/\"><label for=\"token\">Access token</label>\
<input id=\"token\" name=\"token\" autocomplete=\"off\" autofocus><button type=\"submit\">Open</button></form>"
        ),
    )
}

/// The login form for `--auth`.
pub fn login_form(wrong: bool) -> String {
    let error = if wrong {
        "<p class=\"error\">Wrong user name or password.</p>"
    } else {
        ""
    };
    page(
        "candlelight: log in",
        &format!(
            "<h1>candlelight</h1>{error}<form method=\"post\" action=\"/login\"><label for=\"user\">User</label>\
<input id=\"user\" name=\"user\" autocomplete=\"username\" autofocus><label for=\"password\">Password</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\">\
<button type=\"submit\">Log in</button></form>"
        ),
    )
}

/// Sent with the cookie: moves on to the page without the token in its
/// address. (A same-site navigation, so the SameSite=Strict cookie goes with it.)
pub fn continue_to(path: &str) -> String {
    let path = html_escape(path);
    page(
        "candlelight",
        &format!("<meta http-equiv=\"refresh\" content=\"0;url={path}\"><p><a href=\"{path}\">Continue</a></p>"),
    )
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
