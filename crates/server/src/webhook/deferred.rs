//! Applying deferred deliveries.
//!
//! A delivery whose transaction waited too long on a row lock, as a worker
//! holds one during a GitHub call, is stored with its payload as
//! `deferred` (see `apply::record_delivery`). This worker applies those
//! deliveries later, oldest first, in the same kind of transaction as the
//! webhook handler. Deliveries of one pull request are applied in the order
//! they arrived: a newer one waits while an older one is deferred.
//!
//! NOTE: the order holds for deliveries whose response was sent within
//! GitHub's 10 seconds (see [`SETTLE`]). A delivery whose transaction meets four or
//! more held locks in turn takes longer, and one that arrived after it may
//! be applied first.

use std::time::Duration;

use anyhow::Context as _;
use pitot_store::deliveries::{self, DeferredDelivery, DeferredFailure, DeliveryOutcome};

use super::apply::{after_commit, apply_event, begin_delivery};
use super::payload::parse_event;
use crate::blocking::run_blocking;
use crate::error::AppError;
use crate::state::AppState;

/// How often the worker looks for deferred deliveries. A deferred delivery
/// waits for a lock held during a GitHub call, which by estimate takes a
/// second or two, so a short interval applies it soon after.
const SCAN_INTERVAL: Duration = Duration::from_secs(5);

/// How long a deferred delivery waits before it is applied: GitHub's
/// response time limit for a delivery. By then every delivery that arrived
/// before it has its response, so it is applied or deferred too, and the
/// oldest is applied first.
const SETTLE: Duration = Duration::from_secs(10);

/// Runs the worker until the state's shutdown token is cancelled.
pub async fn run_deferred(state: AppState) {
    loop {
        if let Err(error) = apply_deferred(&state).await {
            tracing::warn!(
                error = format!("{error:#}"),
                "applying deferred webhook deliveries failed; retrying in {} seconds",
                SCAN_INTERVAL.as_secs()
            );
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tokio::time::sleep(SCAN_INTERVAL) => {}
        }
    }
}

/// Applies every deferred delivery that can be applied now and returns how
/// many were. Tests call it directly.
///
/// A delivery that fails stays deferred and is tried again in the next
/// round, as are the newer deliveries of its pull request. After
/// [`deliveries::MAX_DEFERRED_ATTEMPTS`] tries that did not just find a row
/// locked, or at once after a permanent error such as a payload that no
/// longer reads as its event, it is marked `failed`, with its payload kept
/// for the operator.
pub async fn apply_deferred(state: &AppState) -> anyhow::Result<usize> {
    let mut applied = 0;
    let mut tried = Vec::new();
    while !state.shutdown.is_cancelled() {
        let mut tx = begin_delivery(&state.pool).await?;
        let Some(deferred) = deliveries::lock_next_deferred(&mut tx, &tried, SETTLE).await? else {
            break;
        };
        tried.push(deferred.id);
        match apply_one(state, &mut tx, &deferred).await {
            Ok((outcome, job_id)) => {
                deliveries::finish_deferred(&mut *tx, deferred.id, outcome, job_id).await?;
                tx.commit()
                    .await
                    .context("failed to commit the deferred delivery")?;
                tracing::info!(
                    delivery_id = deferred.delivery_id,
                    event = deferred.event,
                    "deferred webhook delivery applied"
                );
                after_commit(state, outcome, job_id);
                applied += 1;
            }
            Err(error) => {
                tx.rollback()
                    .await
                    .context("failed to roll back the deferred delivery")?;
                record_failure(state, &deferred, &error).await?;
            }
        }
    }
    Ok(applied)
}

async fn apply_one(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    deferred: &DeferredDelivery,
) -> Result<(DeliveryOutcome, Option<i64>), AppError> {
    let event_name = deferred.event.clone();
    let payload = deferred.payload.clone();
    let event = run_blocking(move || parse_event(&event_name, &payload)).await??;
    apply_event(tx, state, &event).await
}

async fn record_failure(
    state: &AppState,
    deferred: &DeferredDelivery,
    error: &AppError,
) -> anyhow::Result<()> {
    // A payload that no longer parses, or that names something invalid,
    // fails the same way on every try.
    let failure = if error.is_lock_timeout() {
        DeferredFailure::Locked
    } else if error.is_permanent() {
        DeferredFailure::Permanent
    } else {
        DeferredFailure::Passing
    };
    let message = match error {
        AppError::Internal(error) => format!("{error:#}"),
        error => error.to_string(),
    };
    let failed =
        deliveries::record_deferred_failure(&state.pool, deferred.id, &message, failure).await?;
    if failed {
        tracing::error!(
            delivery_id = deferred.delivery_id,
            event = deferred.event,
            error = message,
            "gave up applying a deferred webhook delivery; its payload is kept in the deliveries table"
        );
    } else {
        tracing::warn!(
            delivery_id = deferred.delivery_id,
            event = deferred.event,
            attempts = deferred.attempts + 1,
            error = message,
            "failed to apply a deferred webhook delivery; retrying in {} seconds",
            SCAN_INTERVAL.as_secs()
        );
    }
    Ok(())
}
