use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::types::AppError;

/// The logged-in user under `--auth`; `None` where nobody logs in.
#[server(input = Json)]
pub async fn load_account() -> Result<Option<String>, AppError> {
    Ok(crate::services::services()?.caller.user)
}
