//! Breadcrumbs (docs/patrols.md): GPS points sampled while a patrol is open,
//! thousands per night. They are stored compactly in the patrol document as
//! an append-only list of chunks, each chunk one string:
//! `b1.` + base64url of zig-zag varints — the first point absolute, the rest
//! as deltas — of (seconds, lat × 10⁶, lon × 10⁶, accuracy in metres). A
//! point costs about 6 bytes, and a night of points every 30 s about 10 KB.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

const PREFIX: &str = "b1.";
/// Most points in one chunk.
pub const MAX_POINTS: usize = 500;

/// One sampled position.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Breadcrumb {
    /// Device time, ms since the Unix epoch (kept to the second).
    pub at_ms: i64,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
}

/// Why a chunk does not decode. Stable codes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BreadcrumbError {
    #[error("a breadcrumb chunk must start with {PREFIX}")]
    Prefix,
    #[error("breadcrumb chunk is not valid base64url")]
    Base64,
    #[error("breadcrumb chunk is truncated or malformed")]
    Malformed,
    #[error("a breadcrumb chunk holds 1 to {MAX_POINTS} points, not {0}")]
    Count(usize),
    #[error("breadcrumb outside the range of coordinates")]
    Range,
}

impl BreadcrumbError {
    pub fn code(&self) -> &'static str {
        match self {
            BreadcrumbError::Prefix | BreadcrumbError::Base64 | BreadcrumbError::Malformed => {
                "invalid_breadcrumbs"
            }
            BreadcrumbError::Count(_) => "too_many_breadcrumbs",
            BreadcrumbError::Range => "breadcrumb_out_of_range",
        }
    }
}

fn put(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn get(bytes: &mut &[u8]) -> Result<i64, BreadcrumbError> {
    let mut z: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first().ok_or(BreadcrumbError::Malformed)?;
        *bytes = rest;
        z |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(((z >> 1) as i64) ^ -((z & 1) as i64));
        }
    }
    Err(BreadcrumbError::Malformed)
}

fn fixed(p: &Breadcrumb) -> [i64; 4] {
    [
        p.at_ms / 1000,
        (p.lat * 1e6).round() as i64,
        (p.lon * 1e6).round() as i64,
        p.accuracy_m.round().max(0.0) as i64,
    ]
}

/// Encodes 1 to [`MAX_POINTS`] points as one chunk.
pub fn encode(points: &[Breadcrumb]) -> Result<String, BreadcrumbError> {
    if points.is_empty() || points.len() > MAX_POINTS {
        return Err(BreadcrumbError::Count(points.len()));
    }
    let mut out = Vec::with_capacity(points.len() * 7);
    let mut last = [0i64; 4];
    for p in points {
        if !(-90.0..=90.0).contains(&p.lat) || !(-180.0..=180.0).contains(&p.lon) {
            return Err(BreadcrumbError::Range);
        }
        let now = fixed(p);
        for i in 0..4 {
            put(&mut out, now[i] - last[i]);
        }
        last = now;
    }
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
}

/// Decodes one chunk.
pub fn decode(chunk: &str) -> Result<Vec<Breadcrumb>, BreadcrumbError> {
    let body = chunk.strip_prefix(PREFIX).ok_or(BreadcrumbError::Prefix)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| BreadcrumbError::Base64)?;
    let mut rest = bytes.as_slice();
    let mut last = [0i64; 4];
    let mut points = Vec::new();
    while !rest.is_empty() {
        if points.len() == MAX_POINTS {
            return Err(BreadcrumbError::Count(MAX_POINTS + 1));
        }
        for v in &mut last {
            *v = v
                .checked_add(get(&mut rest)?)
                .ok_or(BreadcrumbError::Malformed)?;
        }
        let p = Breadcrumb {
            at_ms: last[0].saturating_mul(1000),
            lat: last[1] as f64 / 1e6,
            lon: last[2] as f64 / 1e6,
            accuracy_m: last[3] as f64,
        };
        if !(-90.0..=90.0).contains(&p.lat) || !(-180.0..=180.0).contains(&p.lon) {
            return Err(BreadcrumbError::Range);
        }
        points.push(p);
    }
    if points.is_empty() {
        return Err(BreadcrumbError::Count(0));
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn walk(n: usize) -> Vec<Breadcrumb> {
        (0..n)
            .map(|i| Breadcrumb {
                at_ms: 1_800_000_000_000 + i as i64 * 30_000,
                lat: 31.2000 + i as f64 * 0.00002,
                lon: 121.4000 - i as f64 * 0.00001,
                accuracy_m: 8.0,
            })
            .collect()
    }

    #[test]
    fn a_night_of_points_is_small() {
        // Ten hours, one point every 30 s.
        let night = walk(1200);
        let chunks: Vec<String> = night
            .chunks(MAX_POINTS)
            .map(|c| encode(c).unwrap())
            .collect();
        let bytes: usize = chunks.iter().map(String::len).sum();
        assert!(bytes < 12_000, "{bytes} bytes for 1,200 points");
        let back: Vec<Breadcrumb> = chunks.iter().flat_map(|c| decode(c).unwrap()).collect();
        assert_eq!(back.len(), 1200);
        assert!((back[700].lat - night[700].lat).abs() < 1e-6);
        assert_eq!(back[700].at_ms, night[700].at_ms);
    }

    #[test]
    fn bad_chunks_are_refused_with_codes() {
        assert_eq!(decode("x1.AAAA").unwrap_err().code(), "invalid_breadcrumbs");
        assert_eq!(decode("b1.!!!").unwrap_err().code(), "invalid_breadcrumbs");
        assert_eq!(decode("b1.gA").unwrap_err().code(), "invalid_breadcrumbs");
        assert_eq!(decode("b1.").unwrap_err().code(), "too_many_breadcrumbs");
        assert_eq!(
            encode(&walk(MAX_POINTS + 1)).unwrap_err().code(),
            "too_many_breadcrumbs"
        );
        let mut far = walk(1);
        far[0].lat = 91.0;
        assert_eq!(encode(&far).unwrap_err().code(), "breadcrumb_out_of_range");
    }

    proptest! {
        #[test]
        fn chunks_round_trip(points in prop::collection::vec(
            (1_600_000_000i64..2_000_000_000, -90.0f64..90.0, -180.0f64..180.0, 0.0f64..500.0), 1..50)
        ) {
            let points: Vec<Breadcrumb> = points.into_iter().map(|(s, lat, lon, acc)| Breadcrumb {
                at_ms: s * 1000, lat, lon, accuracy_m: acc.round(),
            }).collect();
            let back = decode(&encode(&points).unwrap()).unwrap();
            prop_assert_eq!(back.len(), points.len());
            for (a, b) in back.iter().zip(&points) {
                prop_assert_eq!(a.at_ms, b.at_ms);
                prop_assert!((a.lat - b.lat).abs() <= 5e-7);
                prop_assert!((a.lon - b.lon).abs() <= 5e-7);
            }
        }
    }
}
