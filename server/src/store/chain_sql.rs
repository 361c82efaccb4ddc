//! The audit chain's table (`crate::audit`), for both backends: entries are
//! appended inside the transaction of the write they record, after the
//! community's row is locked, so a community's chain never forks.

macro_rules! chain_impl {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Appends `records` to the community's chain, in the caller's
            /// transaction. The `UPDATE … RETURNING` locks the community row
            /// (PostgreSQL) until the transaction ends.
            pub(crate) async fn chain_in<'c>(
                conn: &mut sqlx::Transaction<'c, $db>,
                community: &str,
                at: i64,
                records: Vec<$crate::audit::Record>,
            ) -> $crate::store::Result<()> {
                if records.is_empty() {
                    return Ok(());
                }
                let (seq, hash): (i64, String) = sqlx::query_as(
                    "UPDATE communities SET audit_seq = audit_seq WHERE id = $1 RETURNING audit_seq, audit_head",
                )
                .bind(community)
                .fetch_one(&mut **conn)
                .await?;
                let (entries, head) = $crate::audit::extend(&$crate::audit::Head { seq, hash }, at, records);
                for part in entries.chunks(60) {
                    let values = (0..part.len())
                        .map(|i| {
                            let b = 11 * i + 2;
                            format!(
                                "($1, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                                b, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8, b + 9, b + 10
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    let sql = format!(
                        "INSERT INTO audit_chain (community_id, seq, at, kind, user_id, device_id, actor, subject, action, detail, prev, hash) \
                         VALUES {values}"
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(community);
                    for e in part {
                        let r = &e.record;
                        q = q
                            .bind(e.seq)
                            .bind(e.at)
                            .bind(&r.kind)
                            .bind(&r.user_id)
                            .bind(&r.device_id)
                            .bind(&r.actor)
                            .bind(&r.subject)
                            .bind(&r.action)
                            .bind(&r.detail)
                            .bind(&e.prev)
                            .bind(&e.hash);
                    }
                    q.execute(&mut **conn).await?;
                }
                sqlx::query("UPDATE communities SET audit_seq = $2, audit_head = $3 WHERE id = $1")
                    .bind(community)
                    .bind(head.seq)
                    .bind(&head.hash)
                    .execute(&mut **conn)
                    .await?;
                Ok(())
            }

            pub async fn audit_head(&self, community: &str) -> $crate::store::Result<$crate::audit::Head> {
                let (seq, hash): (i64, String) =
                    sqlx::query_as("SELECT audit_seq, audit_head FROM communities WHERE id = $1")
                        .bind(community)
                        .fetch_one(&self.read)
                        .await?;
                Ok($crate::audit::Head { seq, hash })
            }

            pub async fn audit_chain_page(&self, community: &str, after: i64, limit: i64) -> $crate::store::Result<Vec<$crate::audit::Entry>> {
                Ok(sqlx::query_as(
                    "SELECT seq, at, kind, user_id, device_id, actor, subject, action, detail, prev, hash \
                     FROM audit_chain WHERE community_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                )
                .bind(community)
                .bind(after)
                .bind(limit)
                .fetch_all(&self.read)
                .await?)
            }
        }
    };
}

pub(crate) use chain_impl;
