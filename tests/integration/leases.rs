//! Source leases (groundwork for several daemons on one database): a due
//! source goes to exactly one claimant, an expired lease is free again,
//! recording the fetch ends the lease, and a shutdown gives leases back.

use chrono::{DateTime, Duration, Utc};

use crate::helpers::TestDb;

async fn sources(pool: &sqlx::PgPool, n: usize, due: DateTime<Utc>) {
    for i in 0..n {
        sqlx::query(
            "INSERT INTO sources (name, kind, url, schedule, next_due)
             VALUES ($1, 'feed', 'http://127.0.0.1/feed', '0 */15 * * * *', $2)",
        )
        .bind(format!("source-{i:02}"))
        .bind(due)
        .execute(pool)
        .await
        .expect("source");
    }
}

#[tokio::test]
async fn each_due_source_is_leased_to_one_instance_until_it_expires() {
    let db = TestDb::migrated().await;
    let store = db.store();
    let now = Utc::now();
    sources(&db.pool, 20, now - Duration::minutes(1)).await;
    sources_not_due(&db.pool, now).await;

    // Two instances ask at the same moment, many times over.
    let lease = Duration::minutes(5);
    let (a, b) = tokio::join!(
        store.lease_due_sources("instance-a", now, lease, 12),
        store.lease_due_sources("instance-b", now, lease, 12)
    );
    let (a, b) = (a.expect("lease a"), b.expect("lease b"));
    let mut ids: Vec<i64> = a.iter().chain(&b).map(|s| s.id).collect();
    assert_eq!(ids.len(), 20, "every due source leased ({} + {})", a.len(), b.len());
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 20, "no source leased twice");
    assert!(a.iter().chain(&b).all(|s| s.name.starts_with("source-")), "a source not due is not leased");

    // While leased, nobody else gets them; after expiry, anybody does.
    let later = now + Duration::minutes(4);
    assert!(store.lease_due_sources("instance-c", later, lease, 50).await.expect("lease").is_empty());
    let expired = now + lease;
    let c = store.lease_due_sources("instance-c", expired, lease, 50).await.expect("lease");
    assert_eq!(c.len(), 20, "a crashed instance's leases run out");

    // Recording the outcome ends the lease (and the new next_due keeps it from being due).
    let first = &c[0];
    store.record_fetch_success(first.id, None, None, expired + Duration::minutes(15)).await.expect("success");
    let second = &c[1];
    store
        .record_fetch_failure(second.id, "HTTP 500", |_| expired + Duration::minutes(5))
        .await
        .expect("failure");
    let leased: i64 = sqlx::query_scalar("SELECT count(*) FROM sources WHERE lease_owner IS NOT NULL")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(leased, 18);

    // Shutting down gives the rest back at once.
    assert_eq!(store.release_leases("instance-c").await.expect("release"), 18);
    let again = store.lease_due_sources("instance-a", expired, lease, 50).await.expect("lease");
    assert_eq!(again.len(), 18, "released sources are due and free; fetched ones wait for next_due");
}

async fn sources_not_due(pool: &sqlx::PgPool, now: DateTime<Utc>) {
    sqlx::query(
        "INSERT INTO sources (name, kind, url, schedule, next_due)
         VALUES ('later', 'feed', 'http://127.0.0.1/later', '0 */15 * * * *', $1)",
    )
    .bind(now + Duration::hours(1))
    .execute(pool)
    .await
    .expect("source");
}
