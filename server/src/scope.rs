//! Read scopes on the server: each document's [`DocScope`], derived from its
//! content when it is written and stored beside it; the sync connection
//! announces and serves only documents its user may read (the rules are
//! `fieldsync_proto::model::scope`).

use std::collections::HashMap;

use fieldsync_proto::DocType;
use fieldsync_proto::model::hazard::HazardPlace;
use fieldsync_proto::model::scope::{DocScope, Reader, may_read};
use fieldsync_proto::model::validate::Checked;

use crate::store::{DocRow, PostRow};

/// What a document's scope is made of before grids are looked up.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Seed {
    team: Option<String>,
    place: Option<HazardPlace>,
    owner: Option<String>,
    users: Vec<String>,
    roles: Vec<fieldsync_proto::model::Role>,
}

impl Seed {
    /// Whether resolving it needs the community's grids (posts and teams).
    pub fn needs_grids(&self) -> bool {
        self.place.is_some() || self.team.is_some()
    }
}

/// The scope seed of a document that passed the checks. Every type has one:
/// places and notes get the empty scope, which `may_read` gives the whole
/// community.
pub fn seed(checked: &Checked) -> Seed {
    match checked {
        Checked::Hazard(h) => Seed {
            place: Some(h.place.clone()),
            owner: h
                .events
                .iter()
                .find(|e| e.prev.is_none())
                .map(|e| e.by.clone()),
            ..Seed::default()
        },
        Checked::Incident(i) => Seed {
            place: Some(i.place.clone()),
            owner: Some(i.reporter.clone()),
            ..Seed::default()
        },
        Checked::Patrol { doc, .. } => Seed {
            team: Some(doc.team.clone()).filter(|t| !t.is_empty()),
            owner: Some(doc.started_by.clone()),
            ..Seed::default()
        },
        Checked::Route(r) => Seed {
            team: Some(r.team.clone()),
            ..Seed::default()
        },
        Checked::Roster(r) => Seed {
            team: Some(r.team.clone()),
            ..Seed::default()
        },
        Checked::Alert(a) => Seed {
            users: a.recipients.clone(),
            roles: a.roles.clone(),
            ..Seed::default()
        },
        Checked::Places | Checked::Note => Seed::default(),
    }
}

/// Grids of a community: posts' grid and teams' grid.
#[derive(Debug, Default)]
pub struct Grids {
    by_post: HashMap<String, String>,
    by_building: HashMap<String, String>,
    by_team: HashMap<String, String>,
}

impl Grids {
    pub fn new(posts: &[PostRow], teams: &[(String, String, Option<String>)]) -> Grids {
        let mut g = Grids::default();
        for p in posts {
            if let Some(grid) = &p.grid_id {
                g.by_post.insert(p.id.clone(), grid.clone());
                if let Some(b) = &p.building {
                    g.by_building.insert(b.clone(), grid.clone());
                }
            }
        }
        for (id, _, grid) in teams {
            if let Some(grid) = grid {
                g.by_team.insert(id.clone(), grid.clone());
            }
        }
        g
    }

    /// The scope of a seed, as stored (JSON).
    pub fn resolve(&self, seed: &Seed) -> String {
        let grid = match (&seed.place, &seed.team) {
            (Some(place), _) => place
                .post_id
                .as_ref()
                .and_then(|p| self.by_post.get(p))
                .or_else(|| {
                    place
                        .building
                        .as_ref()
                        .and_then(|b| self.by_building.get(b))
                }),
            (None, Some(team)) => self.by_team.get(team),
            (None, None) => None,
        };
        let scope = DocScope {
            team: seed.team.clone(),
            grid: grid.cloned(),
            owner: seed.owner.clone(),
            users: seed.users.clone(),
            roles: seed.roles.clone(),
        };
        serde_json::to_string(&scope).expect("scopes serialize")
    }
}

/// Whether `reader` may receive the stored document `row`. A row of an
/// unknown type is nobody's; a scope that is missing or does not parse is
/// the office's and auditors' only.
pub fn may_read_row(reader: &Reader, row: &DocRow) -> bool {
    let Some(doc_type) = DocType::parse(&row.doc_type) else {
        return false;
    };
    may_read(reader, doc_type, parse(row.scope.as_deref()).as_ref())
}

/// A stored scope read back; `None` when it is missing or unreadable.
pub fn parse(stored: Option<&str>) -> Option<DocScope> {
    let text = stored?;
    match serde_json::from_str(text) {
        Ok(scope) => Some(scope),
        Err(e) => {
            tracing::warn!(scope = text, error = %e, "stored scope does not parse; only the office and auditors read the document");
            None
        }
    }
}
