//! The state every handler shares, and what generates its replies. Below
//! the router: the UI services and status pages read it, the root only
//! assembles it.

use std::sync::Arc;

use engine::Engine;

use crate::{
    chat::{Backend, ChatEngine},
    chat_tools::Toolbox,
    models::ModelLibrary,
    remote::RemoteBackend,
    replies::Replies,
    store::UserData,
};

/// What every request handler shares: where replies come from, the
/// replies in flight, the user data folder, and the model folder.
#[derive(Clone)]
pub struct AppState {
    pub chat: Arc<dyn Backend>,
    pub replies: Arc<Replies>,
    pub generator: Generator,
    pub data: Arc<UserData>,
    pub models: Arc<ModelLibrary>,
    /// The tools chats may offer (built-ins, MCP servers).
    pub tools: Arc<Toolbox>,
}

/// What generates replies: a model hosted in this process (which the
/// Model tab loads, switches and unloads, and the idle timer releases), or
/// another server (`--backend openai`).
#[derive(Clone)]
pub enum Generator {
    Local(Arc<Engine>),
    Remote { url: String },
}

impl AppState {
    /// Replies from `engine`, in this process.
    pub fn local(engine: Arc<Engine>, data: UserData, models: ModelLibrary) -> Self {
        let replies = Arc::new(Replies::default());
        Self {
            chat: Arc::new(ChatEngine::new(engine.submitter(), replies.clone())),
            replies,
            generator: Generator::Local(engine),
            tools: Arc::new(Toolbox::new(data.root.clone())),
            data: Arc::new(data),
            models: Arc::new(models),
        }
    }

    /// Replies from the OpenAI-compatible server at `url`.
    pub fn remote(url: &str, key: Option<String>, data: UserData, models: ModelLibrary) -> Self {
        let replies = Arc::new(Replies::default());
        let remote = RemoteBackend::new(url, key, replies.clone());
        Self {
            generator: Generator::Remote {
                url: remote.url().to_string(),
            },
            chat: Arc::new(remote),
            replies,
            tools: Arc::new(Toolbox::new(data.root.clone())),
            data: Arc::new(data),
            models: Arc::new(models),
        }
    }

    /// The model host, where the model runs in this process.
    pub fn host(&self) -> Option<&Arc<Engine>> {
        match &self.generator {
            Generator::Local(engine) => Some(engine),
            Generator::Remote { .. } => None,
        }
    }
}
