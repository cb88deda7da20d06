//! JSON-lines tables: [`JsonTable`] (schema given or inferred from the first file) and
//! [`JsonScanExec`], which reads one file per unit of parallelism. Lines are decoded in
//! chunks of `batch_size` lines; when a chunk fails, its lines are decoded one by one to name
//! the malformed line in the [`ExecError::CorruptFile`].

use std::any::Any;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::json::reader::{infer_json_schema_from_seekable, Decoder};
use arrow::record_batch::RecordBatch;
use rill_core::catalog::Statistics;
use rill_core::{ReadOptions, TableSource};

use super::{describe_files, same_fields, schema_text};
use crate::error::{ExecError, Result};
use crate::operator::{OperatorContext, Source};
use crate::plan::{ExecutionPlan, Instance};

/// A table of newline-delimited JSON files with one schema.
#[derive(Debug, Clone)]
pub struct JsonTable {
    files: Arc<[PathBuf]>,
    schema: SchemaRef,
    total_bytes: u64,
}

fn io_err(path: &Path, source: std::io::Error) -> ExecError {
    ExecError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl JsonTable {
    /// Opens JSON-lines files; the schema is `options.schema` or inferred from the first
    /// `options.infer_records` lines of the first file, and the other files must infer to the
    /// same column names and types.
    ///
    /// # Errors
    /// [`ExecError::SchemaMismatch`], [`ExecError::CorruptFile`], [`ExecError::Io`].
    pub fn try_open(files: Vec<PathBuf>, options: &ReadOptions) -> Result<Self> {
        let infer = |path: &Path| -> Result<arrow::datatypes::Schema> {
            let file = File::open(path).map_err(|e| io_err(path, e))?;
            let (schema, _) = infer_json_schema_from_seekable(BufReader::new(file), Some(options.infer_records.max(1)))
                .map_err(|e| ExecError::CorruptFile {
                    path: path.display().to_string(),
                    location: None,
                    message: e.to_string(),
                })?;
            Ok(schema)
        };
        let Some(first) = files.first() else {
            return Err(ExecError::FileNotFound { path: String::new() });
        };
        let schema = match &options.schema {
            Some(s) => Arc::clone(s),
            None => {
                let schema = Arc::new(infer(first)?);
                for path in files.iter().skip(1) {
                    let other = infer(path)?;
                    if !same_fields(&schema, &other) {
                        return Err(ExecError::SchemaMismatch {
                            first_path: first.display().to_string(),
                            expected: schema_text(&schema),
                            path: path.display().to_string(),
                            found: schema_text(&other),
                        });
                    }
                }
                schema
            }
        };
        let mut total_bytes = 0;
        for path in &files {
            total_bytes += std::fs::metadata(path).map_err(|e| io_err(path, e))?.len();
        }
        Ok(JsonTable {
            files: files.into(),
            schema,
            total_bytes,
        })
    }

    /// The files.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

impl TableSource for JsonTable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn statistics(&self) -> Statistics {
        Statistics {
            num_rows: None,
            total_bytes: Some(self.total_bytes),
            columns: vec![],
        }
    }

    fn describe(&self) -> String {
        format!("json, {} files", self.files.len())
    }
}

/// Scans a [`JsonTable`], one file per unit of parallelism.
#[derive(Debug)]
pub struct JsonScanExec {
    table: JsonTable,
    schema: SchemaRef,
    fetch: Option<usize>,
    parallelism: usize,
    batch_size: usize,
}

impl JsonScanExec {
    /// A scan of the `projection` columns (all if `None`) with up to `parallelism` subtasks
    /// (at most one per file), each reading at most `fetch` rows.
    ///
    /// # Errors
    /// A projection index out of range.
    pub fn try_new(
        table: JsonTable,
        projection: Option<&[usize]>,
        fetch: Option<usize>,
        parallelism: usize,
        batch_size: usize,
    ) -> Result<Self> {
        let projection = projection
            .map(<[usize]>::to_vec)
            .unwrap_or_else(|| (0..table.schema.fields().len()).collect());
        let schema = Arc::new(
            table
                .schema
                .project(&projection)
                .map_err(|e| ExecError::arrow("json scan projection", e))?,
        );
        let parallelism = parallelism.min(table.files.len()).max(1);
        Ok(JsonScanExec {
            table,
            schema,
            fetch,
            parallelism,
            batch_size: batch_size.max(1),
        })
    }
}

impl ExecutionPlan for JsonScanExec {
    fn name(&self) -> &'static str {
        "JsonScanExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn parallelism(&self) -> usize {
        self.parallelism
    }

    fn describe(&self) -> String {
        let paths: Vec<&Path> = self.table.files.iter().map(PathBuf::as_path).collect();
        let cols: Vec<&str> = self.schema.fields().iter().map(|f| f.name().as_str()).collect();
        let mut s = format!("files={}, projection=[{}]", describe_files(&paths), cols.join(", "));
        if let Some(n) = self.fetch {
            s.push_str(&format!(", fetch={n}"));
        }
        s
    }

    fn instantiate(&self, subtask: usize) -> Result<Instance> {
        if subtask >= self.parallelism {
            return Err(crate::exec_internal!(
                "JsonScanExec subtask {subtask} of {}",
                self.parallelism
            ));
        }
        let files = self
            .table
            .files
            .iter()
            .skip(subtask)
            .step_by(self.parallelism)
            .cloned()
            .collect();
        Ok(Instance::Source(Box::new(JsonSource {
            schema: Arc::clone(&self.schema),
            files,
            next: 0,
            current: None,
            remaining: self.fetch,
            batch_size: self.batch_size,
            buf: Vec::new(),
            pending: std::collections::VecDeque::new(),
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct OpenFile {
    path: PathBuf,
    reader: BufReader<File>,
    decoder: Decoder,
    /// Lines read so far.
    line: usize,
}

struct JsonSource {
    schema: SchemaRef,
    files: Vec<PathBuf>,
    next: usize,
    current: Option<OpenFile>,
    remaining: Option<usize>,
    batch_size: usize,
    buf: Vec<u8>,
    pending: std::collections::VecDeque<RecordBatch>,
}

fn new_decoder(schema: &SchemaRef, batch_size: usize) -> Result<Decoder> {
    // Decoding with the projected schema skips the other fields (non-strict mode).
    arrow::json::ReaderBuilder::new(Arc::clone(schema))
        .with_batch_size(batch_size)
        .build_decoder()
        .map_err(|e| ExecError::arrow("building a JSON decoder", e))
}

/// The 1-based line (among `first_line + 1 ..`) of `chunk` that fails to decode on its own.
fn find_bad_line(schema: &SchemaRef, chunk: &[u8], first_line: usize) -> Option<(usize, String)> {
    for (i, line) in chunk.split(|b| *b == b'\n').enumerate() {
        let Ok(mut d) = new_decoder(schema, 2) else { return None };
        let res = d.decode(line).and_then(|_| d.flush());
        if let Err(e) = res {
            return Some((first_line + i + 1, e.to_string()));
        }
    }
    None
}

impl JsonSource {
    /// Reads and decodes the next chunk of lines of the open file into `pending`; returns
    /// false at the end of the file.
    fn read_chunk(&mut self) -> Result<bool> {
        let Some(f) = self.current.as_mut() else {
            return Ok(false);
        };
        self.buf.clear();
        let first_line = f.line;
        let mut lines = 0;
        while lines < self.batch_size {
            let n = f
                .reader
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| io_err(&f.path, e))?;
            if n == 0 {
                break;
            }
            lines += 1;
        }
        f.line += lines;
        if lines == 0 {
            return Ok(false);
        }
        let mut decode = || -> std::result::Result<(), arrow::error::ArrowError> {
            let mut offset = 0;
            while offset < self.buf.len() {
                let consumed = f.decoder.decode(&self.buf[offset..])?;
                offset += consumed;
                if consumed == 0 || offset < self.buf.len() {
                    if let Some(b) = f.decoder.flush()? {
                        self.pending.push_back(b);
                    }
                }
            }
            if let Some(b) = f.decoder.flush()? {
                self.pending.push_back(b);
            }
            Ok(())
        };
        if let Err(e) = decode() {
            let (location, message) = match find_bad_line(&self.schema, &self.buf, first_line) {
                Some((line, message)) => (Some(format!("line {line}")), message),
                None => (
                    Some(format!("lines {}..={}", first_line + 1, first_line + lines)),
                    e.to_string(),
                ),
            };
            return Err(ExecError::CorruptFile {
                path: f.path.display().to_string(),
                location,
                message,
            });
        }
        Ok(true)
    }
}

impl Source for JsonSource {
    fn next_batch(&mut self, _ctx: &mut OperatorContext) -> Result<Option<RecordBatch>> {
        loop {
            if self.remaining == Some(0) {
                self.current = None;
                return Ok(None);
            }
            if let Some(mut batch) = self.pending.pop_front() {
                if let Some(rem) = self.remaining.as_mut() {
                    if batch.num_rows() > *rem {
                        batch = batch.slice(0, *rem);
                    }
                    *rem -= batch.num_rows();
                }
                if batch.num_rows() > 0 {
                    return Ok(Some(batch));
                }
                continue;
            }
            if self.current.is_some() {
                if !self.read_chunk()? {
                    self.current = None;
                }
                continue;
            }
            let Some(path) = self.files.get(self.next).cloned() else {
                return Ok(None);
            };
            self.next += 1;
            let file = File::open(&path).map_err(|e| io_err(&path, e))?;
            let decoder = new_decoder(&self.schema, self.batch_size)?;
            self.current = Some(OpenFile {
                path,
                reader: BufReader::new(file),
                decoder,
                line: 0,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Int64Type};

    use super::*;
    use crate::datasource::{create_scan, open_files};

    fn all_rows(exec: &dyn ExecutionPlan, batch_size: usize) -> Result<Vec<RecordBatch>> {
        let mut out = vec![];
        for s in 0..exec.parallelism() {
            let Instance::Source(mut src) = exec.instantiate(s)? else {
                panic!("not a source")
            };
            let mut ctx = OperatorContext::new("scan", s, exec.parallelism(), batch_size);
            while let Some(b) = src.next_batch(&mut ctx)? {
                out.push(b);
            }
        }
        Ok(out)
    }

    #[test]
    fn reads_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.json"),
            "{\"a\": 1, \"b\": \"x\"}\n{\"a\": 2}\n\n{\"a\": 3, \"b\": \"z\"}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("b.json"), "{\"a\": 4, \"b\": \"w\"}").unwrap();
        let t = open_files(
            rill_core::FileFormat::Json,
            dir.path().to_str().unwrap(),
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(t.schema().field(0).data_type(), &DataType::Int64);
        let scan = create_scan(&t, Some(&[1, 0]), &[], None, 1, 2).unwrap();
        let batches = all_rows(scan.as_ref(), 2).unwrap();
        assert!(batches.iter().all(|b| b.num_rows() <= 2));
        let a: Vec<i64> = batches
            .iter()
            .flat_map(|b| b.column(1).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(a, vec![1, 2, 3, 4]);
        assert_eq!(batches.iter().map(|b| b.column(0).null_count()).sum::<usize>(), 1);
        let scan = create_scan(&t, None, &[], Some(3), 2, 100).unwrap();
        assert_eq!(scan.parallelism(), 2);
        assert_eq!(
            all_rows(scan.as_ref(), 100)
                .unwrap()
                .iter()
                .map(|b| b.num_rows())
                .sum::<usize>(),
            4
        );
    }

    #[test]
    fn malformed_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.json");
        std::fs::write(&p, "{\"a\": 1}\n{\"a\": 2}\n{\"a\": 3}\n{\"a\": oops}\n{\"a\": 5}\n").unwrap();
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![arrow::datatypes::Field::new(
            "a",
            DataType::Int64,
            true,
        )]));
        let opts = ReadOptions {
            schema: Some(schema),
            ..Default::default()
        };
        let t = open_files(rill_core::FileFormat::Json, p.to_str().unwrap(), &opts).unwrap();
        let err = all_rows(create_scan(&t, None, &[], None, 1, 2).unwrap().as_ref(), 2).unwrap_err();
        let ExecError::CorruptFile { path, location, .. } = &err else {
            panic!("{err}")
        };
        assert!(path.ends_with("bad.json"));
        assert_eq!(location.as_deref(), Some("line 4"), "{err}");

        // a value of the wrong type
        std::fs::write(&p, "{\"a\": 1}\n{\"a\": \"text\"}\n").unwrap();
        let err = all_rows(create_scan(&t, None, &[], None, 1, 100).unwrap().as_ref(), 100).unwrap_err();
        let ExecError::CorruptFile { location, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(location.as_deref(), Some("line 2"), "{err}");

        // inference on garbage fails as CorruptFile
        std::fs::write(&p, "not json at all\n").unwrap();
        let err = open_files(
            rill_core::FileFormat::Json,
            p.to_str().unwrap(),
            &ReadOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, ExecError::CorruptFile { .. }), "{err}");
    }

    #[test]
    fn schema_mismatch_across_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.json"), "{\"a\": 1}\n").unwrap();
        std::fs::write(dir.path().join("b.json"), "{\"a\": \"s\"}\n").unwrap();
        let err = open_files(
            rill_core::FileFormat::Json,
            dir.path().to_str().unwrap(),
            &ReadOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, ExecError::SchemaMismatch { .. }), "{err}");
    }
}
