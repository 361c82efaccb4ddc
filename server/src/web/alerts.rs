//! Acknowledging an alert from the dashboard: an entry appended to the alert
//! document as the signed-in user, which the alert's rules allow only for
//! those it is addressed to.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::WebError;
use super::session::Viewer;
use super::sign_in::CsrfOnly;
use crate::state::AppState;

/// `POST /alerts/{id}/ack`.
pub async fn acknowledge(
    State(app): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    viewer.check_csrf(&form.csrf)?;
    super::write::acknowledge_alert(&app, &viewer, &id).await?;
    Ok(Redirect::to("/").into_response())
}
