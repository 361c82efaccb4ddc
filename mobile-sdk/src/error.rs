//! The SDK's error type. Every error knows whether retrying can help.

use fieldsync_proto::ErrorCode;

/// An SDK failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// No user is logged in on this device.
    #[error("not logged in")]
    NotLoggedIn,
    /// The server refused the credentials or the session; log in again.
    #[error("authentication failed ({code}): {message}")]
    Auth { code: String, message: String },
    /// The server cannot be reached.
    #[error("offline: {0}")]
    Offline(String),
    /// The server closed the sync connection with an error.
    #[error("server error ({code:?}): {message}")]
    Server { code: ErrorCode, message: String },
    /// The server broke the protocol or answered something unexpected.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The local database failed or is corrupt.
    #[error("local store: {0}")]
    Store(String),
    /// No such document on this device.
    #[error("no document {0}")]
    NotFound(String),
    /// An argument was not acceptable.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A document edit failed.
    #[error("document edit failed: {0}")]
    Document(String),
}

impl Error {
    /// Whether the same operation can succeed later without user action.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Offline(_) | Error::Protocol(_) => true,
            Error::Server { code, .. } => code.is_retryable(),
            _ => false,
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Store(e.to_string())
    }
}

impl From<automerge::AutomergeError> for Error {
    fn from(e: automerge::AutomergeError) -> Self {
        Error::Document(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
