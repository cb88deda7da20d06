//! `PrintSinkExec`: prints every row of its input in Flink's print format, for examples,
//! debugging and the REPL.
//!
//! A row prints as `+I[v1, v2, ...]` (values as Arrow displays them, NULL as `null`), after a
//! prefix that says where it comes from, as Flink's `print()` does: `<subtask+1>> ` when
//! the parallelism is above 1 (subtasks are numbered from 1 there), with `<identifier>:` in
//! front when the sink has an identifier, or `<identifier>> ` alone at parallelism 1. Each
//! batch is formatted into one buffer (one formatter per column, no allocation per value)
//! and written with one call.
//!
//! Rows are not passed on. At the end of its input each subtask emits one row,
//! `(subtask: UInt32, files: UInt64, rows: UInt64)` with `files` 0, like
//! [`crate::operators::file_sink::FileSinkExec`], so a bounded job's result says how many
//! rows were printed. Watermarks are forwarded.

use std::any::Any;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::file_sink::{sink_result, sink_result_schema};
use crate::error::{ExecError, Result};
use crate::operator::{Operator, OperatorContext, Output};
use crate::plan::{ExecutionPlan, Instance};

/// Where a [`PrintSinkExec`] prints.
#[derive(Debug, Clone, Default)]
pub enum PrintTarget {
    /// The process's standard output.
    #[default]
    Stdout,
    /// The process's standard error.
    Stderr,
    /// An in-memory buffer shared by all subtasks (for tests and embedding).
    Buffer(Arc<Mutex<Vec<u8>>>),
}

/// Prints its input's rows (see the module docs).
#[derive(Debug)]
pub struct PrintSinkExec {
    input: Arc<dyn ExecutionPlan>,
    identifier: Option<String>,
    target: PrintTarget,
    schema: SchemaRef,
}

impl PrintSinkExec {
    /// A sink that prints `input`'s rows to standard output.
    pub fn new(input: Arc<dyn ExecutionPlan>) -> Self {
        PrintSinkExec {
            input,
            identifier: None,
            target: PrintTarget::Stdout,
            schema: sink_result_schema(),
        }
    }

    /// Names the sink in every printed line's prefix.
    pub fn with_identifier(mut self, identifier: impl Into<String>) -> Self {
        self.identifier = Some(identifier.into()).filter(|s: &String| !s.is_empty());
        self
    }

    /// Where to print.
    pub fn with_target(mut self, target: PrintTarget) -> Self {
        self.target = target;
        self
    }

    /// The input.
    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }
}

/// The prefix of subtask `subtask` of `parallelism`, as Flink's print sink writes it.
fn prefix(identifier: Option<&str>, subtask: usize, parallelism: usize) -> String {
    match (identifier, parallelism > 1) {
        (Some(id), true) => format!("{id}:{}> ", subtask + 1),
        (None, true) => format!("{}> ", subtask + 1),
        (Some(id), false) => format!("{id}> "),
        (None, false) => String::new(),
    }
}

