//! The `nexmark` connector of `CREATE TABLE … WITH ('connector' = 'nexmark', …)` and the
//! committed query texts (`benchmarks/queries/nexmark/`).
//!
//! Options: `table` (`person`, `auction` or `bid`, required), `events` (the number of events
//! of all three kinds; absent: unbounded), `rate` (events per second of event time, default
//! 10,000,000 as in Flink's Nexmark), `seed` (default 0), `rate-limit` (events per second of
//! wall-clock time, default none).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use rill_core::catalog::{Connector, TableSource};
use rill_core::{ExecutionEnvironment, RillError};
use rill_exec::datasource::SourceTable;

use super::source::{NexmarkSourceFactory, NexmarkTable};
use super::NexmarkConfig;

/// The `nexmark` connector.
#[derive(Debug, Default)]
pub struct NexmarkConnector;

fn number(options: &BTreeMap<String, String>, table: &str, key: &str) -> rill_core::Result<Option<u64>> {
    options
        .get(key)
        .map(|v| {
            v.replace('_', "").parse::<u64>().map_err(|_| {
                RillError::invalid_plan(format!(
                    "table {table}: option '{key}' must be a whole number, got '{v}'"
                ))
            })
        })
        .transpose()
}

impl Connector for NexmarkConnector {
    fn create_source(
        &self,
        table: &str,
        _schema: SchemaRef,
        options: &BTreeMap<String, String>,
    ) -> rill_core::Result<Arc<dyn TableSource>> {
        let which = options.get("table").map(String::as_str).unwrap_or(table);
        let kind = NexmarkTable::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(which))
            .ok_or_else(|| {
                RillError::invalid_plan(format!(
                    "table {table}: option 'table' must be person, auction or bid, got '{which}'"
                ))
            })?;
        let mut config = NexmarkConfig {
            events: number(options, table, "events")?,
            ..NexmarkConfig::default()
        };
        if let Some(rate) = number(options, table, "rate")? {
            config.first_event_rate = rate;
        }
        if let Some(seed) = number(options, table, "seed")? {
            config.seed = seed;
        }
        config.rate_limit = number(options, table, "rate-limit")?;
        let factory = NexmarkSourceFactory::new(kind, config)?;
        let source = rill_exec::connectors::with_idle_timeout(SourceTable::new(Arc::new(factory)), table, options)?;
        Ok(Arc::new(source))
    }
}

/// Registers the `nexmark` connector in `env`.
pub fn register_nexmark_connector(env: &ExecutionEnvironment) {
    env.register_connector("nexmark", Arc::new(NexmarkConnector));
}

/// The Nexmark queries Rill runs, by name.
pub const QUERIES: &[(&str, &str)] = &[
    ("q0", include_str!("../../queries/nexmark/q0.sql")),
    ("q1", include_str!("../../queries/nexmark/q1.sql")),
    ("q2", include_str!("../../queries/nexmark/q2.sql")),
    ("q3", include_str!("../../queries/nexmark/q3.sql")),
    ("q5", include_str!("../../queries/nexmark/q5.sql")),
    ("q7", include_str!("../../queries/nexmark/q7.sql")),
    ("q8", include_str!("../../queries/nexmark/q8.sql")),
];

/// The text of query `name` (`q0`, `q1`, …).
pub fn query(name: &str) -> Option<&'static str> {
    QUERIES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, q)| *q)
}

/// Where the tables' rows come from.
#[derive(Debug, Clone)]
pub enum NexmarkData {
    /// The generator: `events` events (all kinds), `rate` events per second of event time.
    Generator {
        /// Events of all kinds; `None` for unbounded.
        events: Option<u64>,
        /// Events per second of event time.
        rate: u64,
        /// The seed.
        seed: u64,
    },
    /// Parquet files `person.parquet`, `auction.parquet`, `bid.parquet` in a folder (from
    /// `rill bench nexmark gen`).
    Parquet(std::path::PathBuf),
}

/// Creates the three tables (with their watermarks) in `env` by running the committed DDL.
///
/// # Errors
/// Bad options or missing files.
pub fn create_nexmark_tables(env: &ExecutionEnvironment, data: &NexmarkData) -> rill_core::Result<()> {
    register_nexmark_connector(env);
    let mut ddl = include_str!("../../queries/nexmark/ddl.sql").to_string();
    for t in NexmarkTable::ALL {
        let options = match data {
            NexmarkData::Generator { events, rate, seed } => {
                let events = events.map(|e| format!(", 'events' = '{e}'")).unwrap_or_default();
                format!(
                    "'connector' = 'nexmark', 'table' = '{}', 'rate' = '{rate}', 'seed' = '{seed}'{events}",
                    t.name()
                )
            }
            NexmarkData::Parquet(dir) => {
                let path = dir.join(format!("{}.parquet", t.name()));
                format!(
                    "'connector' = 'filesystem', 'format' = 'parquet', 'path' = '{}'",
                    path.display().to_string().replace('\'', "''")
                )
            }
        };
        ddl = ddl.replace(&format!("${{{}}}", t.name()), &options);
    }
    for stmt in env.parse_sql(&ddl)? {
        env.execute_statement(&stmt)?;
    }
    Ok(())
}
