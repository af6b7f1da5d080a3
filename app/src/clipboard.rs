//! Copying text in the browser. `navigator.clipboard` needs a secure
//! context (https or localhost); on a plain-http LAN address the older
//! selection-and-copy command is used instead.

pub fn copy(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let Some(window) = web_sys::window() else {
            return;
        };
        if window.is_secure_context() {
            let _ = window.navigator().clipboard().write_text(text);
            return;
        }
        let Some(document) = window.document() else {
            return;
        };
        let Ok(area) = document.create_element("textarea") else {
            return;
        };
        let Ok(area) = area.dyn_into::<web_sys::HtmlTextAreaElement>() else {
            return;
        };
        area.set_value(text);
        let _ = area.set_attribute("style", "position:fixed;opacity:0");
        if let Some(body) = document.body() {
            let _ = body.append_child(&area);
            area.select();
            if let Ok(html) = document.clone().dyn_into::<web_sys::HtmlDocument>() {
                let _ = html.exec_command("copy");
            }
            let _ = body.remove_child(&area);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}
