//! Places and posts: the tree of grids, buildings and stairwells derived
//! from the posts, stairwells with their default posts, free-standing posts.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use fieldsync_proto::model::duty::RouteDoc;
use fieldsync_proto::model::places::Stairwell;
use serde::{Deserialize, Serialize};
use serde_json::json;

use fieldsync_proto::openapi::number_schema;
use fieldsync_proto::schema_rule;

use super::{Office, Reader, audit, check_id, check_text, nullable};
pub use crate::admin::places::{GridNode, places_tree};
use crate::admin::{Id, Text};
use crate::clock::now_ms;
use crate::http::ErrorBody;
use crate::http::{ApiError, JsonBody, PathParams};
use crate::state::AppState;
use crate::store::PostRow;

/// `GET /api/v1/admin/places`: the community's places as a tree.
#[utoipa::path(get, path = "/api/v1/admin/places", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "Grids with their buildings, stairwells and posts", body = [GridNode])))]
pub async fn tree(
    State(app): State<AppState>,
    Reader(claims): Reader,
) -> Result<Json<Vec<GridNode>>, ApiError> {
    Ok(Json(places_tree(app.store.posts(&claims.com, None).await?)))
}

/// Where a post is: a coordinate and the radius a check-in's GPS fix must
/// fall within.
#[derive(Clone, Copy, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct Spot {
    /// Given with `lon`, or neither.
    #[serde(default)]
    #[schema(value_type = Option<Latitude>)]
    lat: Option<f64>,
    #[serde(default)]
    #[schema(value_type = Option<Longitude>)]
    lon: Option<f64>,
    #[serde(default)]
    #[schema(value_type = Option<Radius>)]
    radius_m: Option<f64>,
}

/// Degrees north; degrees east; metres around the coordinate.
const LAT: (f64, f64) = (-90.0, 90.0);
const LON: (f64, f64) = (-180.0, 180.0);
const RADIUS_M: (f64, f64) = (1.0, 5000.0);

impl Spot {
    fn check(&self) -> Result<(), ApiError> {
        if self.lat.is_some() != self.lon.is_some() {
            return Err(ApiError::unprocessable(
                "invalid_coordinate",
                "give both lat and lon, or neither",
            ));
        }
        for (name, value, (min, max)) in [
            ("lat", self.lat, LAT),
            ("lon", self.lon, LON),
            ("radius_m", self.radius_m, RADIUS_M),
        ] {
            if value.is_some_and(|v| !(min..=max).contains(&v)) {
                return Err(ApiError::bad_request(
                    "invalid_coordinate",
                    format!("{name} must be within {min}..{max}"),
                ));
            }
        }
        Ok(())
    }
}

schema_rule!(
    /// The latitude `Spot::check` accepts.
    Latitude => number_schema("Latitude, degrees north", LAT)
);
schema_rule!(
    /// The longitude `Spot::check` accepts.
    Longitude => number_schema("Longitude, degrees east", LON)
);
schema_rule!(
    /// The radius `Spot::check` accepts.
    Radius => number_schema("Radius in metres: a check-in's GPS fix within it counts", RADIUS_M)
);

/// A new stairwell (单元) of a building.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub struct NewStairwell {
    /// Building number as people say it ("3" in 3栋).
    #[schema(value_type = Id)]
    building: String,
    /// Stairwell number ("2" in 2单元).
    #[schema(value_type = Id)]
    unit: String,
    /// Floors above ground.
    #[schema(minimum = 1, maximum = 200)]
    floors: u16,
    /// Floors with a post; default 5 and 9 where the building has them.
    #[serde(default)]
    post_floors: Option<Vec<u16>>,
    #[serde(default)]
    #[schema(value_type = Option<Id>)]
    grid_id: Option<String>,
    #[serde(flatten)]
    spot: Spot,
}

