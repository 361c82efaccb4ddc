//! Patrols and check-ins across real devices and a real server.

use fieldsync_proto::model::{breadcrumbs, validate};
use fieldsync_sdk::{DocId, Proof};

use crate::both_backends;
use crate::support::{Backend, TestServer, edit_first_entry};

const POST: &str = "post-b3-u2-f9";

async fn stored_checkins(server: &TestServer, id: &DocId) -> usize {
    validate::read_patrol(&server.stored_doc(id).await)
        .unwrap()
        .checkins
        .len()
}

async fn both_offline_check_ins_survive(backend: Backend) {
    let server = TestServer::start(backend).await;
    let a = server.device("demo-volunteer").await;
    let b = server.device("demo-volunteer-2").await;
    let patrol = a.client.start_patrol("team-1", "route-stairwells").unwrap();
    a.client.sync_now().await.unwrap();
    b.client.sync_now().await.unwrap();

    // Both phones offline in the same stairwell, both check in at 9F.
    a.client
        .check_in(&patrol, POST, None, "tag torn off", None, "")
        .unwrap();
    b.client
        .check_in(
            &patrol,
            POST,
            None,
            "QR code unreadable in the dark",
            None,
            "",
        )
        .unwrap();
    a.client.sync_now().await.unwrap();
    b.client.sync_now().await.unwrap();
    a.client.sync_now().await.unwrap();

    for d in [&a, &b] {
        let p = d.client.patrol(&patrol).unwrap();
        assert_eq!(p.checkins.len(), 2, "both check-ins kept");
        assert!(p.checkins.iter().all(|c| c.post_id == POST));
        let reasons: Vec<_> = p
            .checkins
            .iter()
            .map(|c| match &c.proof {
                Proof::Manual { reason } => reason.as_str(),
                Proof::Tag { .. } => "",
            })
            .collect();
        assert!(reasons.contains(&"tag torn off"), "{reasons:?}");
    }
    assert_eq!(stored_checkins(&server, &patrol).await, 2);
    server.stop().await;
}
both_backends!(
    two_offline_check_ins_at_one_post_both_survive,
    both_offline_check_ins_survive
);

async fn editing_a_check_in(backend: Backend) {
    let server = TestServer::start(backend).await;
    let a = server.device("demo-volunteer").await;
    let patrol = a.client.start_patrol("team-1", "route-stairwells").unwrap();
    a.client
        .check_in(&patrol, POST, None, "tag missing", None, "")
        .unwrap();
    a.client.sync_now().await.unwrap();
    // Move the check-in to another floor afterwards.
    edit_first_entry(&a.client, &patrol, "checkins", "post_id", "post-b3-u2-f5");
    let report = a.client.sync_now().await.unwrap();
    assert_eq!(report.rejected, 1);
    let q = a.client.quarantined().unwrap();
    assert!(
        q[0].message.contains("checkin_rewritten"),
        "{}",
        q[0].message
    );
    assert_eq!(q[0].code, "schema_violation");
    let p = a.client.patrol(&patrol).unwrap();
    assert_eq!(
        p.checkins[0].post_id, POST,
        "the device shows the accepted check-in"
    );
    assert_eq!(stored_checkins(&server, &patrol).await, 1);

    // A malformed tag is refused on the phone, before anything is stored.
    let err = a
        .client
        .check_in(
            &patrol,
            POST,
            Some("https://example.org/not-a-tag"),
            "",
            None,
            "",
        )
        .unwrap_err();
    assert!(err.to_string().contains("not_a_tag"), "{err}");
    assert_eq!(a.client.pending_changes().unwrap(), 0);
    server.stop().await;
}
both_backends!(editing_a_check_in_is_rejected, editing_a_check_in);

