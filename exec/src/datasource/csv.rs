//! CSV tables: [`CsvTable`] (schema given or inferred from the first file, header and
//! delimiter options) and [`CsvScanExec`], which reads one file per unit of parallelism.
//! A malformed row fails the scan with [`ExecError::CorruptFile`] naming the file and line.

use std::any::Any;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::csv::reader::Format;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use rill_core::catalog::Statistics;
use rill_core::{ReadOptions, TableSource};

use super::{describe_files, schema_text};
use crate::error::{ExecError, Result};
use crate::operator::{OperatorContext, Source};
use crate::plan::{ExecutionPlan, Instance};

/// A table of CSV files with one schema.
#[derive(Debug, Clone)]
pub struct CsvTable {
    files: Arc<[PathBuf]>,
    schema: SchemaRef,
    has_header: bool,
    delimiter: u8,
    total_bytes: u64,
}

fn io_err(path: &Path, source: std::io::Error) -> ExecError {
    ExecError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A CSV reader error as [`ExecError::CorruptFile`], with the 1-based line of the file.
fn csv_error(path: &Path, e: ArrowError) -> ExecError {
    let message = e.to_string();
    // Arrow numbers records: "for line N" counts the header line; "at line N" counts from 0
    // after the header. Both become the physical line (records spanning lines aside).
    let line = |prefix: &str, offset: usize| {
        let start = message.find(prefix)? + prefix.len();
        let digits: String = message[start..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<usize>().ok().map(|n| n + offset)
    };
    let location = line("for line ", 0)
        .or_else(|| line("at line ", 1))
        .map(|n| format!("line {n}"));
    ExecError::CorruptFile {
        path: path.display().to_string(),
        location,
        message,
    }
}

impl CsvTable {
    /// Opens CSV files; the schema is `options.schema` or inferred from the first
    /// `options.infer_records` records of the first file, and the other files must have the
    /// same column names.
    ///
    /// # Errors
    /// [`ExecError::SchemaMismatch`], [`ExecError::CorruptFile`] (unreadable CSV), [`ExecError::Io`].
    pub fn try_open(files: Vec<PathBuf>, options: &ReadOptions) -> Result<Self> {
        let format = Format::default()
            .with_header(options.has_header)
            .with_delimiter(options.delimiter);
        let infer = |path: &Path| -> Result<arrow::datatypes::Schema> {
            let file = File::open(path).map_err(|e| io_err(path, e))?;
            let (schema, _) = format
                .infer_schema(file, Some(options.infer_records.max(1)))
                .map_err(|e| csv_error(path, e))?;
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
                    let same = other.fields().len() == schema.fields().len()
                        && other
                            .fields()
                            .iter()
                            .zip(schema.fields())
                            .all(|(a, b)| a.name() == b.name());
                    if !same {
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
        Ok(CsvTable {
            files: files.into(),
            schema,
            has_header: options.has_header,
            delimiter: options.delimiter,
            total_bytes,
        })
    }

    /// The files.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

impl TableSource for CsvTable {
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
        format!("csv, {} files", self.files.len())
    }
}

/// Scans a [`CsvTable`], one file per unit of parallelism.
#[derive(Debug)]
pub struct CsvScanExec {
    table: CsvTable,
    projection: Vec<usize>,
    schema: SchemaRef,
    fetch: Option<usize>,
    parallelism: usize,
    batch_size: usize,
}

impl CsvScanExec {
    /// A scan of the `projection` columns (all if `None`) with up to `parallelism` subtasks
    /// (at most one per file), each reading at most `fetch` rows.
    ///
    /// # Errors
    /// A projection index out of range.
    pub fn try_new(
        table: CsvTable,
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
                .map_err(|e| ExecError::arrow("csv scan projection", e))?,
        );
        let parallelism = parallelism.min(table.files.len()).max(1);
        Ok(CsvScanExec {
            table,
            projection,
            schema,
            fetch,
            parallelism,
            batch_size: batch_size.max(1),
        })
    }
}

impl ExecutionPlan for CsvScanExec {
    fn name(&self) -> &'static str {
        "CsvScanExec"
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
                "CsvScanExec subtask {subtask} of {}",
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
        Ok(Instance::Source(Box::new(CsvSource {
            table: self.table.clone(),
            projection: self.projection.clone(),
            files,
            next: 0,
            current: None,
            remaining: self.fetch,
            batch_size: self.batch_size,
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct CsvSource {
    table: CsvTable,
    projection: Vec<usize>,
    files: Vec<PathBuf>,
    next: usize,
    current: Option<(arrow::csv::Reader<File>, PathBuf)>,
    remaining: Option<usize>,
    batch_size: usize,
}

impl Source for CsvSource {
    fn next_batch(&mut self, _ctx: &mut OperatorContext) -> Result<Option<RecordBatch>> {
        loop {
            if self.remaining == Some(0) {
                self.current = None;
                return Ok(None);
            }
            if let Some((reader, path)) = self.current.as_mut() {
                match reader.next() {
                    Some(Ok(mut batch)) => {
                        if let Some(rem) = self.remaining.as_mut() {
                            if batch.num_rows() > *rem {
                                batch = batch.slice(0, *rem);
                            }
                            *rem -= batch.num_rows();
                        }
                        if batch.num_rows() > 0 {
                            return Ok(Some(batch));
                        }
                    }
                    Some(Err(e)) => {
                        let err = csv_error(path, e);
                        self.current = None;
                        return Err(err);
                    }
                    None => self.current = None,
                }
                continue;
            }
            let Some(path) = self.files.get(self.next).cloned() else {
                return Ok(None);
            };
            self.next += 1;
            let file = File::open(&path).map_err(|e| io_err(&path, e))?;
            let format = Format::default()
                .with_header(self.table.has_header)
                .with_delimiter(self.table.delimiter);
            let reader = arrow::csv::ReaderBuilder::new(Arc::clone(&self.table.schema))
                .with_format(format)
                .with_batch_size(self.batch_size)
                .with_projection(self.projection.clone())
                .build(file)
                .map_err(|e| csv_error(&path, e))?;
            self.current = Some((reader, path));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;
    use crate::datasource::{create_scan, open_files};

    fn drain(exec: &dyn ExecutionPlan, subtask: usize) -> Result<Vec<RecordBatch>> {
        let Instance::Source(mut src) = exec.instantiate(subtask)? else {
            panic!("not a source")
        };
        let mut ctx = OperatorContext::new("scan", subtask, exec.parallelism(), 2);
        let mut out = vec![];
        while let Some(b) = src.next_batch(&mut ctx)? {
            out.push(b);
        }
        Ok(out)
    }

    fn all_rows(exec: &dyn ExecutionPlan) -> Result<Vec<RecordBatch>> {
        let mut out = vec![];
        for s in 0..exec.parallelism() {
            out.extend(drain(exec, s)?);
        }
        Ok(out)
    }

    #[test]
    fn infers_and_reads_with_projection() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), "id,name,score\n1,x,1.5\n2,,2.5\n3,z,\n").unwrap();
        std::fs::write(dir.path().join("b.csv"), "id,name,score\n4,w,4.0\n").unwrap();
        let t = open_files(
            rill_core::FileFormat::Csv,
            dir.path().to_str().unwrap(),
            &ReadOptions::default(),
        )
        .unwrap();
        let s = t.schema();
        assert_eq!(s.field(0).data_type(), &DataType::Int64);
        assert_eq!(s.field(1).data_type(), &DataType::Utf8);
        assert_eq!(s.field(2).data_type(), &DataType::Float64);
        assert!(t.statistics().total_bytes.unwrap() > 0);
        let scan = create_scan(&t, Some(&[2, 0]), &[], None, 4, 1024).unwrap();
        assert_eq!(scan.parallelism(), 2);
        assert_eq!(scan.schema().field(0).name(), "score");
        let batches = all_rows(scan.as_ref()).unwrap();
        let ids: Vec<i64> = batches
            .iter()
            .flat_map(|b| b.column(1).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(ids, vec![1, 2, 3, 4]);
        let nulls: usize = batches.iter().map(|b| b.column(0).null_count()).sum();
        assert_eq!(nulls, 1);
        // fetch
        let scan = create_scan(&t, None, &[], Some(1), 1, 1024).unwrap();
        assert_eq!(
            all_rows(scan.as_ref())
                .unwrap()
                .iter()
                .map(|b| b.num_rows())
                .sum::<usize>(),
            1
        );
    }

    #[test]
    fn delimiter_no_header_and_given_schema() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        std::fs::write(&p, "1;a\n2;b\n").unwrap();
        let opts = ReadOptions {
            has_header: false,
            delimiter: b';',
            ..Default::default()
        };
        let t = open_files(rill_core::FileFormat::Csv, p.to_str().unwrap(), &opts).unwrap();
        assert_eq!(t.schema().field(0).name(), "column_1");
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int32, false),
            Field::new("v", DataType::Utf8, true),
        ]));
        let opts = ReadOptions {
            has_header: false,
            delimiter: b';',
            schema: Some(Arc::clone(&schema)),
            ..Default::default()
        };
        let t = open_files(rill_core::FileFormat::Csv, p.to_str().unwrap(), &opts).unwrap();
        let b = all_rows(create_scan(&t, None, &[], None, 1, 10).unwrap().as_ref()).unwrap();
        assert_eq!(b[0].schema(), schema);
        assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    }

    #[test]
    fn header_mismatch_across_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), "id,name\n1,x\n").unwrap();
        std::fs::write(dir.path().join("b.csv"), "id,other\n1,x\n").unwrap();
        let err = open_files(
            rill_core::FileFormat::Csv,
            dir.path().to_str().unwrap(),
            &ReadOptions::default(),
        )
        .unwrap_err();
        let ExecError::SchemaMismatch { first_path, path, .. } = &err else {
            panic!("{err}")
        };
        assert!(first_path.ends_with("a.csv") && path.ends_with("b.csv"), "{err}");
    }

    #[test]
    fn malformed_rows_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.csv");
        // line 4 has too many fields
        std::fs::write(&p, "a,b\n1,2\n3,4\n5,6,7\n8,9\n").unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Int64, true),
        ]));
        let opts = ReadOptions {
            schema: Some(Arc::clone(&schema)),
            ..Default::default()
        };
        let t = open_files(rill_core::FileFormat::Csv, p.to_str().unwrap(), &opts).unwrap();
        let err = all_rows(create_scan(&t, None, &[], None, 1, 1024).unwrap().as_ref()).unwrap_err();
        let ExecError::CorruptFile { path, location, .. } = &err else {
            panic!("{err}")
        };
        assert!(path.ends_with("bad.csv"));
        assert_eq!(location.as_deref(), Some("line 4"), "{err}");

        // line 3 has a value that is not an integer
        std::fs::write(&p, "a,b\n1,2\n3,x\n5,6\n").unwrap();
        let t = open_files(rill_core::FileFormat::Csv, p.to_str().unwrap(), &opts).unwrap();
        let err = all_rows(create_scan(&t, None, &[], None, 1, 1024).unwrap().as_ref()).unwrap_err();
        let ExecError::CorruptFile { location, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(location.as_deref(), Some("line 3"), "{err}");
        assert!(err.to_string().contains("bad.csv"));

        // without a header
        std::fs::write(&p, "1,2\n3,x\n").unwrap();
        let opts = ReadOptions {
            schema: Some(schema),
            has_header: false,
            ..Default::default()
        };
        let t = open_files(rill_core::FileFormat::Csv, p.to_str().unwrap(), &opts).unwrap();
        let err = all_rows(create_scan(&t, None, &[], None, 1, 1024).unwrap().as_ref()).unwrap_err();
        let ExecError::CorruptFile { location, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(location.as_deref(), Some("line 2"), "{err}");
    }
}
