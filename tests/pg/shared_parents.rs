//! Rows every transaction shares — API clients, ledger accounts — are referenced without row
//! locks (migration 0052), and still with a foreign key's guarantees: children need an existing
//! parent, parents are never removed or re-keyed.

use malipo_testing::{TestDatabase, test_database};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

const FOREIGN_KEY_VIOLATION: &str = "23503";

fn sqlstate<T>(result: Result<T, sqlx::Error>) -> String {
    match result {
        Ok(_) => panic!("the statement was accepted"),
        Err(error) => error
            .as_database_error()
            .and_then(|error| error.code())
            .map(|code| code.into_owned())
            .unwrap_or_else(|| panic!("not a database error: {error}")),
    }
}

async fn insert_intent(conn: &mut PgConnection, client: Uuid) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO intents (id, client_id, status, amount, currency, provider, buyer, payee, commission_bps, metadata)
         VALUES ($1, $2, 'initiating', 100, 'KES', 'mpesa', '{}', '{}', 0, '{}')",
    )
    .bind(id)
    .bind(client)
    .execute(conn)
    .await?;
    Ok(id)
}

async fn client(pool: &PgPool) -> Uuid {
    malipo::clients::create(pool, "shared-parents", "client", 100)
        .await
        .expect("client")
        .id
}

/// The platform's KES commission account; its id.
async fn commission_account(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO ledger_accounts (code, kind, currency) VALUES ('platform:commission:KES', 'platform_commission', 'KES') RETURNING id",
    )
    .fetch_one(pool)
    .await
    .expect("account")
}

