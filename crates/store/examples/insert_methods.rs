//! Measures the two ways to bulk-insert result rows: binary `COPY ... FROM
//! STDIN` and a multi-row `INSERT ... SELECT FROM UNNEST(...)`.
//!
//! Usage: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo run --release -p pitot-store --example insert_methods [ROWS] [BATCH]`
//!
//! Rows look like django-asv's: one value, full statistics and 10 samples.
//! Both methods write into a temporary copy of the `results` columns with
//! the same two indexes, in batches of BATCH rows (default 55, the rows of
//! one django-asv results file), one transaction per batch as the ingest
//! does. The ingest uses `COPY`; see docs/benchmarks.md for the numbers.

use std::time::Instant;

use sqlx::{Connection, PgConnection};

const SAMPLES_PER_ROW: usize = 10;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rows: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100_000);
    let batch: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(55);
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set")?;
    let mut conn = PgConnection::connect(&url).await?;

    for method in ["copy", "unnest", "copy", "unnest"] {
        create_table(&mut conn).await?;
        let started = Instant::now();
        let mut first = 0;
        while first < rows {
            let count = batch.min(rows - first);
            let mut tx = conn.begin().await?;
            match method {
                "copy" => insert_with_copy(&mut tx, first, count).await?,
                _ => insert_with_unnest(&mut tx, first, count).await?,
            }
            tx.commit().await?;
            first += count;
        }
        let seconds = started.elapsed().as_secs_f64();
        println!("{method:>6}: {rows} rows in {seconds:.2} s, {:.0} rows/s", rows as f64 / seconds);
    }
    Ok(())
}

async fn create_table(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(
        "DROP TABLE IF EXISTS bench_results;
         CREATE TEMP TABLE bench_results (
             run_id bigint NOT NULL, series_id bigint NOT NULL, value double precision,
             ci_99_low double precision, ci_99_high double precision,
             benchmark_id integer NOT NULL, combination integer NOT NULL,
             samples double precision[],
             PRIMARY KEY (run_id, benchmark_id, combination));
         CREATE INDEX ON bench_results (series_id) INCLUDE (value, ci_99_low, ci_99_high);",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The synthetic row `index`: run, series, benchmark and its numbers.
fn row(index: usize) -> (i64, i64, i32, f64, Vec<f64>) {
    let value = 1e-6 * (1.0 + (index % 997) as f64);
    let samples = (0..SAMPLES_PER_ROW).map(|k| value * (1.0 + k as f64 * 1e-3)).collect();
    ((index / 55) as i64, (index % 7_500) as i64, (index % 55) as i32, value, samples)
}

async fn insert_with_copy(conn: &mut PgConnection, first: usize, count: usize) -> Result<(), sqlx::Error> {
    let mut bytes = Vec::with_capacity(count * 200);
    bytes.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    bytes.extend_from_slice(&[0; 8]);
    for index in first..first + count {
        let (run_id, series_id, benchmark_id, value, samples) = row(index);
        bytes.extend_from_slice(&8i16.to_be_bytes());
        for v in [run_id, series_id] {
            bytes.extend_from_slice(&8i32.to_be_bytes());
            bytes.extend_from_slice(&v.to_be_bytes());
        }
        for v in [value, value * 0.9, value * 1.1] {
            bytes.extend_from_slice(&8i32.to_be_bytes());
            bytes.extend_from_slice(&v.to_be_bytes());
        }
        for v in [benchmark_id, 0] {
            bytes.extend_from_slice(&4i32.to_be_bytes());
            bytes.extend_from_slice(&v.to_be_bytes());
        }
        let array_len = 20 + samples.len() * 12;
        bytes.extend_from_slice(&(array_len as i32).to_be_bytes());
        for header in [1i32, 0, 701, samples.len() as i32, 1] {
            bytes.extend_from_slice(&header.to_be_bytes());
        }
        for v in samples {
            bytes.extend_from_slice(&8i32.to_be_bytes());
            bytes.extend_from_slice(&v.to_be_bytes());
        }
    }
    bytes.extend_from_slice(&(-1i16).to_be_bytes());
    let mut copy = conn
        .copy_in_raw(
            "COPY bench_results (run_id, series_id, value, ci_99_low, ci_99_high, benchmark_id, combination, samples)
             FROM STDIN (FORMAT binary)",
        )
        .await?;
    copy.send(bytes).await?;
    copy.finish().await?;
    Ok(())
}

/// UNNEST cannot take an array of arrays of different lengths, so the
/// samples travel as one flat array plus each row's offset and length.
async fn insert_with_unnest(conn: &mut PgConnection, first: usize, count: usize) -> Result<(), sqlx::Error> {
    let (mut runs, mut series, mut benchmarks, mut values, mut lows, mut highs) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut flat, mut offsets, mut lengths) = (vec![], vec![], vec![]);
    for index in first..first + count {
        let (run_id, series_id, benchmark_id, value, samples) = row(index);
        runs.push(run_id);
        series.push(series_id);
        benchmarks.push(benchmark_id);
        values.push(value);
        lows.push(value * 0.9);
        highs.push(value * 1.1);
        offsets.push(flat.len() as i32);
        lengths.push(samples.len() as i32);
        flat.extend(samples);
    }
    sqlx::query(
        "INSERT INTO bench_results (run_id, series_id, value, ci_99_low, ci_99_high, benchmark_id, combination, samples)
         SELECT r, s, v, lo, hi, b, 0, ($7::float8[])[o + 1 : o + n]
         FROM UNNEST($1::int8[], $2::int8[], $3::float8[], $4::float8[], $5::float8[], $6::int4[], $8::int4[], $9::int4[])
              AS input(r, s, v, lo, hi, b, o, n)",
    )
    .bind(&runs)
    .bind(&series)
    .bind(&values)
    .bind(&lows)
    .bind(&highs)
    .bind(&benchmarks)
    .bind(&flat)
    .bind(&offsets)
    .bind(&lengths)
    .execute(conn)
    .await?;
    Ok(())
}
