//! How the dashboard writes times and places: wall-clock time in the
//! community's time zone, posts as people say them ("3栋2单元 9F").

use fieldsync_proto::model::duty::{self, DEFAULT_TIME_ZONE};
use fieldsync_proto::model::hazard::HazardPlace;

use crate::store::PostRow;

/// The community's time zone.
pub fn time_zone() -> jiff::tz::TimeZone {
    duty::time_zone(DEFAULT_TIME_ZONE).unwrap_or(jiff::tz::TimeZone::UTC)
}

fn local(ms: i64, pattern: &str) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(time_zone()).strftime(pattern).to_string())
        .unwrap_or_default()
}

/// Local wall-clock time of `ms`, `HH:MM`.
pub fn local_hm(ms: i64) -> String {
    local(ms, "%H:%M")
}

/// Local day and time of `ms` to the second, `MM-DD HH:MM:SS`: device and
/// receive times of a check-in are compared to the second.
pub fn local_day_hms(ms: i64) -> String {
    local(ms, "%m-%d %H:%M:%S")
}

/// Local day and time of `ms`, `MM-DD HH:MM`.
pub fn local_day_hm(ms: i64) -> String {
    local(ms, "%m-%d %H:%M")
}

/// Local date and time of `ms`, `YYYY-MM-DD HH:MM`.
pub fn local_date_time(ms: i64) -> String {
    local(ms, "%Y-%m-%d %H:%M")
}

/// Local date and time of `ms` to the second, `YYYY-MM-DD HH:MM:SS`: what
/// reports and exports print.
pub fn local_date_time_s(ms: i64) -> String {
    local(ms, "%Y-%m-%d %H:%M:%S")
}

/// Local date of `ms`, `YYYY-MM-DD`.
pub fn local_date(ms: i64) -> String {
    local(ms, "%Y-%m-%d")
}

/// A post's label in the page's language.
pub fn post_label(post: &PostRow, zh: bool) -> String {
    if zh {
        post.label_zh.clone()
    } else {
        post.label_en.clone()
    }
}

/// The label of post `id` among `posts`; the id itself for a post that is
/// gone.
pub fn post_label_of(posts: &[PostRow], id: &str, zh: bool) -> String {
    posts
        .iter()
        .find(|p| p.id == id)
        .map_or_else(|| id.to_owned(), |p| post_label(p, zh))
}

/// `path?k=v&…`, the values percent-encoded.
pub fn link(path: &str, pairs: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// Where a hazard or incident is: its post's label, else the building,
/// stairwell and floor it names, else nothing.
pub fn place_label(place: &HazardPlace, posts: &[PostRow], zh: bool) -> Option<String> {
    if let Some(id) = &place.post_id {
        return Some(post_label_of(posts, id, zh));
    }
    let building = place.building.as_deref()?;
    let mut out = if zh {
        format!("{building}栋")
    } else {
        format!("Bldg {building}")
    };
    if let Some(unit) = &place.unit {
        out.push_str(&if zh {
            format!("{unit}单元")
        } else {
            format!(" Unit {unit}")
        });
    }
    if let Some(floor) = place.floor {
        out.push_str(&format!(" {floor}F"));
    }
    Some(out)
}