/// `POST /api/v1/admin/stairwells`: a stairwell and its posts (floors 5
/// and 9 unless `post_floors` says otherwise), labelled "3栋2单元 9F".
#[utoipa::path(post, path = "/api/v1/admin/stairwells", tag = "admin", security(("bearer" = [])),
    request_body = NewStairwell,
    responses(
        (status = 201, description = "The stairwell's posts", body = [PostRow]),
        (status = 400, description = "Invalid building, unit or grid (`invalid_id`), floors (`invalid_floors`) or coordinate (`invalid_coordinate`)", body = ErrorBody),
        (status = 409, description = "One of its posts exists (`post_exists`)", body = ErrorBody),
        (status = 422, description = "`lat` without `lon` or the other way round (`invalid_coordinate`), or none of the post floors is in the building (`no_post_floors`)", body = ErrorBody)))]
pub async fn create_stairwell(
    State(app): State<AppState>,
    Office(claims): Office,
    JsonBody(req): JsonBody<NewStairwell>,
) -> Result<(StatusCode, Json<Vec<PostRow>>), ApiError> {
    check_id("building", &req.building)?;
    check_id("unit", &req.unit)?;
    if let Some(g) = &req.grid_id {
        check_id("grid_id", g)?;
    }
    req.spot.check()?;
    if !(1..=200).contains(&req.floors) {
        return Err(ApiError::bad_request(
            "invalid_floors",
            "floors must be within 1..200",
        ));
    }
    let stairwell = Stairwell {
        building: req.building.clone(),
        unit: req.unit.clone(),
        floors: req.floors,
        post_floors: req.post_floors.clone(),
    };
    let posts: Vec<PostRow> = stairwell
        .posts()
        .into_iter()
        .map(|p| {
            PostRow::of_stairwell(
                p,
                req.spot.lat,
                req.spot.lon,
                req.spot.radius_m,
                req.grid_id.clone(),
            )
        })
        .collect();
    if posts.is_empty() {
        return Err(ApiError::unprocessable(
            "no_post_floors",
            format!(
                "a {}-storey stairwell has none of the floors {:?}; give post_floors",
                req.floors,
                stairwell
                    .post_floors
                    .unwrap_or_else(|| fieldsync_proto::model::places::DEFAULT_POST_FLOORS.to_vec())
            ),
        ));
    }
    let subject = format!("b{}-u{}", req.building, req.unit);
    let entry = audit(&claims, "stairwell.create", &subject, json!(&req));
    if !app
        .store
        .admin_create_posts(&claims.com, &posts, now_ms(), &entry)
        .await?
    {
        return Err(ApiError::conflict(
            "post_exists",
            format!(
                "building {} unit {} already has posts",
                req.building, req.unit
            ),
        ));
    }
    Ok((StatusCode::CREATED, Json(posts)))
}

/// A free-standing post (gate, bike shed, car park).
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub struct NewPost {
    /// Stable id, printed in the tag.
    #[schema(value_type = Id)]
    id: String,
    #[schema(value_type = Text)]
    label_zh: String,
    #[schema(value_type = Text)]
    label_en: String,
    #[schema(value_type = Latitude)]
    lat: f64,
    #[schema(value_type = Longitude)]
    lon: f64,
    #[schema(value_type = Radius)]
    radius_m: f64,
    #[serde(default)]
    #[schema(value_type = Option<Id>)]
    grid_id: Option<String>,
}

/// `POST /api/v1/admin/posts`: a free-standing post with a coordinate.
#[utoipa::path(post, path = "/api/v1/admin/posts", tag = "admin", security(("bearer" = [])),
    request_body = NewPost,
    responses(
        (status = 201, description = "Created", body = PostRow),
        (status = 400, description = "Invalid id or grid (`invalid_id`), label (`invalid_request`) or coordinate (`invalid_coordinate`)", body = ErrorBody),
        (status = 409, description = "A post with this id exists (`post_exists`)", body = ErrorBody)))]
pub async fn create_post(
    State(app): State<AppState>,
    Office(claims): Office,
    JsonBody(req): JsonBody<NewPost>,
) -> Result<(StatusCode, Json<PostRow>), ApiError> {
    let post = PostRow {
        id: req.id.clone(),
        label_zh: req.label_zh.clone(),
        label_en: req.label_en.clone(),
        building: None,
        unit: None,
        floor: None,
        lat: Some(req.lat),
        lon: Some(req.lon),
        radius_m: Some(req.radius_m),
        grid_id: req.grid_id.clone(),
    };
    check_post(&post)?;
    let entry = audit(&claims, "post.create", &post.id, json!(&req));
    if !app
        .store
        .admin_create_posts(&claims.com, std::slice::from_ref(&post), now_ms(), &entry)
        .await?
    {
        return Err(ApiError::conflict(
            "post_exists",
            format!("post {:?} exists", post.id),
        ));
    }
    Ok((StatusCode::CREATED, Json(post)))
}

