//! Parsing a Fincra payout destination (`{"provider":"fincra","destination":…}`) and deciding
//! which currency it can receive. Here the bank code is only checked for its form (3–9
//! digits); whether Fincra pays that bank (the refreshed list in `fincra_banks`, or the list
//! shipped in `domain::fincra_banks` until a refresh) and whether the account exists are
//! asked at intent creation (`http/fincra_check.rs`), not here (no I/O in `domain`).

use serde_json::{Map, Value};

use super::{Currency, Msisdn, parties::FincraDestination};

/// Longest account name kept (Fincra's beneficiary names are free text; this bounds storage).
const MAX_NAME_LEN: usize = 100;

/// Parses the destination fields under `payee.payout`; errors name the field.
pub fn parse(payout: &Map<String, Value>) -> Result<FincraDestination, (&'static str, String)> {
    let text = |field: &str| payout.get(field).and_then(Value::as_str);
    match text("destination") {
        Some("bank_account") => {
            let bank_code = match text("bank_code") {
                Some(code)
                    if (3..=9).contains(&code.len())
                        && code.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    code.to_owned()
                }
                Some(_) => {
                    return Err((
                        "payee.payout.bank_code",
                        "must be a Nigerian bank code: 3 to 9 digits, like \"058\"".to_owned(),
                    ));
                }
                None => {
                    return Err((
                        "payee.payout.bank_code",
                        "is required for a fincra bank_account".to_owned(),
                    ));
                }
            };
            let account_number = match text("account_number") {
                Some(number)
                    if number.len() == 10 && number.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    number.to_owned()
                }
                _ => {
                    return Err((
                        "payee.payout.account_number",
                        "must be a 10-digit NUBAN account number".to_owned(),
                    ));
                }
            };
            let account_name = match text("account_name").map(str::trim) {
                Some(name)
                    if !name.is_empty()
                        && name.chars().count() <= MAX_NAME_LEN
                        && super::validation::is_safe_identifier(name) =>
                {
                    name.to_owned()
                }
                _ => {
                    return Err((
                        "payee.payout.account_name",
                        format!(
                            "must be the account holder's name, 1–{MAX_NAME_LEN} characters \
                             without control characters"
                        ),
                    ));
                }
            };
            Ok(FincraDestination::BankAccount {
                bank_code,
                account_number,
                account_name,
            })
        }
        Some("mobile_money") => {
            let msisdn = text("msisdn").ok_or((
                "payee.payout.msisdn",
                "is required for a fincra mobile_money destination".to_owned(),
            ))?;
            Ok(FincraDestination::MobileMoney {
                msisdn: Msisdn::try_from(msisdn.to_owned())
                    .map_err(|m| ("payee.payout.msisdn", m))?,
            })
        }
        _ => Err((
            "payee.payout.destination",
            "must be bank_account or mobile_money for fincra".to_owned(),
        )),
    }
}

/// A destination from a setting (`MALIPO_COMMISSION_PAYOUT_<CUR>=fincra:…`):
/// `bank:<bank code>:<account number>:<account name>` or `mpesa:<msisdn>`.
pub fn from_setting(text: &str) -> Result<FincraDestination, String> {
    let mut fields = Map::new();
    match text.split_once(':') {
        Some(("bank", rest)) => {
            let mut parts = rest.splitn(3, ':');
            fields.insert("destination".into(), "bank_account".into());
            for key in ["bank_code", "account_number", "account_name"] {
                fields.insert(key.into(), parts.next().unwrap_or_default().into());
            }
        }
        Some(("mpesa", msisdn)) => {
            fields.insert("destination".into(), "mobile_money".into());
            fields.insert("msisdn".into(), msisdn.into());
        }
        _ => {
            return Err(
                "expected fincra:bank:<bank code>:<account number>:<account name> or fincra:mpesa:<msisdn>"
                    .to_owned(),
            );
        }
    }
    parse(&fields).map_err(|(field, message)| format!("{field} {message}"))
}

/// Whether `destination` can receive `currency`: NGN bank accounts, KES M-Pesa wallets
/// (cross-currency payouts need a Fincra quote, which malipo does not ask for).
pub fn pays_out(destination: &FincraDestination, currency: Currency) -> Result<(), String> {
    match (destination, currency) {
        (FincraDestination::BankAccount { .. }, Currency::Ngn)
        | (FincraDestination::MobileMoney { .. }, Currency::Kes) => Ok(()),
        (FincraDestination::BankAccount { .. }, other) => {
            Err(format!("a fincra bank_account is paid in NGN, not {other}"))
        }
        (FincraDestination::MobileMoney { .. }, other) => Err(format!(
            "a fincra mobile_money wallet (M-Pesa) is paid in KES, not {other}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse_value(value: Value) -> Result<FincraDestination, (&'static str, String)> {
        match value {
            Value::Object(map) => parse(&map),
            _ => unreachable!("tests pass objects"),
        }
    }

    #[test]
    fn bank_accounts_need_a_bank_code_a_nuban_and_a_name() {
        let good = json!({"provider": "fincra", "destination": "bank_account", "bank_code": "058",
            "account_number": "0124775489", "account_name": "Hassan Sarz"});
        assert!(parse_value(good.clone()).is_ok());
        let mut unknown_bank = good.clone();
        unknown_bank["bank_code"] = json!("05A");
        assert_eq!(
            parse_value(unknown_bank).map_err(|e| e.0),
            Err("payee.payout.bank_code")
        );
        let mut short = good.clone();
        short["account_number"] = json!("12345");
        assert_eq!(
            parse_value(short).map_err(|e| e.0),
            Err("payee.payout.account_number")
        );
        let mut nameless = good;
        nameless["account_name"] = json!("  ");
        assert_eq!(
            parse_value(nameless).map_err(|e| e.0),
            Err("payee.payout.account_name")
        );
    }

    #[test]
    fn settings_name_a_bank_account_or_a_wallet() {
        assert!(matches!(
            from_setting("bank:058:0124775489:Platform Ltd"),
            Ok(FincraDestination::BankAccount { account_name, .. }) if account_name == "Platform Ltd"
        ));
        assert!(matches!(
            from_setting("mpesa:254700000099"),
            Ok(FincraDestination::MobileMoney { .. })
        ));
        assert!(from_setting("bank:058:12").is_err());
        assert!(from_setting("wallet:1").is_err());
    }

    #[test]
    fn wallets_are_kenyan_and_currencies_match_the_destination() {
        let wallet = parse_value(json!({"destination": "mobile_money", "msisdn": "254700000001"}))
            .expect("wallet");
        assert!(pays_out(&wallet, Currency::Kes).is_ok());
        assert!(pays_out(&wallet, Currency::Ngn).is_err());
        assert_eq!(
            parse_value(json!({"destination": "mobile_money", "msisdn": "0700000001"}))
                .map_err(|e| e.0),
            Err("payee.payout.msisdn")
        );
        assert_eq!(
            parse_value(json!({"destination": "wallet"})).map_err(|e| e.0),
            Err("payee.payout.destination")
        );
    }
}
