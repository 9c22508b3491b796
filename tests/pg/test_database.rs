//! `malipo_testing::test_database`: each call gives a separate, freshly migrated database.

use malipo_testing::test_database;

const USER_TABLES: &str = "select schemaname || '.' || tablename from pg_tables \
     where schemaname not in ('pg_catalog', 'information_schema') order by 1";

#[tokio::test]
async fn each_call_gives_a_separate_fresh_database() {
    let (a, b) = tokio::try_join!(test_database(), test_database()).unwrap();
    assert_ne!(a.name, b.name);
    assert_ne!(a.url, b.url);

    let current: String = sqlx::query_scalar("select current_database()")
        .fetch_one(&a.pool)
        .await
        .unwrap();
    assert_eq!(current, a.name);

    // Both start as the migrated template: the same tables, none of them with rows.
    let tables_a: Vec<String> = sqlx::query_scalar(USER_TABLES)
        .fetch_all(&a.pool)
        .await
        .unwrap();
    let tables_b: Vec<String> = sqlx::query_scalar(USER_TABLES)
        .fetch_all(&b.pool)
        .await
        .unwrap();
    assert_eq!(tables_a, tables_b);

    sqlx::query("create table only_in_a (id int)")
        .execute(&a.pool)
        .await
        .unwrap();
    let in_b: Option<String> = sqlx::query_scalar("select to_regclass('only_in_a')::text")
        .fetch_one(&b.pool)
        .await
        .unwrap();
    assert_eq!(
        in_b, None,
        "a table made in one test database is not in another"
    );
}

#[tokio::test]
async fn many_parallel_test_databases() {
    let dbs = futures::future::try_join_all((0..8).map(|_| test_database()))
        .await
        .unwrap();
    let mut names: Vec<&str> = dbs.iter().map(|d| d.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 8);
}

#[tokio::test]
async fn readiness_notices_any_missing_migration_not_only_the_newest() {
    let db = test_database().await.expect("database");
    assert!(malipo::db::is_migrated(&db.pool).await.expect("check"));
    // A database that skipped a migration numbered below the newest one (0051 was added after
    // 0050 had been applied everywhere) is not ready.
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 14")
        .execute(&db.pool)
        .await
        .expect("forget one migration");
    assert!(!malipo::db::is_migrated(&db.pool).await.expect("check"));
}
