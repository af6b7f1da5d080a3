mod chat;
mod models;
mod parameters;

pub use chat::ChatPage;
pub use models::ModelsPage;
pub use parameters::ParametersPage;