async fn count(db: &TestDatabase, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&db.pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn writing_for_a_client_leaves_the_clients_row_unlocked() {
    let db = test_database().await.expect("database");
    let client = client(&db.pool).await;
    let mut tx = db.pool.begin().await.expect("begin");
    insert_intent(&mut tx, client).await.expect("intent");
    sqlx::query(
        "INSERT INTO idempotency_keys (client_id, key, method, path, request_hash) VALUES ($1, 'k', 'POST', '/v1/intents', 'h')",
    )
    .bind(client)
    .execute(&mut *tx)
    .await
    .expect("idempotency key");
    // A foreign key check locks the parent FOR KEY SHARE, which writes the locker into the
    // row's xmax; many writers at once then share a MultiXact.
    let xmax: String = sqlx::query_scalar("SELECT xmax::text FROM api_clients WHERE id = $1")
        .bind(client)
        .fetch_one(&mut *tx)
        .await
        .expect("xmax");
    assert_eq!(xmax, "0", "the client's row was locked");
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn an_intent_or_idempotency_key_for_an_unknown_client_is_refused() {
    let db = test_database().await.expect("database");
    let mut conn = db.pool.acquire().await.expect("connection");
    assert_eq!(
        sqlstate(insert_intent(&mut conn, Uuid::new_v4()).await),
        FOREIGN_KEY_VIOLATION
    );
    let key = sqlx::query(
        "INSERT INTO idempotency_keys (client_id, key, method, path, request_hash) VALUES ($1, 'k', 'POST', '/v1/intents', 'h')",
    )
    .bind(Uuid::new_v4())
    .execute(&mut *conn)
    .await;
    assert_eq!(sqlstate(key), FOREIGN_KEY_VIOLATION);
    // Moving an intent to a client that does not exist is refused too.
    let owner = client(&db.pool).await;
    let intent = insert_intent(&mut conn, owner).await.expect("intent");
    let moved = sqlx::query("UPDATE intents SET client_id = $2 WHERE id = $1")
        .bind(intent)
        .bind(Uuid::new_v4())
        .execute(&mut *conn)
        .await;
    assert_eq!(sqlstate(moved), FOREIGN_KEY_VIOLATION);
    assert_eq!(count(&db, "intents").await, 1);
    assert_eq!(count(&db, "idempotency_keys").await, 0);
}

#[tokio::test]
async fn clients_and_ledger_accounts_are_never_removed_or_rekeyed() {
    let db = test_database().await.expect("database");
    let client = client(&db.pool).await;
    commission_account(&db.pool).await;
    let attempts = [
        ("DELETE FROM api_clients", "api_clients"),
        (
            "UPDATE api_clients SET id = gen_random_uuid()",
            "api_clients",
        ),
        ("TRUNCATE api_clients CASCADE", "api_clients"),
        ("DELETE FROM ledger_accounts", "ledger_accounts"),
        (
            "UPDATE ledger_accounts SET id = id + 1000",
            "ledger_accounts",
        ),
        (
            "UPDATE ledger_accounts SET currency = 'NGN'",
            "ledger_accounts",
        ),
        ("TRUNCATE ledger_accounts CASCADE", "ledger_accounts"),
    ];
    for (statement, table) in attempts {
        let result = sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&db.pool)
            .await;
        assert_eq!(sqlstate(result), FOREIGN_KEY_VIOLATION, "{statement}");
        assert_eq!(count(&db, table).await, 1, "{statement}");
    }
    // Revoking a client — the way clients end — is an ordinary update.
    sqlx::query("UPDATE api_clients SET revoked_at = now() WHERE id = $1")
        .bind(client)
        .execute(&db.pool)
        .await
        .expect("revoke");
}

#[tokio::test]
async fn a_ledger_entry_needs_an_account_of_its_own_currency() {
    let db = test_database().await.expect("database");
    let account = commission_account(&db.pool).await;
    let transaction: i64 = sqlx::query_scalar(
        "INSERT INTO ledger_transactions (idempotency_key, kind) VALUES ('t', 'test') RETURNING id",
    )
    .fetch_one(&db.pool)
    .await
    .expect("transaction");
    for (account_id, currency) in [(account + 1, "KES"), (account, "NGN")] {
        let entry = sqlx::query(
            "INSERT INTO ledger_entries (transaction_id, account_id, currency, amount) VALUES ($1, $2, $3, 5)",
        )
        .bind(transaction)
        .bind(account_id)
        .bind(currency)
        .execute(&db.pool)
        .await;
        assert_eq!(
            sqlstate(entry),
            FOREIGN_KEY_VIOLATION,
            "{account_id} {currency}"
        );
    }
    assert_eq!(count(&db, "ledger_entries").await, 0);
}

#[tokio::test]
async fn the_ledger_check_reports_an_entry_whose_account_is_missing() {
    let db = test_database().await.expect("database");
    let account = commission_account(&db.pool).await;
    assert!(
        malipo::db::ledger::check(&db.pool)
            .await
            .expect("check")
            .is_empty()
    );
    // Only with the user triggers off — which, unlike a foreign key's, the existence check is —
    // can a balanced transaction post to an account that does not exist.
    let mut conn = db.pool.acquire().await.expect("connection");
    sqlx::raw_sql("ALTER TABLE ledger_entries DISABLE TRIGGER USER")
        .execute(&mut *conn)
        .await
        .expect("disable");
    let transaction: i64 = sqlx::query_scalar(
        "INSERT INTO ledger_transactions (idempotency_key, kind) VALUES ('orphan', 'test') RETURNING id",
    )
    .fetch_one(&mut *conn)
    .await
    .expect("transaction");
    sqlx::query(
        "INSERT INTO ledger_entries (transaction_id, account_id, currency, amount) VALUES ($1, $2, 'KES', -5), ($1, $2 + 1, 'KES', 5)",
    )
    .bind(transaction)
    .bind(account)
    .execute(&mut *conn)
    .await
    .expect("entries");
    sqlx::raw_sql("ALTER TABLE ledger_entries ENABLE TRIGGER USER")
        .execute(&mut *conn)
        .await
        .expect("enable");
    let violations = malipo::db::ledger::check(&db.pool).await.expect("check");
    let rules: Vec<&str> = violations.iter().map(|v| v.rule.as_str()).collect();
    assert_eq!(
        rules,
        ["entry posts to an existing account of its currency"],
        "{violations:?}"
    );
    assert!(
        violations[0]
            .detail
            .contains(&format!("account {}", account + 1))
    );
}
