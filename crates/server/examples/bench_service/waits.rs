//! The activity of the server's database connections during a run,
//! sampled from `pg_stat_activity` every few milliseconds.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::database::BENCH_APPLICATION;

/// How many characters of an active connection's statement name it in
/// the output.
const QUERY_PREFIX: i32 = 60;

/// How often `pg_stat_activity` is read.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(10);

/// A running sampler; [`WaitSampler::finish`] stops it and returns the counts.
pub struct WaitSampler {
    stop: CancellationToken,
    task: JoinHandle<WaitCounts>,
}

/// How many times a connection was seen in each activity.
#[derive(Default)]
pub struct WaitCounts {
    samples: usize,
    by_activity: HashMap<String, usize>,
}

impl WaitSampler {
    /// Starts sampling the connections to `database` other than the
    /// benchmark's own, through `pool`.
    pub fn start(pool: PgPool, database: String) -> WaitSampler {
        let stop = CancellationToken::new();
        let task = tokio::spawn(sample(pool, database, stop.clone()));
        WaitSampler { stop, task }
    }

    /// Stops sampling and returns the counts.
    pub async fn finish(self) -> WaitCounts {
        self.stop.cancel();
        self.task.await.unwrap_or_default()
    }
}

impl WaitCounts {
    /// Prints the activities by the average number of connections in them,
    /// most first.
    pub fn print(&self) {
        if self.samples == 0 {
            println!("  database connections: no samples");
            return;
        }
        println!(
            "  server connections, average number in each activity ({} samples of pg_stat_activity):",
            self.samples
        );
        let mut rows: Vec<(&String, &usize)> = self.by_activity.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (activity, count) in rows {
            println!(
                "    {:>6.2}  {activity}",
                *count as f64 / self.samples as f64
            );
        }
    }
}

async fn sample(pool: PgPool, database: String, stop: CancellationToken) -> WaitCounts {
    let mut counts = WaitCounts::default();
    let mut interval = tokio::time::interval(SAMPLE_INTERVAL);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return counts,
            _ = interval.tick() => {}
        }
        // `active` without a wait event is running on a CPU or waiting for
        // one. `idle in transaction` waits for pitot's next statement. An
        // active connection is also named by the start of its statement.
        let rows: Result<Vec<(String,)>, _> = sqlx::query_as(
            "SELECT CASE
                 WHEN state = 'active' AND wait_event IS NULL THEN 'active: on CPU'
                 WHEN state = 'active' THEN 'active: waiting on ' || wait_event_type || '/' || wait_event
                 ELSE coalesce(state, 'unknown')
               END
               || CASE WHEN state = 'active'
                    THEN ': ' || left(regexp_replace(query, '\\s+', ' ', 'g'), $3)
                    ELSE ''
                  END
             FROM pg_stat_activity
             WHERE datname = $1 AND application_name <> $2 AND backend_type = 'client backend'",
        )
        .bind(&database)
        .bind(BENCH_APPLICATION)
        .bind(QUERY_PREFIX)
        .fetch_all(&pool)
        .await;
        let Ok(rows) = rows else {
            continue;
        };
        counts.samples += 1;
        for (activity,) in rows {
            *counts.by_activity.entry(activity).or_default() += 1;
        }
    }
}
