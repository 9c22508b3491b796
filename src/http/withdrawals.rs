//! `POST /v1/payouts` (a withdrawal from the client's balance), `GET /v1/payouts/{id}`,
//! `GET /v1/balances` and `GET /v1/balance_transactions`.

use std::str::FromStr;

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::StatusCode,
    response::Response,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    AppState,
    auth::Caller,
    extract::{IdempotencyKey, JsonBody, PathParam},
    idempotency,
    problem::{ApiError, FieldError},
};
use crate::{
    db::{
        balances::{self, BalanceRow, BalanceTransaction},
        payouts::{self, NewWithdrawal, WithdrawalView},
    },
    domain::{
        Currency, Money, PayoutDestination,
        new_intent::{MAX_METADATA_BYTES, invoice_pays, parse_amount, parse_payout_destination},
        validation::is_safe_identifier,
    },
    escrow::withdraw::{self, WithdrawRefusal},
};

/// Pays out of the client's balance.
#[utoipa::path(post, path = "/v1/payouts", tag = "intents",
    params(("Idempotency-Key" = String, Header, description = "a repeat replays the first answer")),
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "amount (decimal string), currency, destination {provider, …}, optional reference, metadata"),
    responses((status = 201, description = "the payout", body = serde_json::Value),
        (status = 400, body = super::openapi::Problem), (status = 409, body = super::openapi::Problem),
        (status = 422, body = super::openapi::Problem)),
    security(("client_key" = [])))]
#[tracing::instrument(skip_all, fields(client = %caller.id))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let withdrawal = parse(&body.object, caller.id).map_err(ApiError::Validation)?;
    let provider = withdrawal.destination.provider();
    if let Some(missing) = state.provider_gate.missing_setting(provider) {
        return Err(ApiError::Unprocessable(format!(
            "provider {provider} is not configured on this server: set {missing}"
        )));
    }
    if let PayoutDestination::Fincra(fincra) = &withdrawal.destination {
        super::fincra_check::check_bank(&state, "destination.bank_code", fincra).await?;
    }
    idempotency::once(
        &state.pool,
        caller.id,
        &key.0,
        "/v1/payouts",
        &body.raw,
        || async {
            let mut tx = state.pool.begin().await?;
            let payout = match withdraw::request(&mut tx, &withdrawal).await? {
                Ok(payout) => payout,
                Err(WithdrawRefusal::Overdraft) => {
                    drop(tx);
                    let mut conn = state.pool.acquire().await?;
                    let currency = withdrawal.amount.currency();
                    let available = balances::available(&mut conn, caller.id, currency).await?;
                    return Err(ApiError::Validation(vec![FieldError::new(
                        "amount",
                        format!(
                            "exceeds the available balance: {} {currency} available",
                            crate::domain::format_amount(available, currency)
                        ),
                    )]));
                }
                Err(refusal @ WithdrawRefusal::ReferenceTaken(_)) => {
                    return Err(ApiError::AlreadyExists(refusal.to_string()));
                }
            };
            let view = payouts::withdrawal_view(&mut tx, caller.id, payout)
                .await?
                .ok_or_else(|| {
                    anyhow::anyhow!("payout {payout} vanished inside its own transaction")
                })?;
            idempotency::commit_answer(tx, caller.id, &key.0, StatusCode::CREATED, &view).await
        },
    )
    .await
}

/// One of the client's payouts from its balance.
#[utoipa::path(get, path = "/v1/payouts/{id}", tag = "intents", params(("id" = String, Path, description = "payout id (UUID)")),
    responses((status = 200, description = "the payout", body = serde_json::Value),
        (status = 404, body = super::openapi::Problem)),
    security(("client_key" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
) -> Result<Json<WithdrawalView>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no payout with id `{id}`"));
    let parsed = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let mut conn = state.pool.acquire().await?;
    payouts::withdrawal_view(&mut conn, caller.id, parsed)
        .await?
        .map(Json)
        .ok_or_else(not_found)
}

/// The client's balances per currency: available, and pending in withdrawals under way.
#[utoipa::path(get, path = "/v1/balances", tag = "intents",
    responses((status = 200, description = "the balances", body = serde_json::Value)),
    security(("client_key" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<BalanceRow>>, ApiError> {
    Ok(Json(balances::list(&state.pool, caller.id).await?))
}

/// A page of the balance statement.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    /// The last `id` of the previous page.
    cursor: Option<i64>,
    /// Rows, 1–500 (default 50).
    limit: Option<i64>,
}

/// Every movement of the client's balance, newest first (`cursor` = the last id seen).
#[utoipa::path(get, path = "/v1/balance_transactions", tag = "intents",
    params(("cursor" = Option<i64>, Query, description = "the last id of the previous page"),
           ("limit" = Option<i64>, Query, description = "1–500, default 50")),
    responses((status = 200, description = "the movements", body = serde_json::Value),
        (status = 400, body = super::openapi::Problem)),
    security(("client_key" = [])))]
pub async fn statement(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<StatementQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query
        .map_err(|e| ApiError::BadRequest(format!("invalid query string: {}", e.body_text())))?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1–500".to_owned()));
    }
    let rows: Vec<BalanceTransaction> =
        balances::transactions(&state.pool, caller.id, query.cursor, limit).await?;
    let next = (rows.len() == usize::try_from(limit).unwrap_or(0))
        .then(|| rows.last().map(|row| row.id))
        .flatten();
    Ok(Json(serde_json::json!({"data": rows, "next_cursor": next})))
}

