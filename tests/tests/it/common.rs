//! Helpers shared by the integration tests.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use rill_core::{ExecutionEnvironment, SessionConfig};

/// An environment with `partitions` subtasks per operator and small batches, so that even
/// small inputs cross exchanges in several batches.
pub fn env(partitions: usize) -> ExecutionEnvironment {
    let config = SessionConfig {
        target_partitions: partitions,
        batch_size: 128,
        ..Default::default()
    };
    rill_scheduler::local_environment_with(config)
}

/// An environment with `partitions` subtasks per operator, batches of `batch_size` rows and
/// the given execution mode (batch, streaming or from the sources).
pub fn env_in_mode(partitions: usize, batch_size: usize, mode: rill_core::ExecutionMode) -> ExecutionEnvironment {
    let config = SessionConfig {
        target_partitions: partitions,
        batch_size,
        execution_mode: mode,
        ..Default::default()
    };
    rill_scheduler::local_environment_with(config)
}

/// `n` rows: k = i % groups, v = i, f = i / 2, s = "s{i % 5}", split into batches of 100.
pub fn sample_batches(n: i64, groups: i64) -> Vec<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("v", DataType::Int64, false),
        Field::new("f", DataType::Float64, false),
        Field::new("s", DataType::Utf8, false),
    ]));
    (0..n)
        .collect::<Vec<_>>()
        .chunks(100)
        .map(|chunk| {
            let columns: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from(chunk.iter().map(|i| i % groups).collect::<Vec<_>>())),
                Arc::new(Int64Array::from(chunk.to_vec())),
                Arc::new(Float64Array::from(
                    chunk.iter().map(|i| *i as f64 / 2.0).collect::<Vec<_>>(),
                )),
                Arc::new(StringArray::from(
                    chunk.iter().map(|i| format!("s{}", i % 5)).collect::<Vec<_>>(),
                )),
            ];
            RecordBatch::try_new(Arc::clone(&schema), columns).expect("valid batch")
        })
        .collect()
}

/// All rows of the batches as sorted text lines (order-insensitive comparison).
pub fn sorted_rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut rows = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            let cells: Vec<String> = b
                .columns()
                .iter()
                .map(|c| rill_tests::slt::render_cell(c.as_ref(), r).expect("renders"))
                .collect();
            rows.push(cells.join("|"));
        }
    }
    rows.sort();
    rows
}

/// All rows in order as text lines.
pub fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut rows = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            let cells: Vec<String> = b
                .columns()
                .iter()
                .map(|c| rill_tests::slt::render_cell(c.as_ref(), r).expect("renders"))
                .collect();
            rows.push(cells.join("|"));
        }
    }
    rows
}
