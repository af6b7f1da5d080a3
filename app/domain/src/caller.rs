use serde::{Deserialize, Serialize};

/// Who is calling, as the server's access guard established it. Chats and
/// running replies belong to their caller: under `--auth` each user sees
/// and stops only their own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Caller {
    /// The logged-in user under `--auth`; `None` where nobody logs in.
    pub user: Option<String>,
}

impl Caller {
    pub fn user(name: impl Into<String>) -> Self {
        Self {
            user: Some(name.into()),
        }
    }
}