/// The withdrawal `body` asks for, or every field error it has (in field order).
fn parse(body: &Map<String, Value>, client: Uuid) -> Result<NewWithdrawal, Vec<FieldError>> {
    const KNOWN: [&str; 5] = ["amount", "currency", "destination", "reference", "metadata"];
    let mut errors: Vec<FieldError> = body
        .keys()
        .filter(|k| !KNOWN.contains(&k.as_str()))
        .map(|k| FieldError::new(k.clone(), "is not a known field"))
        .collect();
    let currency = currency_field(body, &mut errors);
    let amount = amount_field(body, currency, &mut errors);
    let destination = destination_field(body, &mut errors);
    if let (Some(destination), Some(amount)) = (&destination, amount) {
        errors.extend(destination_can_pay(destination, amount));
    }
    let reference = reference_field(body, &mut errors);
    let metadata = metadata_field(body, &mut errors);
    match (amount, destination) {
        (Some(amount), Some(destination)) if errors.is_empty() => Ok(NewWithdrawal {
            client,
            amount,
            destination,
            reference,
            metadata,
        }),
        _ => Err(errors),
    }
}

fn currency_field(body: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<Currency> {
    match body.get("currency") {
        Some(Value::String(code)) => Currency::from_str(code)
            .map_err(|e| errors.push(FieldError::new("currency", e.to_string())))
            .ok(),
        _ => {
            errors.push(FieldError::new("currency", "is required, like \"KES\""));
            None
        }
    }
}

/// The amount in `currency` (none when the currency itself is missing or unknown).
fn amount_field(
    body: &Map<String, Value>,
    currency: Option<Currency>,
    errors: &mut Vec<FieldError>,
) -> Option<Money> {
    match body.get("amount") {
        Some(Value::String(text)) => parse_amount(Some(&format!("\"{text}\"")))
            .ok()
            .filter(|a| a.is_sign_positive() && !a.is_zero())
            .and_then(|a| currency.and_then(|c| Money::new(a, c).ok()))
            .or_else(|| {
                errors.push(FieldError::new(
                    "amount",
                    "must be a positive decimal string in the currency's units, like \"400.00\"",
                ));
                None
            }),
        _ => {
            errors.push(FieldError::new(
                "amount",
                "is required: a decimal string like \"400.00\"",
            ));
            None
        }
    }
}

/// The destination, parsed as an intent's payee payout is (its errors named under
/// `destination`).
fn destination_field(
    body: &Map<String, Value>,
    errors: &mut Vec<FieldError>,
) -> Option<PayoutDestination> {
    match body.get("destination") {
        Some(Value::Object(destination)) => parse_payout_destination(destination)
            .map_err(|(field, message)| {
                let field = field.replacen("payee.payout", "destination", 1);
                errors.push(FieldError::new(field, message));
            })
            .ok(),
        _ => {
            errors.push(FieldError::new(
                "destination",
                "is required: {\"provider\": \"mpesa\", \"msisdn\": …} or another payout destination",
            ));
            None
        }
    }
}

fn reference_field(body: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<String> {
    match body.get("reference") {
        None | Some(Value::Null) => None,
        Some(Value::String(text))
            if !text.is_empty() && text.len() <= 128 && is_safe_identifier(text) =>
        {
            Some(text.clone())
        }
        Some(_) => {
            errors.push(FieldError::new(
                "reference",
                "must be 1–128 characters without control characters",
            ));
            None
        }
    }
}

fn metadata_field(body: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Value {
    match body.get("metadata") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(Value::Object(map))
            if serde_json::to_vec(map).map_or(usize::MAX, |v| v.len()) <= MAX_METADATA_BYTES
                && !serde_json::to_string(map).is_ok_and(|text| text.contains("\\u0000")) =>
        {
            Value::Object(map.clone())
        }
        Some(_) => {
            errors.push(FieldError::new(
                "metadata",
                format!("must be an object of at most {MAX_METADATA_BYTES} bytes"),
            ));
            Value::Null
        }
    }
}

/// What stops `destination` from receiving `amount`: a provider that does not carry the
/// currency, fractional shillings for M-Pesa, a Fincra destination for another currency, a
/// Lightning invoice missing or for another amount.
fn destination_can_pay(destination: &PayoutDestination, amount: Money) -> Vec<FieldError> {
    let mut found = Vec::new();
    let provider = destination.provider();
    if !provider.carries(amount.currency()) {
        found.push(FieldError::new(
            "destination.provider",
            format!("{provider} cannot pay out {}", amount.currency()),
        ));
    }
    match destination {
        PayoutDestination::Mpesa { .. } if !amount.is_whole() => found.push(FieldError::new(
            "amount",
            "M-Pesa pays whole shillings only",
        )),
        PayoutDestination::Fincra(fincra) => {
            if let Err(why) = crate::domain::fincra_destination::pays_out(fincra, amount.currency())
            {
                found.push(FieldError::new("destination.destination", why));
            }
        }
        PayoutDestination::Lightning { bolt11: None } => found.push(FieldError::new(
            "destination.bolt11",
            "is required: an invoice for the amount",
        )),
        PayoutDestination::Lightning {
            bolt11: Some(invoice),
        } => {
            if let Err(why) = invoice_pays(invoice, amount) {
                found.push(FieldError::new("destination.bolt11", why));
            }
        }
        _ => {}
    }
    found
}