fn check_post(p: &PostRow) -> Result<(), ApiError> {
    check_id("id", &p.id)?;
    check_text("label_zh", &p.label_zh)?;
    check_text("label_en", &p.label_en)?;
    if let Some(g) = &p.grid_id {
        check_id("grid_id", g)?;
    }
    Spot {
        lat: p.lat,
        lon: p.lon,
        radius_m: p.radius_m,
    }
    .check()
}

/// Changes to a post; absent fields stay as they are. The id never changes.
#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub struct PostChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Text>)]
    label_zh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Text>)]
    label_en: Option<String>,
    /// Given with `lon`, unless the post has a coordinate already.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Latitude>)]
    lat: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Longitude>)]
    lon: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Radius>)]
    radius_m: Option<f64>,
    /// `null` takes the post out of any grid.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Id>)]
    grid_id: Option<Option<String>>,
}

fn post_not_found() -> ApiError {
    ApiError::not_found("not_found", "no such post in your community")
}

/// `PATCH /api/v1/admin/posts/{id}`: labels, coordinate, radius, grid.
#[utoipa::path(patch, path = "/api/v1/admin/posts/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Post id")),
    request_body = PostChange,
    responses(
        (status = 200, description = "The post as stored", body = PostRow),
        (status = 400, description = "Invalid grid (`invalid_id`), label (`invalid_request`) or coordinate (`invalid_coordinate`)", body = ErrorBody),
        (status = 404, description = "No such post in your community", body = ErrorBody),
        (status = 422, description = "The post would have `lat` without `lon` or the other way round (`invalid_coordinate`)", body = ErrorBody)))]
pub async fn update_post(
    State(app): State<AppState>,
    Office(claims): Office,
    PathParams(id): PathParams<String>,
    JsonBody(change): JsonBody<PostChange>,
) -> Result<Json<PostRow>, ApiError> {
    let mut post = app
        .store
        .post(&claims.com, &id)
        .await?
        .ok_or_else(post_not_found)?;
    post.label_zh = change.label_zh.clone().unwrap_or(post.label_zh);
    post.label_en = change.label_en.clone().unwrap_or(post.label_en);
    post.lat = change.lat.or(post.lat);
    post.lon = change.lon.or(post.lon);
    post.radius_m = change.radius_m.or(post.radius_m);
    post.grid_id = change.grid_id.clone().unwrap_or(post.grid_id);
    check_post(&post)?;
    let entry = audit(
        &claims,
        "post.update",
        &post.id,
        serde_json::to_value(&change).map_err(ApiError::internal)?,
    );
    if !app
        .store
        .admin_update_post(&claims.com, &post, &entry)
        .await?
    {
        return Err(post_not_found());
    }
    Ok(Json(post))
}

/// `DELETE /api/v1/admin/posts/{id}`: only a post no route names.
#[utoipa::path(delete, path = "/api/v1/admin/posts/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Post id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such post in your community", body = ErrorBody),
        (status = 409, description = "A route names the post", body = ErrorBody)))]
pub async fn delete_post(
    State(app): State<AppState>,
    Office(claims): Office,
    PathParams(id): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    app.store
        .post(&claims.com, &id)
        .await?
        .ok_or_else(post_not_found)?;
    let routes: Vec<String> = app
        .store
        .routes(&claims.com)
        .await?
        .into_iter()
        .filter(|r| {
            serde_json::from_str::<RouteDoc>(&r.body)
                .ok()
                .is_none_or(|doc| doc.posts.contains(&id))
        })
        .map(|r| r.doc_id)
        .collect();
    if !routes.is_empty() {
        return Err(ApiError::conflict(
            "post_in_use",
            format!("routes {routes:?} name this post; change them first"),
        ));
    }
    let entry = audit(&claims, "post.delete", &id, json!({}));
    if !app
        .store
        .admin_delete_post(&claims.com, &id, &entry)
        .await?
    {
        return Err(post_not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}
