mod composer;
mod message;
mod model_badge;
mod number_field;

pub use composer::Composer;
pub use message::MessageView;
pub use model_badge::ModelBadge;
pub use number_field::NumberField;
