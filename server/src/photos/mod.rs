//! The photo endpoints (docs/storage.md): resumable uploads over tus 1.0.0,
//! turning a complete upload into a blob (`crate::blobs` checks, re-encodes
//! and stores it), signed links and metadata, who may view a photo, and the
//! expiry of abandoned uploads.
//!
//! # Invariants
//! - An upload is visible only to the user and device that created it.
//! - Blob rows are per community: a community reads only blobs it holds.

mod access;
mod expiry;
mod ingest;
pub(crate) mod serve;
pub mod tus;

use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;

pub use access::may_read_blob;
pub use expiry::spawn_expiry;

use crate::state::AppState;

/// Largest body of the photo routes other than a PATCH (they carry none).
const SMALL_BODY_LIMIT: usize = 64 << 10;

/// The photo routes. PATCH carries up to `max_upload` bytes; every other
/// photo route at most 64 KiB (they carry no body).
pub fn routes(max_upload: usize) -> crate::http::Routes<AppState> {
    use axum::http::Method as M;
    let small = |m: axum::routing::MethodRouter<AppState>| {
        m.layer(RequestBodyLimitLayer::new(SMALL_BODY_LIMIT))
    };
    // The tus protocol's checks on the upload routes' own methods only: a
    // method they do not serve is a plain 405, an unknown path a plain 404.
    let tus = |limit: usize| {
        move |m: axum::routing::MethodRouter<AppState>| {
            m.layer(RequestBodyLimitLayer::new(limit))
                .route_layer(axum::middleware::from_fn(tus::protocol))
        }
    };
    let (tus_small, tus_big) = (tus(SMALL_BODY_LIMIT), tus(max_upload));
    crate::http::Routes::default()
        .add_with(M::POST, "/api/v1/uploads", tus::create, tus_small)
        .add_with(M::OPTIONS, "/api/v1/uploads", tus::options, tus_small)
        .add_with(M::HEAD, "/api/v1/uploads/{id}", tus::status, tus_small)
        .add_with(M::DELETE, "/api/v1/uploads/{id}", tus::terminate, tus_small)
        .add_with(
            M::OPTIONS,
            "/api/v1/uploads/{id}",
            tus::options_upload,
            tus_small,
        )
        .add_with(M::PATCH, "/api/v1/uploads/{id}", tus::append, tus_big)
        .add_with(M::GET, "/api/v1/blobs/{hash}", serve::read, small)
        .add_with(M::GET, "/api/v1/blobs/{hash}/url", serve::signed_url, small)
        .add_with(M::GET, "/api/v1/blobs/{hash}/meta", serve::metadata, small)
}

/// The photo routes with their state.
pub fn router(state: AppState) -> Router {
    let max_upload = usize::try_from(state.photos.config().max_upload_bytes).unwrap_or(usize::MAX);
    routes(max_upload).into_router().with_state(state)
}
