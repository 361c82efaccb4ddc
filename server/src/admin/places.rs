//! The places tree the office reads: grids, buildings and stairwells,
//! derived from the posts (there are no rows of their own).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::store::PostRow;

/// A stairwell (单元) and its posts, lowest floor first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UnitNode {
    pub unit: String,
    pub posts: Vec<PostRow>,
}

/// A building and its stairwells.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BuildingNode {
    pub building: String,
    pub units: Vec<UnitNode>,
}

/// A grid: its buildings, and posts outside any building (gate, bike shed).
#[derive(Serialize, utoipa::ToSchema)]
pub struct GridNode {
    /// `null` for posts in no grid.
    pub grid_id: Option<String>,
    pub buildings: Vec<BuildingNode>,
    pub free_standing: Vec<PostRow>,
}

/// The places tree: grid → building → stairwell → posts (by floor).
pub fn places_tree(posts: Vec<PostRow>) -> Vec<GridNode> {
    /// A grid's buildings (stairwells, posts) and its free-standing posts.
    type Grid = (
        BTreeMap<String, BTreeMap<String, Vec<PostRow>>>,
        Vec<PostRow>,
    );
    let mut grids: BTreeMap<Option<String>, Grid> = BTreeMap::new();
    for p in posts {
        let grid = grids.entry(p.grid_id.clone()).or_default();
        match p.building.clone() {
            Some(b) => grid
                .0
                .entry(b)
                .or_default()
                .entry(p.unit.clone().unwrap_or_default())
                .or_default()
                .push(p),
            None => grid.1.push(p),
        }
    }
    grids
        .into_iter()
        .map(|(grid_id, (buildings, free_standing))| GridNode {
            grid_id,
            buildings: buildings
                .into_iter()
                .map(|(building, units)| BuildingNode {
                    building,
                    units: units
                        .into_iter()
                        .map(|(unit, mut posts)| {
                            posts.sort_by_key(|p| p.floor);
                            UnitNode { unit, posts }
                        })
                        .collect(),
                })
                .collect(),
            free_standing,
        })
        .collect()
}