/// A patrol through the FFI surface the apps use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patrols_through_the_ffi_surface() {
    use fieldsync_ffi::{FieldsyncError, GpsFix};
    let server = TestServer::start(Backend::Sqlite).await;
    let (phone, _dir) = server.ffi_phone("demo-guard").await;
    let patrol = phone
        .start_patrol("team-2".into(), "route-gates".into())
        .await
        .unwrap();
    let fix = GpsFix {
        lat: 31.2304,
        lon: 121.4737,
        accuracy_m: 12.0,
    };
    phone
        .check_in(
            patrol.clone(),
            POST.into(),
            None,
            "sticker peeled off".into(),
            Some(fix),
            String::new(),
        )
        .await
        .unwrap();
    let err = phone
        .check_in(
            patrol.clone(),
            POST.into(),
            Some("garbage".into()),
            String::new(),
            None,
            String::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, FieldsyncError::InvalidInput { .. }),
        "{err:?}"
    );
    phone.end_patrol(patrol.clone()).await.unwrap();
    phone.sync_now().await.unwrap();

    let summary = phone.patrol(patrol.clone()).await.unwrap();
    assert_eq!(summary.checkins.len(), 1);
    assert_eq!(
        summary.checkins[0].manual_reason.as_deref(),
        Some("sticker peeled off")
    );
    assert!(summary.ended_at_ms.is_some());
    assert_eq!(
        stored_checkins(&server, &DocId::new(patrol).unwrap()).await,
        1
    );
    phone.shutdown();
    server.stop().await;
}

use crate::support::get_with_token as office_get;

async fn office_post(url: &str, token: &str, path: &str) -> serde_json::Value {
    let resp = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap()
}

/// The printed payload of `post` as the office gets it now.
async fn printed_tag(url: &str, token: &str, post: &str) -> String {
    let tags: Vec<serde_json::Value> = office_get(url, token, "/api/v1/posts/tags?building=3")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tags.len(), 4, "building 3: two stairwells, floors 5 and 9");
    tags.iter()
        .find(|t| t["post_id"] == post)
        .and_then(|t| t["payload"].as_str())
        .unwrap()
        .to_owned()
}

