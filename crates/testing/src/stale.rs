//! Dropping test databases left on a shared server (`DATABASE_URL`) by earlier runs: test
//! processes can be killed before they clean up, so each run tidies up after old ones.

use std::time::{Duration, SystemTime};

use sqlx::{AssertSqlSafe, PgConnection};
use uuid::Uuid;

/// Older than any test run, so a database this old is not in use by a concurrent one.
const MAX_AGE: Duration = Duration::from_secs(60 * 60);

/// Best effort: failures (a database still in use, missing privileges) only skip that database.
pub(super) async fn drop_old_databases(admin: &mut PgConnection) {
    let names: Vec<String> = match sqlx::query_scalar("SELECT datname FROM pg_database")
        .fetch_all(&mut *admin)
        .await
    {
        Ok(names) => names,
        Err(e) => {
            tracing::warn!(error = %e, "failed to list databases for clean-up");
            return;
        }
    };
    let now = SystemTime::now();
    for name in names.into_iter().filter(|n| is_stale(n, now)) {
        let sql = format!(r#"DROP DATABASE IF EXISTS "{name}""#);
        if let Err(e) = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *admin).await {
            tracing::debug!(database = %name, error = %e, "failed to drop an old test database");
        }
    }
}

/// Whether `name` is a test or template database (`t_`/`tpl_` + a v7 uuid) older than
/// [`MAX_AGE`]; any other name is never touched.
fn is_stale(name: &str, now: SystemTime) -> bool {
    let Some(hex) = name
        .strip_prefix("t_")
        .or_else(|| name.strip_prefix("tpl_"))
    else {
        return false;
    };
    if hex.len() != 32 || hex.bytes().any(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return false;
    }
    let Some(created) = Uuid::try_parse(hex).ok().and_then(|u| u.get_timestamp()) else {
        return false;
    };
    let (secs, nanos) = created.to_unix();
    let created = SystemTime::UNIX_EPOCH + Duration::new(secs, nanos);
    now.duration_since(created).is_ok_and(|age| age > MAX_AGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_old_test_databases_are_stale() {
        let now = SystemTime::now();
        let old = Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, 1_000_000, 0)).simple();
        let fresh = Uuid::now_v7().simple();
        assert!(is_stale(&format!("t_{old}"), now));
        assert!(is_stale(&format!("tpl_{old}"), now));
        assert!(!is_stale(&format!("t_{fresh}"), now));
        assert!(!is_stale(&format!("malipo_{old}"), now));
        assert!(
            !is_stale(&format!("t_{}", Uuid::new_v4().simple()), now),
            "v4 has no time"
        );
        assert!(!is_stale("t_orders", now));
        assert!(!is_stale("postgres", now));
    }
}
