//! `POST /v1/intents` and `GET /v1/intents/{id}`.

use axum::{Json, extract::State, http::StatusCode, response::Response};
use serde::Deserialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::{
    AppState,
    auth::Caller,
    extract::{IdempotencyKey, JsonBody, PathParam},
    idempotency,
    problem::{ApiError, FieldError},
};
use crate::{
    db::intents,
    domain::{NewIntent, PayoutDestination},
    providers::paystack::RecipientCheck,
};

#[derive(Deserialize)]
struct RawAmount<'a> {
    #[serde(borrow)]
    amount: Option<&'a RawValue>,
}

/// Creates an intent: the row, its first event, its first job and the idempotent response are
/// written in one transaction; no provider is called here (the `initiate_deposit` job does it).
#[utoipa::path(post, path = "/v1/intents", tag = "intents",
    params(("Idempotency-Key" = String, Header, description = "1–255 visible ASCII characters; a repeat replays the first answer")),
    request_body(content = serde_json::Value, content_type = "application/json",
        description = "amount (decimal string), currency, provider (paystack, mpesa, lightning, fincra: a Fincra checkout, NGN or KES, buyer {email}; next_action {type: checkout_link, link, reference}), buyer, payee (payout: mpesa msisdn, paystack recipient_code, lightning bolt11, or fincra bank_account {bank_code, account_number, account_name} / mobile_money {msisdn}, or balance: the share settles into your balance), optional commission_bps, commission_fixed_fee (decimal string), reference, metadata"),
    responses((status = 201, description = "the intent", body = serde_json::Value),
        (status = 400, body = super::openapi::Problem), (status = 401, body = super::openapi::Problem),
        (status = 409, body = super::openapi::Problem), (status = 422, body = super::openapi::Problem)),
    security(("client_key" = [])))]
#[tracing::instrument(skip_all, fields(client = %caller.id))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    body: JsonBody,
) -> Result<Response, ApiError> {
    // The amount's exact text: serde_json would round a JSON number through f64.
    let raw_amount = serde_json::from_slice::<RawAmount<'_>>(&body.raw)
        .ok()
        .and_then(|raw| raw.amount.map(|a| a.get().to_owned()));
    let intent = NewIntent::parse(&body.object, raw_amount.as_deref(), caller.commission_bps)
        .map_err(ApiError::Validation)?;
    if let Some(missing) = state.provider_gate.missing_deposit_setting(intent.provider) {
        return Err(ApiError::Unprocessable(format!(
            "provider {} is not configured on this server: set {missing}",
            intent.provider
        )));
    }

    check_destination(&state, &intent).await?;
    super::fincra_check::check(&state, &intent).await?;

    idempotency::once(
        &state.pool,
        caller.id,
        &key.0,
        "/v1/intents",
        &body.raw,
        || insert_intent(&state, &caller, &key, &intent),
    )
    .await
}

/// A reference already in use: a refusal of the request itself (the unique index decides, so
/// two requests naming it at once cannot both pass); nothing is stored under the key.
fn duplicate_reference(reference: &str) -> ApiError {
    ApiError::AlreadyExists(format!(
        "you already have an intent with reference `{reference}`; references are unique per client"
    ))
}

/// A Paystack payout recipient is checked with Paystack when it is given: an unknown or
/// inactive one is a 422 now, not a payout that fails after release. When Paystack cannot be
/// asked (timeout, outage) the intent is still accepted: a payout to a bad destination fails
/// safely and its share can be sent elsewhere.
async fn check_destination(state: &AppState, intent: &NewIntent) -> Result<(), ApiError> {
    let (Some(client), Some(PayoutDestination::Paystack { recipient_code })) = (
        &state.recipient_checks,
        intent
            .payee
            .as_ref()
            .and_then(|payee| payee.payout.destination()),
    ) else {
        return Ok(());
    };
    match client
        .check_recipient(recipient_code, intent.amount.currency())
        .await
    {
        Ok(RecipientCheck::Usable) => Ok(()),
        Ok(RecipientCheck::Unusable(why)) => Err(ApiError::Validation(vec![FieldError::new(
            "payee.payout.recipient_code",
            why,
        )])),
        Err(error) => {
            tracing::warn!(%error, "Paystack could not be asked about the recipient; accepting it");
            Ok(())
        }
    }
}

async fn insert_intent(
    state: &AppState,
    caller: &Caller,
    key: &IdempotencyKey,
    intent: &NewIntent,
) -> Result<Response, ApiError> {
    let id = Uuid::now_v7();
    let mut tx = state.pool.begin().await?;
    intents::insert(&mut tx, id, caller.id, intent)
        .await
        .map_err(|error| match &error {
            // A reference names one intent per client: never a second one silently.
            sqlx::Error::Database(db) if db.constraint() == Some("intents_client_reference") => {
                duplicate_reference(intent.reference.as_deref().unwrap_or_default())
            }
            _ => ApiError::from(error),
        })?;
    let view = intents::view(&mut tx, Some(caller.id), id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("intent {id} vanished inside its own transaction"))?;
    // `intents::insert` left the workers' wake-up for its deposit job to this ring, which goes
    // out once the commit below is over, however this handler ends.
    let _ring = state
        .bell
        .ring_when_dropped(<malipo_jobs::InitiateDeposit as malipo_jobs::Job>::QUEUE);
    let response =
        idempotency::commit_answer(tx, caller.id, &key.0, StatusCode::CREATED, &view).await?;
    tracing::info!(intent_id = %id, provider = %intent.provider, "intent created");
    Ok(response)
}

/// Intent `id` of `caller`, row-locked for `tx`; 404 when it does not exist or belongs to
/// another client (the actions on one intent share this first step).
pub(super) async fn load_owned(
    tx: &mut sqlx::PgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<intents::IntentRecord, ApiError> {
    intents::load(tx, id, true)
        .await?
        .filter(|intent| intent.client_id == caller.id)
        .ok_or_else(|| ApiError::NotFound(format!("no intent with id `{id}`")))
}

/// Reads one of the caller's intents.
#[utoipa::path(get, path = "/v1/intents/{id}", tag = "intents", params(("id" = String, Path, description = "intent id (UUID)")),
    responses((status = 200, description = "the intent", body = serde_json::Value),
        (status = 404, body = super::openapi::Problem)),
    security(("client_key" = [])))]
#[tracing::instrument(skip_all, fields(client = %caller.id, intent_id = %id))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
) -> Result<Json<intents::IntentView>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no intent with id `{id}`"));
    let parsed = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let mut conn = state.pool.acquire().await?;
    let view = intents::view(&mut conn, Some(caller.id), parsed)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(view))
}