/// Waits until `d` holds an alert for each of `want` of its check-ins the
/// server flagged (the compliance engine raises them), syncing as it goes.
async fn flagged_on_phone(
    d: &crate::support::Device,
    want: usize,
) -> Vec<fieldsync_sdk::FlaggedCheckIn> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        d.client.sync_now().await.unwrap();
        let flagged = d.client.flagged_checkins().unwrap();
        if flagged.len() >= want || std::time::Instant::now() > deadline {
            return flagged;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A tag check-in the way a phone that skips the SDK's own checks makes it
/// (the SDK refuses another post's tag before storing it).
fn scan_unchecked(d: &crate::support::Device, patrol: &DocId, post: &str, payload: &str) -> String {
    let session = d.client.session().unwrap().unwrap();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let checkin = fieldsync_sdk::CheckIn {
        id: id.clone(),
        post_id: post.to_owned(),
        proof: Proof::Tag {
            payload: payload.to_owned(),
        },
        at_ms: fieldsync_sdk::now_ms(),
        fix: None,
        by: session.user_id,
        device: session.device_id,
        note: String::new(),
        photos: Vec::new(),
        corrects: None,
    };
    let item = serde_json::to_string(&checkin).unwrap();
    d.client
        .append_document_json(patrol, "checkins", &item)
        .unwrap();
    id
}

/// One offline session with good, forged, revoked-key, another post's and
/// another community's tags: every check-in is stored, each one that does
/// not verify is flagged with its reason, and the phone that made them
/// learns which.
async fn bad_tags_are_flagged(backend: Backend) {
    const POST5: &str = "post-b3-u2-f5";
    let server = TestServer::start(backend).await;
    let office = crate::support::login_json(&server.url, "demo-office", "dev-office-laptop").await;
    let token = office["access_token"].as_str().unwrap();
    let volunteer = crate::support::login_json(&server.url, "demo-volunteer", "dev-v-http").await;
    let status = office_get(
        &server.url,
        volunteer["access_token"].as_str().unwrap(),
        "/api/v1/posts/tags",
    )
    .await
    .status();
    assert_eq!(status, 403, "only the office prints tags");

    let a = server.device("demo-volunteer").await;
    let b = server.device("demo-volunteer-2").await;
    let patrol = a.client.start_patrol("team-1", "route-stairwells").unwrap();
    let tag = |d: &crate::support::Device, post: &str, payload: &str| {
        d.client
            .check_in(&patrol, post, Some(payload), "", None, "")
            .unwrap()
    };

    // A sticker printed with k1, scanned before the office revokes k1.
    let old = printed_tag(&server.url, token, POST).await;
    assert!(old.starts_with("fs1.post-b3-u2-f9.k1."), "{old}");
    let before_revoke = tag(&a, POST, &old);
    a.client.sync_now().await.unwrap();
    b.client.sync_now().await.unwrap();
    let rotated = office_post(&server.url, token, "/api/v1/tag-keys").await;
    assert_eq!(rotated["key_id"], "k2");
    office_post(&server.url, token, "/api/v1/tag-keys/k1/revoke").await;
    let good5 = printed_tag(&server.url, token, POST5).await;
    let good9 = printed_tag(&server.url, token, POST).await;
    assert!(good5.contains(".k2.") && good9.contains(".k2."), "{good5}");
    let (prefix, _) = good5.rsplit_once('.').unwrap();
    let forged = format!("{prefix}.AAAAAAAAAAAAAAAAAAAAAA");
    let foreign =
        fieldsync_proto::model::tag::Tag::sign(b"their key", "elsewhere", "post-b9-u1-f5", "k1")
            .unwrap()
            .encode();

    // Offline: both at 5F with the good sticker; then B's bad scans.
    let a5 = tag(&a, POST5, &good5);
    let b5 = tag(&b, POST5, &good5);
    let expected_flags = [
        (tag(&b, POST5, &forged), "bad_tag_signature"),
        (tag(&b, POST, &old), "tag_key_revoked"),
        (
            scan_unchecked(&b, &patrol, POST, &good5),
            "tag_post_mismatch",
        ),
        (tag(&b, "post-b9-u1-f5", &foreign), "unknown_post"),
    ];
    let b9 = tag(&b, POST, &good9);
    assert_eq!(a.client.sync_now().await.unwrap().rejected, 0);
    assert_eq!(
        b.client.sync_now().await.unwrap().rejected,
        0,
        "nothing refused"
    );
    a.client.sync_now().await.unwrap();
    assert!(b.client.quarantined().unwrap().is_empty());
    assert_eq!(
        stored_checkins(&server, &patrol).await,
        8,
        "every scan kept"
    );
    for d in [&a, &b] {
        assert_eq!(d.client.patrol(&patrol).unwrap().checkins.len(), 8);
    }

    // The office's rows: the good ones verified, the rest flagged with why.
    let rows = || async {
        let mut rows = server.state.store.checkin_rows("demo").await.unwrap();
        rows.retain(|r| r.patrol_id == patrol.as_str());
        rows
    };
    let stored = rows().await;
    let row = |id: &str| stored.iter().find(|r| r.checkin_id == id).unwrap();
    for id in [&before_revoke, &a5, &b5, &b9] {
        assert_eq!(row(id).status, "verified", "{id}");
        assert_eq!(row(id).flag_reason, None);
    }
    for (id, code) in &expected_flags {
        assert_eq!(row(id).status, "flagged", "{code}");
        let reason = row(id).flag_reason.clone().unwrap();
        assert!(reason.starts_with(&format!("{code}: ")), "{code}: {reason}");
    }

    // B's phone learns which of its scans did not count, and why; A's none.
    let flagged = flagged_on_phone(&b, expected_flags.len()).await;
    let mut got: Vec<(String, String)> = flagged
        .iter()
        .map(|f| {
            assert_eq!(f.patrol_id, patrol.as_str());
            let code = f.reason.split(':').next().unwrap().to_owned();
            (f.checkin_id.clone(), code)
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = expected_flags
        .iter()
        .map(|(id, code)| (id.clone(), code.to_string()))
        .collect();
    want.sort();
    assert_eq!(got, want);
    assert!(a.client.flagged_checkins().unwrap().is_empty());

    // A rebuild from the documents judges every proof the same way: the k1
    // scan that arrived before the revocation stays verified.
    fieldsync_server::projection::rebuild(&server.state.store)
        .await
        .unwrap();
    assert_eq!(rows().await, stored);
    server.stop().await;
}
both_backends!(
    forged_revoked_and_foreign_tags_are_kept_flagged,
    bad_tags_are_flagged
);

/// The office's print view: one QR code per post, labels escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_sheet_prints_every_post_of_a_building() {
    let server = TestServer::start(Backend::Sqlite).await;
    server
        .state
        .store
        .insert_post(
            "demo",
            &fieldsync_server::store::PostRow {
                id: "post-b3-shed".into(),
                label_zh: "3栋车棚 <script>alert(1)</script>".into(),
                label_en: "Bldg 3 bike shed".into(),
                building: Some("3".into()),
                unit: None,
                floor: None,
                lat: Some(31.2012),
                lon: Some(121.4003),
                radius_m: Some(30.0),
                grid_id: Some("grid-1".into()),
            },
            0,
        )
        .await
        .unwrap();
    let office = crate::support::login_json(&server.url, "demo-office", "dev-office-print").await;
    let resp = office_get(
        &server.url,
        office["access_token"].as_str().unwrap(),
        "/api/v1/posts/tags.html?building=3",
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    assert_eq!(
        html.matches("<svg").count(),
        5,
        "four stairwell posts and the shed"
    );
    for label in [
        "3栋1单元 5F",
        "3栋1单元 9F",
        "3栋2单元 5F",
        "3栋2单元 9F",
        "Bldg 3 Unit 2 · 9F",
    ] {
        assert!(html.contains(label), "{label}");
    }
    assert!(!html.contains("<script>alert"), "labels are escaped");
    assert!(html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"));
    let volunteer = crate::support::login_json(&server.url, "demo-volunteer", "dev-v-print").await;
    let denied = office_get(
        &server.url,
        volunteer["access_token"].as_str().unwrap(),
        "/api/v1/posts/tags.html?building=3",
    )
    .await;
    assert_eq!(denied.status(), 403);
    server.stop().await;
}

async fn breadcrumbs_are_compact_and_append_only(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut a = server.device("demo-volunteer").await;
    let patrol = a.client.start_patrol("team-1", "route-stairwells").unwrap();
    for i in 0..130 {
        let fix = fieldsync_sdk::Fix {
            lat: 31.2 + f64::from(i) * 0.00002,
            lon: 121.4,
            accuracy_m: 6.0,
        };
        a.client.record_breadcrumb(&patrol, fix).unwrap();
    }
    // Two full chunks written, ten points still buffered on the phone.
    assert_eq!(a.client.patrol(&patrol).unwrap().breadcrumbs.len(), 2);
    assert_eq!(a.client.breadcrumbs(&patrol).unwrap().len(), 130);
    // The app is killed and reopened: the buffered points are still there.
    a.reopen();
    a.client.end_patrol(&patrol).unwrap();
    a.client.sync_now().await.unwrap();
    let stored = validate::read_patrol(&server.stored_doc(&patrol).await).unwrap();
    assert_eq!(stored.breadcrumbs.len(), 3);
    let points: usize = stored
        .breadcrumbs
        .iter()
        .map(|c| breadcrumbs::decode(c).unwrap().len())
        .sum();
    assert_eq!(points, 130);
    let bytes: usize = stored.breadcrumbs.iter().map(String::len).sum();
    assert!(bytes < 2_000, "{bytes} bytes for 130 points");

    // Replacing a chunk is refused and nothing changes on the server.
    a.client
        .change_document(&patrol, |tx| {
            use automerge::ReadDoc;
            use automerge::transaction::Transactable;
            let (_, list) = tx.get(automerge::ROOT, "breadcrumbs")?.unwrap();
            tx.put(&list, 0, "b1.AAAA")
        })
        .unwrap();
    let report = a.client.sync_now().await.unwrap();
    assert_eq!(report.rejected, 1);
    assert!(
        a.client.quarantined().unwrap()[0]
            .message
            .contains("breadcrumbs_rewritten")
    );
    let again = validate::read_patrol(&server.stored_doc(&patrol).await).unwrap();
    assert_eq!(again.breadcrumbs, stored.breadcrumbs);
    server.stop().await;
}
both_backends!(
    breadcrumbs_are_compact_append_only_and_survive_a_restart,
    breadcrumbs_are_compact_and_append_only
);
