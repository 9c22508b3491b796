//! A posting through `malipo_post_ledger` checks its own entries once (migration 0134): the
//! row checks on `ledger_entries` skip them, and still hold every other writer — a direct
//! insert, even one in the same transaction as a posting.

use malipo_testing::{TestDatabase, test_database};
use sqlx::PgConnection;
use uuid::Uuid;

const FOREIGN_KEY_VIOLATION: &str = "23503";
const CHECK_VIOLATION: &str = "23514";

/// One entry: account code, account kind, currency, amount (debits positive).
type Entry<'a> = (&'a str, &'a str, &'a str, &'a str);

async fn post(
    conn: &mut PgConnection,
    key: &str,
    entries: &[Entry<'_>],
) -> Result<(i64, i64), sqlx::Error> {
    let column =
        |pick: usize| -> Vec<&str> { entries.iter().map(|e| [e.0, e.1, e.2, e.3][pick]).collect() };
    sqlx::query_as(
        "SELECT inserted, written FROM malipo_post_ledger($1, 'test', NULL, '', $2, $3, $4, $5, $6::numeric[])",
    )
    .bind(key)
    .bind(column(0))
    .bind(column(1))
    .bind(column(2))
    .bind(vec![None::<Uuid>; entries.len()])
    .bind(column(3))
    .fetch_one(conn)
    .await
}

fn sqlstate<T: std::fmt::Debug>(result: Result<T, sqlx::Error>) -> String {
    match result {
        Ok(value) => panic!("accepted: {value:?}"),
        Err(error) => error
            .as_database_error()
            .and_then(|error| error.code())
            .map(|code| code.into_owned())
            .unwrap_or_else(|| panic!("not a database error: {error}")),
    }
}

async fn count(db: &TestDatabase, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&db.pool)
        .await
        .expect("count")
}

/// Calls of `function` in the current transaction so far (`track_functions = 'pl'`).
async fn calls(conn: &mut PgConnection, function: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT coalesce(sum(calls), 0)::int8 FROM pg_stat_xact_user_functions WHERE funcname = $1",
    )
    .bind(function)
    .fetch_one(conn)
    .await
    .expect("calls")
}

/// `malipo ledger check` finds nothing wrong.
async fn assert_ledger_sound(db: &TestDatabase) {
    let violations = malipo::db::ledger::check(&db.pool).await.expect("check");
    assert!(violations.is_empty(), "{violations:?}");
}

const ROW_CHECKS: [&str; 4] = [
    "ledger_transaction_balances",
    "entry_account_exists",
    "entry_transaction_exists",
    "malipo_track_client_balance",
];

const DEPOSIT: [Entry<'static>; 2] = [
    ("clearing:mpesa:KES", "provider_clearing", "KES", "100.00"),
    ("escrow:test", "escrow", "KES", "-100.00"),
];

#[tokio::test]
async fn a_posting_runs_no_row_check_and_a_direct_insert_runs_them_all() {
    let db = test_database().await.expect("database");
    let mut tx = db.pool.begin().await.expect("begin");
    sqlx::query("SET LOCAL track_functions = 'pl'")
        .execute(&mut *tx)
        .await
        .expect("track functions");
    assert_eq!(
        post(&mut tx, "deposit", &DEPOSIT).await.expect("posted"),
        (1, 2)
    );
    // Deferred checks queued so far run now, where this transaction's statistics see them.
    sqlx::query("SET CONSTRAINTS ALL IMMEDIATE")
        .execute(&mut *tx)
        .await
        .expect("immediate");
    for check in ROW_CHECKS {
        assert_eq!(calls(&mut tx, check).await, 0, "{check} ran for a posting");
    }
    // The same entries written by hand, in the same transaction, after the posting.
    sqlx::query(
        "WITH t AS (INSERT INTO ledger_transactions (idempotency_key, kind) VALUES ('by hand', 'test') RETURNING id)
         INSERT INTO ledger_entries (transaction_id, account_id, currency, amount)
         SELECT t.id, a.id, 'KES', CASE a.kind WHEN 'escrow' THEN -5 ELSE 5 END
           FROM t, ledger_accounts a WHERE a.code IN ('clearing:mpesa:KES', 'escrow:test')",
    )
    .execute(&mut *tx)
    .await
    .expect("by hand");
    for check in ROW_CHECKS {
        assert_eq!(
            calls(&mut tx, check).await,
            2,
            "{check} for two entries by hand"
        );
    }
    tx.commit().await.expect("commit");
    assert_ledger_sound(&db).await;
}

