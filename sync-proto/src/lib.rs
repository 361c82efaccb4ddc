//! The contract both ends of fieldsync share: wire messages, the sans-IO sync
//! session, and the document model.
//!
//! Nothing here performs I/O. The server and the SDK feed bytes and documents in
//! and act on what comes out, so every protocol path can be tested
//! deterministically in memory.

pub mod json;
pub mod model;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod session;
pub mod wire;

pub use model::{DocHeader, DocId, DocType};
pub use wire::{ClientMsg, ErrorCode, PROTOCOL_VERSION, RejectCode, ServerMsg};
