//! Wire messages, their compact binary encoding (CBOR), and stable error codes.
//!
//! Every WebSocket binary frame carries exactly one message. A connection opens
//! with [`ClientMsg::Hello`]; the server answers [`ServerMsg::Welcome`] or
//! [`ServerMsg::Error`] and closes. Per document, the payload of
//! [`ClientMsg::Sync`] / [`ServerMsg::Sync`] is an `automerge::sync::Message`,
//! so the document-level protocol is automerge's own.

use automerge::ChangeHash;
use serde::{Deserialize, Serialize};

use crate::model::{DocHeader, DocId};

/// Version of this wire protocol. Bumped on any incompatible change.
pub const PROTOCOL_VERSION: u16 = 1;

/// A change hash as it travels on the wire (32 raw bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Head(#[serde(with = "serde_bytes")] pub [u8; 32]);

impl From<ChangeHash> for Head {
    fn from(h: ChangeHash) -> Self {
        Head(h.0)
    }
}

impl From<Head> for ChangeHash {
    fn from(h: Head) -> Self {
        ChangeHash(h.0)
    }
}

/// Converts automerge heads to wire heads.
pub fn to_wire_heads(heads: &[ChangeHash]) -> Vec<Head> {
    heads.iter().copied().map(Head::from).collect()
}

/// Converts wire heads to automerge heads.
pub fn from_wire_heads(heads: &[Head]) -> Vec<ChangeHash> {
    heads.iter().copied().map(ChangeHash::from).collect()
}

/// Messages a device sends to the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientMsg {
    /// First message of every connection.
    Hello {
        protocol_version: u16,
        device_id: String,
        /// Access token (JWT) obtained from `/api/v1/auth/login` or `/refresh`.
        token: String,
        /// The community change sequence the device has fully synced up to.
        cursor: u64,
    },
    /// One automerge sync message for one document.
    Sync {
        header: DocHeader,
        #[serde(with = "serde_bytes")]
        message: Vec<u8>,
    },
}

/// A document the server announces as changed since the device's cursor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Announce {
    pub header: DocHeader,
    /// The document's heads as durably stored.
    pub heads: Vec<Head>,
    /// Community change sequence of the document's latest stored change.
    pub seq: u64,
}

/// Messages the server sends to a device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerMsg {
    /// The handshake succeeded.
    Welcome {
        protocol_version: u16,
        user_id: String,
        community_id: String,
        /// The community's change sequence when the connection was accepted.
        server_cursor: u64,
    },
    /// Documents changed since the device's cursor. After the device has synced
    /// every listed document it may store `upto` as its cursor.
    Changed {
        docs: Vec<Announce>,
        upto: u64,
        /// True when this page brings the device up to the server's current sequence.
        caught_up: bool,
    },
    /// Reply to a [`ClientMsg::Sync`]. Sent only after any changes it carried are
    /// durably committed; `durable_heads` are the document's heads as stored,
    /// so every change they cover is acknowledged.
    Sync {
        doc: DocId,
        #[serde(with = "serde_bytes")]
        message: Option<Vec<u8>>,
        durable_heads: Vec<Head>,
    },
    /// The change set of a [`ClientMsg::Sync`] was rejected; nothing of it was stored.
    Reject {
        doc: DocId,
        code: RejectCode,
        message: String,
    },
    /// A connection-level error. The server closes the connection after sending it.
    Error { code: ErrorCode, message: String },
}

/// Why a connection was refused or closed. Stable: clients match on these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A frame could not be decoded as a protocol message.
    Malformed,
    /// A frame exceeded the server's frame size limit.
    FrameTooLarge,
    /// The client speaks a protocol version this server does not.
    UnsupportedVersion,
    /// The first message was not a `Hello`, or a second `Hello` arrived.
    HandshakeRequired,
    /// No token, or a token that is forged or malformed.
    Unauthenticated,
    /// The access token has expired; refresh it and reconnect.
    TokenExpired,
    /// The device has been revoked by the office.
    DeviceRevoked,
    /// The token was issued to a different device.
    DeviceMismatch,
    /// Too many documents in flight on one connection.
    TooManyDocuments,
    /// The server is shutting down; reconnect later.
    ShuttingDown,
    /// Something failed on the server; the message carries an incident id.
    Internal,
}

impl ErrorCode {
    /// Whether reconnecting (possibly after refreshing the token) can succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::TokenExpired | ErrorCode::ShuttingDown | ErrorCode::Internal
        )
    }
}

/// Why a document change set was rejected. Stable: clients match on these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// A new change was made by an automerge actor not registered to this device.
    ForeignActor,
    /// The document would exceed the server's document size limit.
    DocumentTooLarge,
    /// The sync message exceeded the message size limit.
    MessageTooLarge,
    /// The sync payload is not a valid automerge sync message or holds invalid changes.
    InvalidSyncMessage,
    /// The header names a type or schema version the server does not accept, or
    /// differs from the stored document's.
    InvalidHeader,
    /// The document content violates its type's schema.
    SchemaViolation,
    /// The user's role or scope does not allow this write.
    Forbidden,
    /// The document changed concurrently on the server; sync it again.
    Conflict,
}