#[tokio::test]
async fn a_posting_that_does_not_balance_writes_nothing() {
    let db = test_database().await.expect("database");
    let mut conn = db.pool.acquire().await.expect("connection");
    let unbalanced = [
        ("clearing:mpesa:KES", "provider_clearing", "KES", "100.00"),
        ("escrow:test", "escrow", "KES", "-99.99"),
    ];
    assert_eq!(
        sqlstate(post(&mut conn, "deposit", &unbalanced).await),
        CHECK_VIOLATION
    );
    // Balanced in one currency and not in the other.
    let mixed = [
        DEPOSIT[0],
        DEPOSIT[1],
        ("clearing:paystack:NGN", "provider_clearing", "NGN", "5.00"),
    ];
    assert_eq!(
        sqlstate(post(&mut conn, "deposit", &mixed).await),
        CHECK_VIOLATION
    );
    // Balanced as given, not as stored: the column keeps cents, so 0.005 is stored as 0.01.
    let rounded = [
        ("clearing:mpesa:KES", "provider_clearing", "KES", "0.005"),
        ("escrow:test", "escrow", "KES", "0.005"),
        ("payee:test", "payee_payable", "KES", "-0.01"),
    ];
    assert_eq!(
        sqlstate(post(&mut conn, "deposit", &rounded).await),
        CHECK_VIOLATION
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM ledger_transactions").await,
        0
    );
    assert_eq!(count(&db, "SELECT count(*) FROM ledger_entries").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM ledger_accounts").await, 0);
}

#[tokio::test]
async fn a_posting_onto_an_account_of_another_currency_writes_nothing() {
    let db = test_database().await.expect("database");
    let mut conn = db.pool.acquire().await.expect("connection");
    post(&mut conn, "deposit", &DEPOSIT).await.expect("posted");
    // `escrow:test` is a KES account.
    let in_ngn = [
        (
            "clearing:paystack:NGN",
            "provider_clearing",
            "NGN",
            "100.00",
        ),
        ("escrow:test", "escrow", "NGN", "-100.00"),
    ];
    assert_eq!(
        sqlstate(post(&mut conn, "deposit in NGN", &in_ngn).await),
        FOREIGN_KEY_VIOLATION
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM ledger_transactions").await,
        1
    );
    assert_eq!(count(&db, "SELECT count(*) FROM ledger_entries").await, 2);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM ledger_accounts WHERE currency = 'NGN'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_direct_insert_in_a_postings_transaction_is_still_checked() {
    let db = test_database().await.expect("database");
    // An entry of a transaction that does not exist.
    let mut tx = db.pool.begin().await.expect("begin");
    post(&mut tx, "deposit", &DEPOSIT).await.expect("posted");
    let orphan = sqlx::query(
        "INSERT INTO ledger_entries (transaction_id, account_id, currency, amount)
         SELECT max(transaction_id) + 1, max(account_id), 'KES', 5 FROM ledger_entries",
    )
    .execute(&mut *tx)
    .await;
    assert_eq!(sqlstate(orphan), FOREIGN_KEY_VIOLATION);
    tx.rollback().await.expect("rollback");
    // An entry that unbalances the posting's own transaction.
    let mut tx = db.pool.begin().await.expect("begin");
    post(&mut tx, "deposit", &DEPOSIT).await.expect("posted");
    sqlx::query(
        "INSERT INTO ledger_entries (transaction_id, account_id, currency, amount)
         SELECT transaction_id, account_id, currency, 5 FROM ledger_entries ORDER BY id LIMIT 1",
    )
    .execute(&mut *tx)
    .await
    .expect("the balance check is deferred");
    assert!(
        tx.commit().await.is_err(),
        "an unbalanced transaction cannot commit"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM ledger_entries").await, 0);
}

#[tokio::test]
async fn a_posting_moves_a_clients_balance_and_refuses_an_overdraft() {
    let db = test_database().await.expect("database");
    let client = malipo::clients::create(&db.pool, "postings", "client", 100)
        .await
        .expect("client")
        .id;
    let mut conn = db.pool.acquire().await.expect("connection");
    malipo::db::balances::ensure(&mut conn, client, malipo::domain::Currency::Kes)
        .await
        .expect("balance");
    let balance = format!("balance:{client}:KES");
    let available = async |conn: &mut PgConnection| -> String {
        sqlx::query_scalar("SELECT available::text FROM client_balances WHERE client_id = $1")
            .bind(client)
            .fetch_one(conn)
            .await
            .expect("available")
    };
    // Credit-normal: a credit of 100 makes 100 available.
    let collected = [
        ("clearing:mpesa:KES", "provider_clearing", "KES", "100.00"),
        (&*balance, "client_balance", "KES", "-100.00"),
    ];
    post(&mut conn, "collected", &collected)
        .await
        .expect("posted");
    assert_eq!(available(&mut conn).await, "100.00");
    let too_much = [
        (&*balance, "client_balance", "KES", "150.00"),
        (
            "withdrawals_reserved:KES",
            "withdrawals_reserved",
            "KES",
            "-150.00",
        ),
    ];
    let refused = post(&mut conn, "withdrawn", &too_much).await;
    let constraint = refused
        .as_ref()
        .err()
        .and_then(|error| error.as_database_error())
        .and_then(|error| error.constraint().map(str::to_owned));
    assert_eq!(constraint.as_deref(), Some("client_balance_not_negative"));
    assert_eq!(sqlstate(refused), CHECK_VIOLATION);
    assert_eq!(available(&mut conn).await, "100.00");
    let some = [
        (&*balance, "client_balance", "KES", "40.00"),
        (
            "withdrawals_reserved:KES",
            "withdrawals_reserved",
            "KES",
            "-40.00",
        ),
    ];
    post(&mut conn, "withdrawn", &some).await.expect("posted");
    assert_eq!(available(&mut conn).await, "60.00");
    assert_ledger_sound(&db).await;
}

#[tokio::test]
async fn ledger_transactions_cannot_be_truncated_and_orphans_are_reported() {
    let db = test_database().await.expect("database");
    let mut conn = db.pool.acquire().await.expect("connection");
    post(&mut conn, "deposit", &DEPOSIT).await.expect("posted");
    let truncated = sqlx::raw_sql("TRUNCATE ledger_transactions CASCADE")
        .execute(&mut *conn)
        .await;
    assert_eq!(sqlstate(truncated), FOREIGN_KEY_VIOLATION);
    assert_eq!(
        count(&db, "SELECT count(*) FROM ledger_transactions").await,
        1
    );
    // Only with the user triggers off can an entry name a transaction that does not exist.
    sqlx::raw_sql("ALTER TABLE ledger_entries DISABLE TRIGGER USER")
        .execute(&mut *conn)
        .await
        .expect("disable");
    sqlx::query(
        "INSERT INTO ledger_entries (transaction_id, account_id, currency, amount)
         SELECT transaction_id + 1000, account_id, currency, amount FROM ledger_entries",
    )
    .execute(&mut *conn)
    .await
    .expect("orphans");
    sqlx::raw_sql("ALTER TABLE ledger_entries ENABLE TRIGGER USER")
        .execute(&mut *conn)
        .await
        .expect("enable");
    let violations = malipo::db::ledger::check(&db.pool).await.expect("check");
    let orphans: Vec<&str> = violations
        .iter()
        .filter(|v| v.rule == "entry belongs to an existing transaction")
        .map(|v| v.detail.as_str())
        .collect();
    assert_eq!(orphans.len(), 2, "{violations:?}");
}
