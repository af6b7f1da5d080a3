mod chat;
mod models;
mod notebook;
mod parameters;

pub use chat::ChatPage;
pub use models::ModelsPage;
pub use notebook::NotebookPage;
pub use parameters::ParametersPage;
