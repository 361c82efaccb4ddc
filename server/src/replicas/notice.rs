//! What one replica tells the others, and its form on the wire: JSON in a
//! PostgreSQL NOTIFY payload on [`CHANNEL`]. No I/O here: the store sends
//! notices (`Store::notify`, and inside a commit's transaction), and
//! `crate::replicas` listens.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// The LISTEN/NOTIFY channel.
pub const CHANNEL: &str = "fieldsync";

/// This process among the replicas, so it can skip its own notices.
pub static REPLICA: LazyLock<u64> = LazyLock::new(rand::random);

/// What one replica tells the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Notice {
    /// `community` committed up to `seq`; `wake`: a patrol, route or roster
    /// was among it, so the compliance engine runs now.
    Committed {
        community: String,
        seq: i64,
        wake: bool,
    },
    /// A device was revoked.
    Revoked { device: String },
    /// What these users of `community` may read changed.
    Readers {
        community: String,
        users: Vec<String>,
    },
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    /// The replica that sent it.
    r: u64,
    #[serde(flatten)]
    notice: Notice,
}

impl Notice {
    /// The NOTIFY payload (JSON; well under PostgreSQL's 8,000 bytes for a
    /// commit or a revocation, and a scope change is split into as many
    /// notices as it needs: [`Notice::split`]).
    pub fn payload(&self) -> String {
        serde_json::to_string(&Envelope {
            r: *REPLICA,
            notice: self.clone(),
        })
        .expect("notices serialize")
    }

    /// A notice of another replica; `None` for this process's own and for a
    /// payload it does not understand (a newer replica's, logged).
    pub fn parse(payload: &str) -> Option<Notice> {
        match serde_json::from_str::<Envelope>(payload) {
            Ok(e) if e.r == *REPLICA => None,
            Ok(e) => Some(e.notice),
            Err(e) => {
                tracing::warn!(payload, error = %e, "ignoring a notice this replica does not understand");
                None
            }
        }
    }

    /// The notices to send for it, each small enough for NOTIFY.
    pub fn split(self) -> Vec<Notice> {
        match self {
            Notice::Readers { community, users } if users.len() > 100 => users
                .chunks(100)
                .map(|u| Notice::Readers {
                    community: community.clone(),
                    users: u.to_vec(),
                })
                .collect(),
            other => vec![other],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_notices_are_skipped_and_others_read_back() {
        let n = Notice::Readers {
            community: "c1".into(),
            users: vec!["u1".into()],
        };
        assert_eq!(Notice::parse(&n.payload()), None);
        let theirs = n.payload().replacen(&REPLICA.to_string(), "1", 1);
        assert_eq!(Notice::parse(&theirs), Some(n));
        assert_eq!(Notice::parse("{\"r\":1,\"k\":\"later\"}"), None);
    }

    #[test]
    fn a_large_scope_change_is_split_under_the_notify_limit() {
        let n = Notice::Readers {
            community: "c1".into(),
            users: (0..250).map(|i| format!("user-{i:040}")).collect(),
        };
        let parts = n.split();
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.payload().len() < 8000));
    }
}
