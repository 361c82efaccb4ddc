//! Who and which team an id is, by the names people know them by.

use std::collections::HashMap;

use crate::store::{Store, StoreError};

/// The people and teams of the community by id, for naming them.
pub struct Names {
    users: HashMap<String, String>,
    teams: HashMap<String, String>,
}

impl Names {
    pub async fn load(store: &Store, community: &str) -> Result<Names, StoreError> {
        let users = store
            .admin_users(community)
            .await?
            .into_iter()
            .map(|u| (u.id, u.display_name))
            .collect();
        let teams = store
            .teams(community)
            .await?
            .into_iter()
            .map(|(id, name, _)| (id, name))
            .collect();
        Ok(Names { users, teams })
    }

    pub fn user(&self, id: &str) -> String {
        self.users.get(id).cloned().unwrap_or_else(|| id.to_owned())
    }

    pub fn team(&self, id: &str) -> String {
        self.teams.get(id).cloned().unwrap_or_else(|| id.to_owned())
    }
}