impl RejectCode {
    /// The code as it appears on the wire and in REST errors.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::ForeignActor => "foreign_actor",
            RejectCode::DocumentTooLarge => "document_too_large",
            RejectCode::MessageTooLarge => "message_too_large",
            RejectCode::InvalidSyncMessage => "invalid_sync_message",
            RejectCode::InvalidHeader => "invalid_header",
            RejectCode::SchemaViolation => "schema_violation",
            RejectCode::Forbidden => "forbidden",
            RejectCode::Conflict => "conflict",
        }
    }

    /// Whether syncing the same local changes again can succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, RejectCode::Conflict)
    }
}

/// A frame that could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("malformed message: {0}")]
pub struct DecodeError(String);

fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    ciborium::into_writer(msg, &mut out).expect("CBOR encoding into a Vec cannot fail");
    out
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, DecodeError> {
    ciborium::from_reader(bytes).map_err(|e| DecodeError(e.to_string()))
}

impl ClientMsg {
    /// The variant's name, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMsg::Hello { .. } => "hello",
            ClientMsg::Sync { .. } => "sync",
        }
    }

    /// Encodes this message as one binary frame.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes one binary frame.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes)
    }
}

impl ServerMsg {
    /// The variant's name, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ServerMsg::Welcome { .. } => "welcome",
            ServerMsg::Changed { .. } => "changed",
            ServerMsg::Sync { .. } => "sync",
            ServerMsg::Reject { .. } => "reject",
            ServerMsg::Error { .. } => "error",
        }
    }

    /// Encodes this message as one binary frame.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes one binary frame.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DocType;

    #[test]
    fn reject_codes_read_as_on_the_wire() {
        use RejectCode::*;
        for code in [
            ForeignActor,
            DocumentTooLarge,
            MessageTooLarge,
            InvalidSyncMessage,
            InvalidHeader,
            SchemaViolation,
            Forbidden,
            Conflict,
        ] {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::from(code.as_str())
            );
        }
    }

    #[test]
    fn messages_round_trip() {
        let header = DocHeader::new(DocId::new("doc-1").unwrap(), DocType::Note);
        let msgs = [
            ClientMsg::Hello {
                protocol_version: PROTOCOL_VERSION,
                device_id: "dev".into(),
                token: "t".into(),
                cursor: 7,
            },
            ClientMsg::Sync {
                header: header.clone(),
                message: vec![1, 2, 3],
            },
        ];
        for m in msgs {
            assert_eq!(ClientMsg::decode(&m.encode()).unwrap(), m);
        }
        let s = ServerMsg::Sync {
            doc: header.id.clone(),
            message: None,
            durable_heads: vec![Head([7; 32])],
        };
        assert_eq!(ServerMsg::decode(&s.encode()).unwrap(), s);
    }

    /// Every message kind, encoded. A change here is a protocol change: bump
    /// `PROTOCOL_VERSION` or keep old devices decoding.
    #[test]
    fn the_wire_format_is_stable() {
        let header = DocHeader::new(DocId::new("hazard-0001").unwrap(), DocType::Hazard);
        let head = Head([0xab; 32]);
        let client = [
            ClientMsg::Hello {
                protocol_version: PROTOCOL_VERSION,
                device_id: "dev-1".into(),
                token: "token".into(),
                cursor: 42,
            },
            ClientMsg::Sync {
                header: header.clone(),
                message: vec![0x42, 0x01],
            },
        ];
        let server = [
            ServerMsg::Welcome {
                protocol_version: PROTOCOL_VERSION,
                user_id: "user-1".into(),
                community_id: "demo".into(),
                server_cursor: 43,
            },
            ServerMsg::Changed {
                docs: vec![Announce {
                    header: header.clone(),
                    heads: vec![head],
                    seq: 43,
                }],
                upto: 43,
                caught_up: true,
            },
            ServerMsg::Sync {
                doc: header.id.clone(),
                message: Some(vec![0x42]),
                durable_heads: vec![head],
            },
            ServerMsg::Reject {
                doc: header.id.clone(),
                code: RejectCode::Forbidden,
                message: "no".into(),
            },
            ServerMsg::Error {
                code: ErrorCode::TokenExpired,
                message: "refresh".into(),
            },
        ];
        let mut out = String::new();
        for m in &client {
            out.push_str(&format!("client {}: {}\n", m.kind(), hex(&m.encode())));
        }
        for m in &server {
            out.push_str(&format!("server {}: {}\n", m.kind(), hex(&m.encode())));
        }
        insta::assert_snapshot!(out);
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(ClientMsg::decode(&[0xff, 0x00, 0x13]).is_err());
        assert!(ClientMsg::decode(b"").is_err());
    }

    #[test]
    fn codes_have_stable_names() {
        let enc = ServerMsg::Error {
            code: ErrorCode::DeviceRevoked,
            message: String::new(),
        }
        .encode();
        let needle = b"device_revoked";
        assert!(enc.windows(needle.len()).any(|w| w == needle));
    }
}
