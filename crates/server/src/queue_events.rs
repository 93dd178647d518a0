//! Waking waiting claims when a job is queued, and the reporter when a job
//! is queued or a report stored.
//!
//! Enqueueing sends `pg_notify` in its transaction, so the notification
//! arrives when the job is committed, from any server replica. Webhook
//! deliveries instead announce their jobs after the commit through
//! [`JobAnnouncer`], which sends one notification for all the jobs queued
//! while the previous one was on its way. One listener task per process
//! receives the notifications and wakes every waiting claim. The claims race
//! for the job, and `SKIP LOCKED` gives it to one of them.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pitot_store::commands::COMMAND_QUEUED_CHANNEL;
use pitot_store::job_reports::REPORT_STORED_CHANNEL;
use pitot_store::jobs::JOB_QUEUED_CHANNEL;
use pitot_store::releases::RELEASE_RECORDED_CHANNEL;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::futures::Notified;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::commands::CommandsWake;
use crate::reporter::ReporterWake;

/// How long the listener waits before connecting again after a failure.
const RECONNECT_DELAY: Duration = Duration::from_secs(2);

/// A broadcast of "a job may be waiting"; cheap to clone.
#[derive(Clone, Default)]
pub struct QueueEvents {
    notify: Arc<Notify>,
}

impl QueueEvents {
    /// Returns a future that completes at the next wake-up. Pin it and call
    /// `enable` before checking the queue, so a wake-up that comes between
    /// the check and the `await` is not lost.
    pub fn notified(&self) -> Notified<'_> {
        self.notify.notified()
    }

    /// Wakes every waiting claim.
    pub fn wake_all(&self) {
        self.notify.notify_waiters();
    }
}

/// Sends the job-queued notification for jobs that committed transactions
/// queued; cheap to clone.
///
/// A notification only makes listeners look at the queue, so one
/// notification serves every job queued before it is sent. A sender task
/// runs while announcements arrive and sends one notification per round
/// trip, however many jobs were announced during it. PostgreSQL holds one
/// lock for the whole cluster from a notifying transaction's commit until
/// it ends, so a notification in each of a burst of webhook transactions
/// would make their commits wait for each other.
///
/// A notification lost with the process, or to a failed send, delays the
/// job until waiting claims look at the queue on their own, every few
/// seconds.
#[derive(Clone, Default)]
pub struct JobAnnouncer {
    shared: Arc<Announcements>,
}

#[derive(Default)]
struct Announcements {
    /// A job was announced that no sent notification covers yet.
    pending: AtomicBool,
    /// A sender task is running.
    sending: AtomicBool,
    /// A recently announced job, sent as the notification's payload, which
    /// listeners do not read.
    latest_job: AtomicI64,
}

impl JobAnnouncer {
    /// Announces that `job_id` was queued and committed. Call it within a
    /// Tokio runtime. It returns at once.
    pub fn announce(&self, pool: &PgPool, job_id: i64) {
        let shared = &self.shared;
        shared.latest_job.store(job_id, Ordering::Relaxed);
        // Sequentially consistent, as in the sender. This store is followed
        // by a load of `sending`, and the sender's store of `sending` by a
        // load of `pending`, so at least one of the two loads reads the
        // other side's store and no announcement is left without a sender.
        shared.pending.store(true, Ordering::SeqCst);
        if !shared.sending.swap(true, Ordering::SeqCst) {
            tokio::spawn(send_announcements(pool.clone(), Arc::clone(shared)));
        }
    }
}

/// Sends notifications until no announcement is pending, then stops.
async fn send_announcements(pool: PgPool, shared: Arc<Announcements>) {
    loop {
        while shared.pending.swap(false, Ordering::SeqCst) {
            let job_id = shared.latest_job.load(Ordering::Relaxed);
            if let Err(error) = pitot_store::jobs::notify_job_queued(&pool, job_id).await {
                tracing::warn!(
                    job_id,
                    error = %error,
                    "failed to announce queued jobs; claims will find them when they next look"
                );
            }
        }
        shared.sending.store(false, Ordering::SeqCst);
        // An announcement made after the last swap but before the store
        // above found a sender still running and started none.
        if !shared.pending.load(Ordering::SeqCst) || shared.sending.swap(true, Ordering::SeqCst) {
            return;
        }
    }
}

/// Listens for job-queued and report-stored notifications until `shutdown`,
/// waking claims and the reporter, and reconnects after connection failures.
pub async fn run_listener(
    pool: PgPool,
    events: QueueEvents,
    reporter: ReporterWake,
    commands: CommandsWake,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        let mut listener = match connect(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(error = %error, "failed to listen for queued jobs; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(RECONNECT_DELAY) => continue,
                }
            }
        };
        // Jobs may have been queued while there was no listener.
        events.wake_all();
        reporter.wake();
        commands.wake();
        loop {
            let received = tokio::select! {
                _ = shutdown.cancelled() => return,
                received = listener.try_recv() => received,
            };
            match received {
                // The command worker also resolves recorded releases.
                Ok(Some(notification))
                    if notification.channel() == COMMAND_QUEUED_CHANNEL
                        || notification.channel() == RELEASE_RECORDED_CHANNEL =>
                {
                    commands.wake();
                }
                Ok(Some(notification)) => {
                    // A queued job needs a check run, a stored report its comment.
                    reporter.wake();
                    if notification.channel() == JOB_QUEUED_CHANNEL {
                        events.wake_all();
                    }
                }
                // The connection was lost and re-established; notifications
                // sent in between are gone, so let everyone look again.
                Ok(None) => {
                    events.wake_all();
                    reporter.wake();
                    commands.wake();
                }
                Err(error) => {
                    tracing::warn!(error = %error, "lost the queued-job listener; reconnecting");
                    break;
                }
            }
        }
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener
        .listen_all([
            JOB_QUEUED_CHANNEL,
            REPORT_STORED_CHANNEL,
            COMMAND_QUEUED_CHANNEL,
            RELEASE_RECORDED_CHANNEL,
        ])
        .await?;
    Ok(listener)
}
