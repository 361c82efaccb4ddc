//! The plan of the community as SVG, drawn from our own place geometry (the
//! posts' coordinates): a box per building around its stairwells, a dot per
//! stairwell, and the breadcrumbs of patrols that are out. No map tiles: the
//! office's network may have no internet.

use std::collections::BTreeMap;

use geo::{BoundingRect, Coord, MultiPoint, Point};

use crate::store::PostRow;

/// The box the drawing fits in, in SVG units (wider than tall, like the
/// panel it sits in); the community keeps its proportions inside it.
const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 560.0;
/// Room around the buildings, in SVG units.
const MARGIN: f64 = 40.0;
/// How far a building's box reaches past its outermost stairwell, in metres.
const BUILDING_PAD_M: f64 = 12.0;
const METRES_PER_DEGREE: f64 = 111_320.0;

/// A building's box.
pub struct BuildingBox {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// The building's number (`3` for 3栋).
    pub label: String,
}

/// A stairwell's dot.
pub struct Stairwell {
    pub x: f64,
    pub y: f64,
    /// Its post labels, for the tooltip.
    pub title: String,
}

/// The plan, ready for the template.
pub struct Plan {
    pub view_box: String,
    pub buildings: Vec<BuildingBox>,
    pub stairwells: Vec<Stairwell>,
    /// `points` attributes of the patrols' tracks.
    pub trails: Vec<String>,
}

impl Plan {
    /// Draws `posts` and the `trails` (each a list of (lat, lon)). A
    /// community without coordinates gets an empty plan.
    pub fn draw(posts: &[PostRow], trails: &[Vec<(f64, f64)>], zh: bool) -> Plan {
        let placed: Vec<(&PostRow, f64, f64)> = posts
            .iter()
            .filter_map(|p| Some((p, p.lat?, p.lon?)))
            .collect();
        let points: MultiPoint<f64> = placed
            .iter()
            .map(|(_, lat, lon)| Point::new(*lon, *lat))
            .chain(
                trails
                    .iter()
                    .flatten()
                    .map(|(lat, lon)| Point::new(*lon, *lat)),
            )
            .collect();
        let Some(bounds) = points.bounding_rect() else {
            return Plan {
                view_box: format!("0 0 {WIDTH} {HEIGHT}"),
                buildings: Vec::new(),
                stairwells: Vec::new(),
                trails: Vec::new(),
            };
        };
        let pad_deg = BUILDING_PAD_M / METRES_PER_DEGREE;
        let (min, max) = (bounds.min(), bounds.max());
        let mid_lat = (min.y + max.y) / 2.0;
        // Longitude degrees shrink with latitude: keep the plan's proportions.
        let x_scale = mid_lat.to_radians().cos();
        let span_x = ((max.x - min.x) * x_scale + 2.0 * pad_deg).max(1e-9);
        let span_y = (max.y - min.y + 2.0 * pad_deg).max(1e-9);
        let k = ((WIDTH - 2.0 * MARGIN) / span_x).min((HEIGHT - 2.0 * MARGIN) / span_y);
        let width = span_x * k + 2.0 * MARGIN;
        let height = span_y * k + 2.0 * MARGIN;
        let project = |c: Coord<f64>| {
            (
                MARGIN + ((c.x - min.x) * x_scale + pad_deg) * k,
                MARGIN + (max.y - c.y + pad_deg) * k,
            )
        };

        let mut by_building: BTreeMap<(u32, String), Vec<Coord<f64>>> = BTreeMap::new();
        let mut by_stairwell: BTreeMap<(String, String), (Coord<f64>, Vec<String>)> =
            BTreeMap::new();
        for (p, lat, lon) in &placed {
            let c = Coord { x: *lon, y: *lat };
            let building = p.building.clone().unwrap_or_default();
            let order = building.parse::<u32>().unwrap_or(u32::MAX);
            by_building
                .entry((order, building.clone()))
                .or_default()
                .push(c);
            let label = if zh { &p.label_zh } else { &p.label_en };
            by_stairwell
                .entry((building, p.unit.clone().unwrap_or_else(|| p.id.clone())))
                .or_insert_with(|| (c, Vec::new()))
                .1
                .push(label.clone());
        }
        let buildings = by_building
            .into_iter()
            .filter(|((_, b), _)| !b.is_empty())
            .filter_map(|((_, label), coords)| {
                let r = MultiPoint::from(coords.into_iter().map(Point::from).collect::<Vec<_>>())
                    .bounding_rect()?;
                let (x0, y0) = project(Coord {
                    x: r.min().x - pad_deg / x_scale,
                    y: r.max().y + pad_deg,
                });
                let (x1, y1) = project(Coord {
                    x: r.max().x + pad_deg / x_scale,
                    y: r.min().y - pad_deg,
                });
                Some(BuildingBox {
                    x: x0,
                    y: y0,
                    w: x1 - x0,
                    h: y1 - y0,
                    label,
                })
            })
            .collect();
        let stairwells = by_stairwell
            .into_values()
            .map(|(c, labels)| {
                let (x, y) = project(c);
                Stairwell {
                    x,
                    y,
                    title: labels.join(" / "),
                }
            })
            .collect();
        let trails = trails
            .iter()
            .filter(|t| t.len() > 1)
            .map(|t| {
                t.iter()
                    .map(|(lat, lon)| {
                        let (x, y) = project(Coord { x: *lon, y: *lat });
                        format!("{x:.1},{y:.1}")
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        Plan {
            view_box: format!("0 0 {width:.0} {height:.0}"),
            buildings,
            stairwells,
            trails,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(id: &str, building: &str, unit: &str, lat: f64, lon: f64) -> PostRow {
        PostRow {
            id: id.into(),
            label_zh: format!("{building}栋{unit}单元"),
            label_en: format!("Bldg {building} Unit {unit}"),
            building: Some(building.into()),
            unit: Some(unit.into()),
            floor: Some(5),
            lat: Some(lat),
            lon: Some(lon),
            radius_m: Some(40.0),
            grid_id: None,
        }
    }

    #[test]
    fn buildings_enclose_their_stairwells_and_north_is_up() {
        let posts = [
            post("a", "1", "1", 31.2004, 121.4003),
            post("b", "1", "2", 31.2004, 121.4006),
            post("c", "2", "1", 31.2008, 121.4003),
        ];
        let trail = vec![(31.2004, 121.4003), (31.2008, 121.4003)];
        let plan = Plan::draw(&posts, &[trail], true);
        assert_eq!(plan.buildings.len(), 2);
        assert_eq!(plan.stairwells.len(), 3);
        assert_eq!(plan.trails.len(), 1);
        let b1 = &plan.buildings[0];
        assert_eq!(b1.label, "1");
        for s in &plan.stairwells[..2] {
            assert!(s.x > b1.x && s.x < b1.x + b1.w && s.y > b1.y && s.y < b1.y + b1.h);
        }
        // Building 2 lies further north: higher up on the plan.
        assert!(plan.buildings[1].y < b1.y);
        for b in &plan.buildings {
            assert!(b.x >= 0.0 && b.x + b.w <= WIDTH, "inside the drawing");
            assert!(b.y >= 0.0 && b.y + b.h <= HEIGHT, "inside the drawing");
        }
    }

    #[test]
    fn a_community_without_coordinates_draws_nothing() {
        let mut p = post("a", "1", "1", 0.0, 0.0);
        p.lat = None;
        let plan = Plan::draw(&[p], &[], false);
        assert!(plan.buildings.is_empty() && plan.stairwells.is_empty());
    }
}
