//! The built-in connectors of `CREATE TABLE … WITH ('connector' = …)`:
//!
//! | connector | options | boundedness |
//! |---|---|---|
//! | `filesystem` | `path` (file, folder or glob), `format` (`parquet`, `csv`, `json`), `csv.header` (`true`), `csv.delimiter` (`,`) | bounded |
//!
//! Sources that are not files (sockets, watched folders, generators) plug in through
//! [`crate::datasource::SourceFactory`] and are registered here as they land.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use rill_core::catalog::{Connector, TableSource};
use rill_core::{FileFormat, ReadOptions, RillError};

use crate::datasource::open_files;

/// The names of the built-in connectors.
pub fn builtin_names() -> Vec<String> {
    vec!["filesystem".to_string()]
}

/// A built-in connector by (lower-case) name.
pub fn builtin(name: &str) -> Option<Arc<dyn Connector>> {
    match name {
        "filesystem" => Some(Arc::new(FilesystemConnector)),
        _ => None,
    }
}

/// A required option.
///
/// # Errors
/// The option is missing: the error names the table, the connector and the option.
pub fn required<'a>(options: &'a BTreeMap<String, String>, table: &str, key: &str) -> rill_core::Result<&'a str> {
    options.get(key).map(String::as_str).ok_or_else(|| {
        RillError::invalid_plan(format!(
            "table {table}: connector '{}' needs the option '{key}'",
            options.get("connector").map(String::as_str).unwrap_or("?")
        ))
    })
}

/// Files in Parquet, CSV or JSON lines.
#[derive(Debug)]
struct FilesystemConnector;

impl Connector for FilesystemConnector {
    fn create_source(
        &self,
        table: &str,
        schema: SchemaRef,
        options: &BTreeMap<String, String>,
    ) -> rill_core::Result<Arc<dyn TableSource>> {
        let path = required(options, table, "path")?;
        let format_name = required(options, table, "format")?;
        let format = FileFormat::parse(format_name).ok_or_else(|| {
            RillError::invalid_plan(format!(
                "table {table}: format '{format_name}' is not one of parquet, csv, json"
            ))
        })?;
        let mut read = ReadOptions::default();
        if format != FileFormat::Parquet {
            read.schema = Some(schema);
        }
        if let Some(h) = options.get("csv.header") {
            read.has_header = h.eq_ignore_ascii_case("true");
        }
        if let Some(d) = options.get("csv.delimiter") {
            read.delimiter = match d.as_bytes() {
                [b] => *b,
                _ => {
                    return Err(RillError::invalid_plan(format!(
                        "table {table}: csv.delimiter must be one character, got '{d}'"
                    )))
                }
            };
        }
        Ok(open_files(format, path, &read)?)
    }
}
