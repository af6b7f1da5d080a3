//! Reading a file the user picked, as base64 for a JSON server function,
//! and offering text as a file to download.

/// Reads the first file of a file input and calls `done(name, base64)`.
pub fn read_picked_file(
    input: &web_sys::HtmlInputElement,
    done: impl FnOnce(String, String) + 'static,
) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::{closure::Closure, JsCast};
        let Some(file) = input.files().and_then(|f| f.get(0)) else {
            return;
        };
        let Ok(reader) = web_sys::FileReader::new() else {
            return;
        };
        let name = file.name();
        let reader_in = reader.clone();
        let onload = Closure::once(move || {
            let url = reader_in
                .result()
                .ok()
                .and_then(|r| r.as_string())
                .unwrap_or_default();
            // "data:image/png;base64,AAAA..." -> "AAAA..."
            let data = url
                .split_once(',')
                .map(|(_, d)| d.to_string())
                .unwrap_or_default();
            done(name, data);
        });
        reader.set_onload(Some(onload.as_ref().unchecked_ref()));
        onload.forget();
        let _ = reader.read_as_data_url(&file);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (input, done);
}

/// Offers `text` to the user as a file named `name` (Export).
pub fn download_text(name: &str, text: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let url = format!(
            "data:application/json;charset=utf-8,{}",
            String::from(js_sys::encode_uri_component(text))
        );
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let Ok(link) = document.create_element("a") else {
            return;
        };
        let _ = link.set_attribute("href", &url);
        let _ = link.set_attribute("download", name);
        if let Ok(link) = link.dyn_into::<web_sys::HtmlElement>() {
            link.click();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (name, text);
}
