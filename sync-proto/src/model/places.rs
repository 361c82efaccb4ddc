//! Places and posts (docs/places.md): community → grid → building → stairwell
//! (单元) → floor, and the posts where check-ins are expected.

use serde::{Deserialize, Serialize};

/// Floors that get a post in every stairwell unless configured otherwise.
pub const DEFAULT_POST_FLOORS: [u16; 2] = [5, 9];

/// One stairwell (单元) of a building.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stairwell {
    /// Building number as people say it ("3" in 3栋).
    pub building: String,
    /// Stairwell number ("2" in 2单元).
    pub unit: String,
    /// Floors above ground.
    pub floors: u16,
    /// Floors with a post; `None` means [`DEFAULT_POST_FLOORS`] that exist.
    #[serde(default)]
    pub post_floors: Option<Vec<u16>>,
}

/// A place where a check-in is expected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// Stable id, also printed in the tag: `post-b<building>-u<unit>-f<floor>`.
    pub id: String,
    pub label_zh: String,
    pub label_en: String,
    pub building: String,
    pub unit: String,
    pub floor: u16,
}

impl Stairwell {
    /// The floors that carry a post: the configured ones, or floors 5 and 9
    /// where the building is tall enough (a 6-storey block gets only 5).
    pub fn post_floors(&self) -> Vec<u16> {
        let wanted = self
            .post_floors
            .clone()
            .unwrap_or_else(|| DEFAULT_POST_FLOORS.to_vec());
        wanted
            .into_iter()
            .filter(|f| (1..=self.floors).contains(f))
            .collect()
    }

    /// The stairwell's posts, labelled the way the printed tags read.
    pub fn posts(&self) -> Vec<Post> {
        self.post_floors()
            .into_iter()
            .map(|floor| Post {
                id: format!("post-b{}-u{}-f{floor}", self.building, self.unit),
                label_zh: format!("{}栋{}单元 {floor}F", self.building, self.unit),
                label_en: format!("Bldg {} Unit {} · {floor}F", self.building, self.unit),
                building: self.building.clone(),
                unit: self.unit.clone(),
                floor,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stairwell(floors: u16, post_floors: Option<Vec<u16>>) -> Stairwell {
        Stairwell {
            building: "3".into(),
            unit: "2".into(),
            floors,
            post_floors,
        }
    }

    #[test]
    fn every_stairwell_gets_posts_on_floors_5_and_9() {
        let posts = stairwell(11, None).posts();
        assert_eq!(posts.len(), 2);
        assert_eq!(posts[1].id, "post-b3-u2-f9");
        assert_eq!(posts[1].label_zh, "3栋2单元 9F");
        assert_eq!(posts[1].label_en, "Bldg 3 Unit 2 · 9F");
        assert_eq!(posts[0].floor, 5);
    }

    #[test]
    fn low_buildings_and_configured_floors() {
        assert_eq!(stairwell(6, None).post_floors(), vec![5]);
        assert_eq!(stairwell(4, None).post_floors(), Vec::<u16>::new());
        assert_eq!(
            stairwell(18, Some(vec![3, 9, 15])).post_floors(),
            vec![3, 9, 15]
        );
        assert_eq!(
            stairwell(6, Some(vec![0, 7])).post_floors(),
            Vec::<u16>::new()
        );
    }
}
