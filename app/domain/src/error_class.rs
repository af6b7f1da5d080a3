use serde::{Deserialize, Serialize};

/// What kind of failure an error is. Each error type of the engine and the
/// server says its class once; the UI's error and every API dialect render
/// a class the same way (one HTTP status per class), so a failure cannot
/// be a 400 in one place and a 500 in another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The request asked for something that cannot work (a parameter out
    /// of range, a template that does not compile).
    BadInput,
    /// No or wrong credentials.
    Unauthorized,
    /// Refused whoever asks (a cross-site write).
    Forbidden,
    NotFound,
    /// The state changed under the request (a stale tab, a reply running).
    Conflict,
    TooLarge,
    /// A file in the user data folder is not what it should be.
    Unprocessable,
    /// Too many requests: retry in a moment.
    Busy,
    /// No model can answer now.
    Unavailable,
    /// Our fault.
    Internal,
}

impl ErrorClass {
    pub fn http_status(self) -> u16 {
        match self {
            ErrorClass::BadInput => 400,
            ErrorClass::Unauthorized => 401,
            ErrorClass::Forbidden => 403,
            ErrorClass::NotFound => 404,
            ErrorClass::Conflict => 409,
            ErrorClass::TooLarge => 413,
            ErrorClass::Unprocessable => 422,
            ErrorClass::Busy => 429,
            ErrorClass::Unavailable => 503,
            ErrorClass::Internal => 500,
        }
    }
}
