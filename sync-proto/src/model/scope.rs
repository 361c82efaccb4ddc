//! Read scopes (docs/roles.md, docs/sync.md): which documents a user's devices receive.
//!
//! Every stored document carries a [`DocScope`] derived from its content when
//! it is written: the team it belongs to, the grid its place lies in, the
//! person who owns it (reporter, patrol starter), and for alerts the people
//! and roles it is for. [`may_read`] decides from that and the [`Reader`].
//!
//! | role | reads |
//! |---|---|
//! | office, auditor | everything in the community |
//! | leader | own team's routes, rosters, patrols; hazards and incidents in the team's grid or unplaced |
//! | grid worker | everything in own grids; unplaced hazards and incidents |
//! | volunteer, guard | own team's routes, rosters, patrols; hazards in the team's grid |
//!
//! Everyone reads what they own, the alerts addressed to them, and the
//! community's places and notes. A document whose scope could not be
//! derived or read back is the office's and auditors' alone: scopes fail
//! closed.

use serde::{Deserialize, Serialize};

use super::{DocType, Role};

/// What decides who may read a document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocScope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Alerts: the users it is addressed to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Alerts: the roles that see it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Role>,
}

/// Who is reading: from the token and the user's record, never the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reader {
    pub user_id: String,
    pub role: Role,
    pub team: Option<String>,
    /// The grid of the user's team.
    pub team_grid: Option<String>,
    /// Grids the user owns (grid workers).
    pub grids: Vec<String>,
}

/// Whether `reader` may receive a document of `doc_type` whose stored scope
/// is `scope`.
///
/// `None` is a scope that could not be derived or read back: such a document
/// is readable by the office and auditors only (fail closed), never by the
/// whole community.
pub fn may_read(reader: &Reader, doc_type: DocType, scope: Option<&DocScope>) -> bool {
    if matches!(reader.role, Role::Office | Role::Auditor) {
        return true;
    }
    let Some(s) = scope else {
        return false;
    };
    match doc_type {
        DocType::Places | DocType::Note => true,
        DocType::Alert => s.users.contains(&reader.user_id) || s.roles.contains(&reader.role),
        DocType::Hazard => reads(reader, s, Kind::Hazard),
        DocType::Incident => reads(reader, s, Kind::Incident),
        DocType::Patrol | DocType::Route | DocType::Roster => reads(reader, s, Kind::TeamRecord),
    }
}

/// What a placed or team document is, for [`reads`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Hazard,
    Incident,
    /// Patrols, routes and rosters: they belong to a team.
    TeamRecord,
}

fn reads(reader: &Reader, s: &DocScope, kind: Kind) -> bool {
    use Role::*;
    if s.owner.as_deref() == Some(reader.user_id.as_str()) {
        return true;
    }
    let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
    let my_team = same(&s.team, &reader.team);
    let placed_in = |grid: &Option<String>| same(&s.grid, grid);
    let unplaced = s.grid.is_none() && s.team.is_none();
    let hazard_like = kind != Kind::TeamRecord;
    match reader.role {
        Leader => my_team || (hazard_like && (placed_in(&reader.team_grid) || unplaced)),
        GridWorker => {
            s.grid.as_ref().is_some_and(|g| reader.grids.contains(g)) || (hazard_like && unplaced)
        }
        Volunteer | Guard => my_team || (kind == Kind::Hazard && placed_in(&reader.team_grid)),
        Office | Auditor => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(role: Role) -> Reader {
        Reader {
            user_id: "u1".into(),
            role,
            team: Some("team-1".into()),
            team_grid: Some("grid-1".into()),
            grids: vec!["grid-1".into()],
        }
    }

    fn scope(team: Option<&str>, grid: Option<&str>, owner: Option<&str>) -> DocScope {
        DocScope {
            team: team.map(Into::into),
            grid: grid.map(Into::into),
            owner: owner.map(Into::into),
            ..DocScope::default()
        }
    }

    #[test]
    fn teams_grids_and_owners_decide() {
        use Role::*;
        let other_team = scope(Some("team-3"), Some("grid-2"), Some("u9"));
        let my_team = scope(Some("team-1"), Some("grid-1"), Some("u9"));
        let hazard_here = scope(None, Some("grid-1"), Some("u9"));
        let hazard_there = scope(None, Some("grid-2"), Some("u9"));
        let unplaced = scope(None, None, Some("u9"));
        let mine = scope(None, Some("grid-2"), Some("u1"));
        // (role, doc type, scope, may read)
        let table: &[(Role, DocType, &DocScope, bool)] = &[
            (Volunteer, DocType::Patrol, &my_team, true),
            (Volunteer, DocType::Patrol, &other_team, false),
            (Volunteer, DocType::Hazard, &hazard_here, true),
            (Volunteer, DocType::Hazard, &hazard_there, false),
            (Volunteer, DocType::Hazard, &unplaced, false),
            (Volunteer, DocType::Incident, &hazard_here, false),
            (Volunteer, DocType::Hazard, &mine, true),
            (Guard, DocType::Route, &my_team, true),
            (Leader, DocType::Roster, &other_team, false),
            (Leader, DocType::Incident, &hazard_here, true),
            (Leader, DocType::Hazard, &unplaced, true),
            (Leader, DocType::Hazard, &hazard_there, false),
            (GridWorker, DocType::Patrol, &my_team, true),
            (GridWorker, DocType::Patrol, &other_team, false),
            (GridWorker, DocType::Hazard, &unplaced, true),
            (Office, DocType::Patrol, &other_team, true),
            (Auditor, DocType::Hazard, &hazard_there, true),
        ];
        for (role, doc_type, s, expected) in table {
            assert_eq!(
                may_read(&reader(*role), *doc_type, Some(s)),
                *expected,
                "{role} reading {} {s:?}",
                doc_type.as_str()
            );
        }
    }

    #[test]
    fn a_document_without_a_readable_scope_is_for_the_office_and_auditors_only() {
        use Role::*;
        for doc_type in DocType::ALL {
            for role in [Volunteer, Guard, GridWorker, Leader] {
                assert!(
                    !may_read(&reader(role), doc_type, None),
                    "{role} reading a {} without scope",
                    doc_type.as_str()
                );
            }
            for role in [Office, Auditor] {
                assert!(may_read(&reader(role), doc_type, None));
            }
        }
        // Places and notes are the community's: any scope that was derived
        // lets everyone read them.
        let community = DocScope::default();
        assert!(may_read(
            &reader(Volunteer),
            DocType::Note,
            Some(&community)
        ));
        assert!(may_read(&reader(Guard), DocType::Places, Some(&community)));
    }

    #[test]
    fn alerts_are_for_their_recipients() {
        let alert = DocScope {
            users: vec!["u1".into()],
            roles: vec![Role::Office],
            ..DocScope::default()
        };
        assert!(may_read(
            &reader(Role::Leader),
            DocType::Alert,
            Some(&alert)
        ));
        let mut other = reader(Role::Leader);
        other.user_id = "u2".into();
        assert!(!may_read(&other, DocType::Alert, Some(&alert)));
        assert!(may_read(
            &reader(Role::Office),
            DocType::Alert,
            Some(&alert)
        ));
        assert!(may_read(&other, DocType::Places, Some(&alert)));
    }
}
