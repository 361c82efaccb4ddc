//! The roles of docs/roles.md. A user has exactly one role in one community.

use serde::{Deserialize, Serialize};

/// What a user is in the community; decides what they may read and write.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Night-patrol volunteer (red armband).
    Volunteer,
    /// Auxiliary guard patrolling stairwells; may rectify "immediate" hazards on the spot.
    Guard,
    /// Owns one or more grids; reports and rectifies hazards there.
    GridWorker,
    /// Patrol group leader / duty leader: plans, assigns, verifies.
    Leader,
    /// Community office: everything in the community; the only role that closes hazards.
    Office,
    /// Security committee member: reads everything, writes only audit notes.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Volunteer,
        Role::Guard,
        Role::GridWorker,
        Role::Leader,
        Role::Office,
        Role::Auditor,
    ];

    /// The stable name (as stored and as in the glossary, `role.<name>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Volunteer => "volunteer",
            Role::Guard => "guard",
            Role::GridWorker => "grid_worker",
            Role::Leader => "leader",
            Role::Office => "office",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Leader or office: the roles that plan, assign and verify.
    pub fn supervises(self) -> bool {
        matches!(self, Role::Leader | Role::Office)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("admin"), None);
    }
}
