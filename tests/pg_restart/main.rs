//! `malipo_testing::restart_cluster`, in a binary of its own because the outage reaches every
//! test in the process.

use std::time::Duration;

use malipo_testing::{admin_url, restart_cluster, test_database};

#[tokio::test]
async fn pools_recover_after_the_cluster_restarts_on_the_same_port() {
    if std::env::var_os("DATABASE_URL").is_some_and(|u| !u.is_empty()) {
        eprintln!("skipped: DATABASE_URL is set, and that server is not ours to restart");
        return;
    }
    let db = test_database().await.unwrap();
    let before = admin_url().await.unwrap();
    sqlx::raw_sql("create table t (v int); insert into t values (7)")
        .execute(&db.pool)
        .await
        .unwrap();

    restart_cluster(Duration::from_millis(500)).await.unwrap();

    assert_eq!(admin_url().await.unwrap(), before);
    let v: i32 = sqlx::query_scalar("select v from t")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(v, 7);
}
