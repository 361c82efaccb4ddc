//! Every migration applies from empty on both backends, and the schema that
//! results is the one the code expects.

use sqlx::Connection;

use crate::both_backends;
use crate::support::{Backend, TestServer};

/// Tables and the columns the store's SQL relies on.
const EXPECTED: &[(&str, &[&str])] = &[
    (
        "communities",
        &["id", "name", "time_zone", "change_seq", "created_at"],
    ),
    (
        "users",
        &[
            "id",
            "community_id",
            "username",
            "display_name",
            "role",
            "password_hash",
            "disabled",
        ],
    ),
    (
        "devices",
        &[
            "id",
            "user_id",
            "community_id",
            "name",
            "revoked_at",
            "token_generation",
        ],
    ),
    ("device_actors", &["actor_id", "device_id", "created_at"]),
    (
        "refresh_tokens",
        &[
            "token_hash",
            "device_id",
            "generation",
            "expires_at",
            "used_at",
        ],
    ),
    (
        "documents",
        &[
            "community_id",
            "id",
            "doc_type",
            "schema_version",
            "seq",
            "heads",
            "stored_bytes",
            "chunk_count",
        ],
    ),
    (
        "document_chunks",
        &["chunk_id", "community_id", "doc_id", "data"],
    ),
    ("server_secrets", &["name", "value"]),
    (
        "posts",
        &[
            "community_id",
            "id",
            "label_zh",
            "label_en",
            "building",
            "unit",
            "floor",
            "lat",
            "lon",
            "radius_m",
        ],
    ),
    (
        "tag_keys",
        &["community_id", "id", "secret", "created_at", "revoked_at"],
    ),
    (
        "uploads",
        &[
            "id",
            "community_id",
            "user_id",
            "device_id",
            "length",
            "received",
            "metadata",
            "declared_sha256",
            "blob_hash",
            "stored_as",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "blobs",
        &[
            "community_id",
            "hash",
            "size",
            "width",
            "height",
            "mime",
            "uploaded_by",
            "device_id",
            "created_at",
        ],
    ),
    ("blob_links", &["community_id", "hash", "doc_id"]),
    (
        "admin_audit",
        &[
            "id",
            "community_id",
            "at",
            "user_id",
            "device_id",
            "action",
            "subject",
            "detail",
        ],
    ),
];

async fn columns(server: &TestServer, backend: Backend, table: &str) -> Vec<String> {
    match backend {
        Backend::Sqlite => {
            let path = server.data_dir().join("fieldsync.db");
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT name FROM pragma_table_info('{table}')"
            )))
            .fetch_all(&mut conn)
            .await
            .unwrap()
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&server.database_url().unwrap())
                .await
                .unwrap();
            sqlx::query_scalar(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = $1",
            )
            .bind(table)
            .fetch_all(&mut conn)
            .await
            .unwrap()
        }
    }
}

async fn all_migrations(backend: Backend) {
    let server = TestServer::start(backend).await;
    for (table, expected) in EXPECTED {
        let have = columns(&server, backend, table).await;
        assert!(!have.is_empty(), "{backend:?}: table {table} is missing");
        for c in *expected {
            assert!(
                have.iter().any(|h| h == c),
                "{backend:?}: {table}.{c} is missing (have {have:?})"
            );
        }
    }
    server.stop().await;
}
both_backends!(every_migration_applies_from_empty, all_migrations);
