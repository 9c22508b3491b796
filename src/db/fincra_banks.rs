//! `fincra_banks`: the Nigerian bank codes Fincra pays to, as last refreshed from Fincra
//! (`migrations/0120_fincra_banks.sql`). While it is empty the list shipped with the binary
//! (`domain::fincra_banks`) decides.

use sqlx::PgConnection;

use crate::domain::fincra_banks as banks;

/// Whether `code` is a bank Fincra pays to: on the refreshed list, or on the shipped one while
/// nothing was refreshed yet.
pub async fn is_known(conn: &mut PgConnection, code: &str) -> Result<bool, sqlx::Error> {
    let known = sqlx::query!(
        r#"SELECT EXISTS (SELECT 1 FROM fincra_banks WHERE code = $1) AS "listed!",
                  EXISTS (SELECT 1 FROM fincra_banks) AS "refreshed!""#,
        code,
    )
    .fetch_one(conn)
    .await?;
    let (listed, refreshed) = (known.listed, known.refreshed);
    Ok(if refreshed {
        listed
    } else {
        banks::ngn_bank_name(code).is_some()
    })
}

/// Replaces the list with `banks` (code, name) in the caller's transaction; returns how many
/// are stored.
pub async fn replace(
    conn: &mut PgConnection,
    banks: &[(String, String)],
) -> Result<u64, sqlx::Error> {
    sqlx::query!("DELETE FROM fincra_banks")
        .execute(&mut *conn)
        .await?;
    let (codes, names): (Vec<&str>, Vec<&str>) = banks
        .iter()
        .map(|(code, name)| (code.as_str(), name.as_str()))
        .unzip();
    let stored = sqlx::query!(
        "INSERT INTO fincra_banks (code, name)
         SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (code) DO NOTHING",
        &codes as &[&str],
        &names as &[&str],
    )
    .execute(&mut *conn)
    .await?;
    Ok(stored.rows_affected())
}
