mod chat;
mod parameters;

pub use chat::ChatPage;
pub use parameters::ParametersPage;
