//! Enumerated CHECKs are stored as one array constant (migration 0129): PostgreSQL parses and
//! plans a written table's CHECKs again for every statement, and a `col IN ('a', 'b', …)`
//! costs a constant node per name each time — three times the node text, and a fold back into
//! an array. A migration that adds one in the old form fails here; the form changes nothing
//! about what is refused.

use malipo_testing::test_database;

#[tokio::test]
async fn no_check_builds_its_list_of_names_per_statement() {
    let db = test_database().await.expect("test database");
    let listed: Vec<(String, String)> = sqlx::query_as(
        "SELECT conname::text, pg_get_constraintdef(c.oid)
           FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
          WHERE c.contype = 'c' AND n.nspname = 'public' AND c.conbin::text LIKE '%{ARRAYEXPR %'
          ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .expect("constraints");
    assert!(
        listed.is_empty(),
        "CHECKs that list their names one constant at a time (write `col = ANY ('{{a,b}}'::text[])`): {listed:#?}"
    );
    let intents_text: i64 = sqlx::query_scalar(
        "SELECT sum(length(conbin::text))::int8 FROM pg_constraint
          WHERE conrelid = 'intents'::regclass AND contype = 'c'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("intents' CHECK text");
    // 8,434 characters with the lists; a regression to them is what this bound catches.
    assert!(
        intents_text < 6_000,
        "intents' CHECKs are {intents_text} characters of node text"
    );
}

#[tokio::test]
async fn a_name_outside_the_list_is_still_refused_and_one_inside_accepted() {
    let db = test_database().await.expect("test database");
    let mut tx = db.pool.begin().await.expect("transaction");
    sqlx::query(
        "INSERT INTO malipo_jobs (queue, kind, payload, state, max_attempts) VALUES ('q', 'k', '{}', 'dead', 1)",
    )
    .execute(&mut *tx)
    .await
    .expect("a listed state is accepted");
    let refused = sqlx::query(
        "INSERT INTO malipo_jobs (queue, kind, payload, state, max_attempts) VALUES ('q', 'k', '{}', 'paused', 1)",
    )
    .execute(&mut *tx)
    .await
    .expect_err("an unlisted state is refused");
    let constraint = refused
        .as_database_error()
        .and_then(|error| error.constraint().map(str::to_owned));
    assert_eq!(constraint.as_deref(), Some("malipo_jobs_state_check"));
}
