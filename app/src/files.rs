//! Reading a file the user picked, as base64 for a JSON server function,
//! and offering text as a file to download.

/// Reads the first file of a file input and calls `done(name, base64)`.
pub fn read_picked_file(
    input: &web_sys::HtmlInputElement,
    done: impl FnOnce(String, String) + 'static,
) {
    if let Some(file) = input.files().and_then(|f| f.get(0)) {
        read_file(file, done);
    }
}

/// The files of a file list (a file input, a drop, a paste).
pub fn files_of(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    let Some(list) = list else {
        return Vec::new();
    };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

/// Reads `file` and calls `done(name, base64)` once; the data is empty
/// where the browser could not read the file.
pub fn read_file(file: web_sys::File, done: impl FnOnce(String, String) + 'static) {
    #[cfg(feature = "hydrate")]
    {
        use std::{cell::RefCell, rc::Rc};
        use wasm_bindgen::{closure::Closure, JsCast};
        let name = file.name();
        let done = Rc::new(RefCell::new(Some(done)));
        let finish = {
            let done = done.clone();
            move |data: String| {
                if let Some(done) = done.borrow_mut().take() {
                    done(name.clone(), data);
                }
            }
        };
        let Ok(reader) = web_sys::FileReader::new() else {
            finish(String::new());
            return;
        };
        let reader_in = reader.clone();
        let on_load = finish.clone();
        let onload = Closure::once(move || {
            let url = reader_in
                .result()
                .ok()
                .and_then(|r| r.as_string())
                .unwrap_or_default();
            // "data:image/png;base64,AAAA..." -> "AAAA..."
            on_load(
                url.split_once(',')
                    .map(|(_, d)| d.to_string())
                    .unwrap_or_default(),
            );
        });
        let onerror = Closure::once(move || finish(String::new()));
        reader.set_onload(Some(onload.as_ref().unchecked_ref()));
        reader.set_onerror(Some(onerror.as_ref().unchecked_ref()));
        onload.forget();
        onerror.forget();
        if reader.read_as_data_url(&file).is_err() {
            if let Some(done) = done.borrow_mut().take() {
                done(file.name(), String::new());
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (file, done);
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