impl ExecutionPlan for PrintSinkExec {
    fn name(&self) -> &'static str {
        "PrintSinkExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        vec![Arc::clone(&self.input)]
    }

    fn parallelism(&self) -> usize {
        self.input.parallelism()
    }

    fn describe(&self) -> String {
        let target = match &self.target {
            PrintTarget::Stdout => "stdout",
            PrintTarget::Stderr => "stderr",
            PrintTarget::Buffer(_) => "buffer",
        };
        match &self.identifier {
            Some(id) => format!("target={target}, identifier={id}"),
            None => format!("target={target}"),
        }
    }

    fn instantiate(&self, subtask: usize) -> Result<Instance> {
        Ok(Instance::Operator(Box::new(PrintSinkOperator {
            prefix: prefix(self.identifier.as_deref(), subtask, self.parallelism()),
            target: self.target.clone(),
            schema: Arc::clone(&self.schema),
            subtask,
            rows: 0,
            buf: String::new(),
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The runtime of [`PrintSinkExec`].
struct PrintSinkOperator {
    prefix: String,
    target: PrintTarget,
    schema: SchemaRef,
    subtask: usize,
    rows: u64,
    /// Reused text buffer of one batch.
    buf: String,
}

/// Appends the lines of `batch` to `buf`.
fn format_batch(batch: &RecordBatch, prefix: &str, buf: &mut String) -> Result<()> {
    let options = FormatOptions::default().with_null("null");
    let formatters = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| ExecError::arrow("PrintSinkExec formatting", e))?;
    let fmt_err = |e: std::fmt::Error| crate::exec_internal!("formatting into a String failed: {e}");
    for row in 0..batch.num_rows() {
        buf.push_str(prefix);
        buf.push_str("+I[");
        for (i, f) in formatters.iter().enumerate() {
            if i > 0 {
                buf.push_str(", ");
            }
            write!(buf, "{}", f.value(row)).map_err(fmt_err)?;
        }
        buf.push_str("]\n");
    }
    Ok(())
}

impl PrintSinkOperator {
    fn flush(&mut self) -> Result<()> {
        let bytes = self.buf.as_bytes();
        let res = match &self.target {
            PrintTarget::Stdout => std::io::stdout().lock().write_all(bytes),
            PrintTarget::Stderr => std::io::stderr().lock().write_all(bytes),
            PrintTarget::Buffer(b) => {
                let mut b = b
                    .lock()
                    .map_err(|_| crate::exec_internal!("the print buffer's lock is poisoned"))?;
                b.extend_from_slice(bytes);
                Ok(())
            }
        };
        let name = match &self.target {
            PrintTarget::Stderr => "<stderr>",
            PrintTarget::Stdout => "<stdout>",
            PrintTarget::Buffer(_) => "<buffer>",
        };
        res.map_err(|source| ExecError::Io {
            path: name.to_string(),
            source,
        })?;
        self.buf.clear();
        Ok(())
    }
}

impl Operator for PrintSinkOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        _out: &mut Output,
    ) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        format_batch(&batch, &self.prefix, &mut self.buf)?;
        self.rows += batch.num_rows() as u64;
        self.flush()
    }

    fn on_end(&mut self, _ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        out.push(sink_result(&self.schema, self.subtask, 0, self.rows)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use arrow::array::{AsArray, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, UInt64Type};

    use super::*;
    use crate::operators::testkit::{self, TestSourceExec};

    fn input() -> RecordBatch {
        let schema = testkit::schema(&[
            ("id", DataType::Int64),
            ("name", DataType::Utf8),
            ("v", DataType::Float64),
        ]);
        testkit::batch(
            &schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("hello"), None])),
                Arc::new(Float64Array::from(vec![Some(1.5), Some(-2.0)])),
            ],
        )
    }

    #[test]
    fn prints_flink_format() {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let b = input();
        let plan =
            PrintSinkExec::new(TestSourceExec::plan(b.schema(), 1)).with_target(PrintTarget::Buffer(Arc::clone(&buf)));
        let result = testkit::run(&plan, vec![b.clone(), b], 100).unwrap();
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "+I[1, hello, 1.5]\n+I[2, null, -2.0]\n+I[1, hello, 1.5]\n+I[2, null, -2.0]\n"
        );
        assert_eq!(result.len(), 1);
        assert_eq!(result[0].column(2).as_primitive::<UInt64Type>().value(0), 4);
    }

    #[test]
    fn prefixes_subtask_and_identifier() {
        assert_eq!(prefix(None, 0, 1), "");
        assert_eq!(prefix(None, 2, 4), "3> ");
        assert_eq!(prefix(Some("out"), 0, 1), "out> ");
        assert_eq!(prefix(Some("out"), 1, 2), "out:2> ");
        let buf = Arc::new(Mutex::new(Vec::new()));
        let b = input();
        let plan =
            PrintSinkExec::new(TestSourceExec::plan(b.schema(), 2)).with_target(PrintTarget::Buffer(Arc::clone(&buf)));
        let mut op = testkit::operator(&plan, 1);
        testkit::drive(op.as_mut(), vec![(0, 0, b.slice(0, 1))], 100).unwrap();
        assert_eq!(
            String::from_utf8(buf.lock().unwrap().clone()).unwrap(),
            "2> +I[1, hello, 1.5]\n"
        );
    }
}
