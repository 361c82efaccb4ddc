//! Everything recorded about one person, for the office to answer their
//! request: the account and its devices, every check-in they made, the
//! shifts they were rostered with their sign-on and sign-off, the hazards
//! they reported or were assigned, the incidents they reported, the photos
//! they uploaded (by hash, size and time), and the audit entries they made or
//! that are about them — one zip with a manifest and SHA256SUMS.

use std::io::Write;

use fieldsync_proto::model::Role;
use serde::Serialize;

use super::ReportError;
use super::content::Audience;
use super::exports::{self, Filter, What};
use super::pack::{self, add, safe};
use crate::i18n::{Lang, Tr};
use crate::state::AppState;

/// `manifest.json` of a person's export.
#[derive(Serialize)]
struct Manifest<'a> {
    community: &'a str,
    user_id: &'a str,
    generated_at_ms: i64,
    files: &'a [pack::PackFile],
}

fn json_file(value: &impl Serialize) -> impl FnOnce(&mut dyn Write) -> anyhow::Result<()> + '_ {
    move |w| Ok(serde_json::to_writer_pretty(w, value)?)
}

/// The export of user `user_id`'s data; for the office only.
pub async fn download(
    app: &AppState,
    audience: &Audience,
    user_id: &str,
    now: i64,
) -> Result<axum::response::Response, ReportError> {
    if audience.reader.role != Role::Office {
        return Err(ReportError::Forbidden);
    }
    let store = &app.store;
    let community = audience.community.clone();
    let user = store
        .admin_user(&community, user_id)
        .await?
        .ok_or_else(|| ReportError::NoUser(user_id.to_owned()))?;
    let devices = store.admin_devices(&community, Some(user_id)).await?;
    let account = serde_json::json!({
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "team": user.team_id,
        "grids": serde_json::from_str::<serde_json::Value>(&user.grids).unwrap_or_default(),
        "disabled": user.disabled != 0,
        "devices": devices,
    });
    let attendance = store.person_attendance(&community, user_id).await?;
    let hazards = store.person_hazards(&community, user_id).await?;
    let incidents = store.person_incidents(&community, user_id).await?;
    let photos = store.person_photos(&community, user_id).await?;
    let audit = store.person_audit(&community, user_id).await?;
    let t = Tr { lang: Lang::ZhCn };
    let filter = Filter {
        from: Some("2000-01-01".into()),
        member: Some(user_id.to_owned()),
        ..Filter::default()
    };
    let (mut checkins, _) =
        exports::source(store, audience, What::Checkins, filter, t, now).await?;

    let handle = tokio::runtime::Handle::current();
    let uid = user_id.to_owned();
    let file = tokio::task::spawn_blocking(move || -> anyhow::Result<tempfile::NamedTempFile> {
        let (out, mut zip) = pack::create()?;
        let files = vec![
            add(&mut zip, "account.json", json_file(&account))?,
            add(&mut zip, "checkins.csv", |w| {
                exports::write_csv(&mut checkins, &handle, w)
            })?,
            add(&mut zip, "shifts.json", json_file(&attendance))?,
            add(&mut zip, "hazards.json", json_file(&hazards))?,
            add(&mut zip, "incidents.json", json_file(&incidents))?,
            add(&mut zip, "photos.json", json_file(&photos))?,
            add(&mut zip, "audit.json", json_file(&audit))?,
        ];
        let manifest = Manifest {
            community: &community,
            user_id: &uid,
            generated_at_ms: now,
            files: &files,
        };
        pack::finish(zip, &files, &serde_json::to_vec_pretty(&manifest)?)?;
        Ok(out)
    })
    .await
    .map_err(|e| ReportError::Pack(e.to_string()))?
    .map_err(|e| ReportError::Pack(format!("{e:#}")))?;
    pack::download(file, &format!("fieldsync-person-{}.zip", safe(user_id))).await
}
