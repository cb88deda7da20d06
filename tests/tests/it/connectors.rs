//! Streaming connectors end to end on the mini-cluster: directory and socket sources feeding
//! the rolling file sink.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt64Type};
use rill_core::{FileFormat, ReadOptions};
use rill_exec::datasource::{
    create_scan, open_files, DirectoryMode, DirectorySourceFactory, FileSink, SocketTextSourceFactory, SourceScanExec,
    SourceTable,
};
use rill_exec::operators::{FileSinkExec, RollingPolicy};
use rill_exec::plan::ExecutionPlan;
use rill_scheduler::mini_cluster::MiniCluster;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
    ]))
}

/// Runs `plan` and returns the sum of the sink result rows' `files` and `rows`.
fn run_sink(plan: Arc<dyn ExecutionPlan>) -> (u64, u64, usize) {
    let cluster = MiniCluster::new(2).unwrap();
    let results: Vec<RecordBatch> = cluster
        .submit(&plan, 1024, 4)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut files = 0;
    let mut rows = 0;
    let mut subtasks = 0;
    for b in &results {
        subtasks += b.num_rows();
        files += b.column(1).as_primitive::<UInt64Type>().iter().flatten().sum::<u64>();
        rows += b.column(2).as_primitive::<UInt64Type>().iter().flatten().sum::<u64>();
    }
    (files, rows, subtasks)
}

fn visible_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn directory_to_rolling_file_sink_job() {
    let input = tempfile::tempdir().unwrap();
    for f in 0..6i64 {
        let ids: Vec<i64> = (f * 10..f * 10 + 10).collect();
        let names: Vec<String> = ids.iter().map(|i| format!("n{i}")).collect();
        let batch = RecordBatch::try_new(
            schema(),
            vec![Arc::new(Int64Array::from(ids)), Arc::new(StringArray::from(names))],
        )
        .unwrap();
        let path = input.path().join(format!("in-{f}.parquet"));
        let mut sink = FileSink::try_new(FileFormat::Parquet, path.to_str().unwrap(), schema()).unwrap();
        sink.write(&batch).unwrap();
        sink.commit().unwrap();
    }
    let factory = DirectorySourceFactory::new(input.path(), FileFormat::Parquet, schema(), DirectoryMode::ProcessOnce);
    let table = SourceTable::new(Arc::new(factory));
    let scan: Arc<dyn ExecutionPlan> = Arc::new(SourceScanExec::try_new(&table, None, 2, 1024).unwrap());
    let output = tempfile::tempdir().unwrap();
    let out_dir = output.path().join("out");
    let plan: Arc<dyn ExecutionPlan> = Arc::new(
        FileSinkExec::new(scan, &out_dir, FileFormat::Csv)
            .with_rolling_policy(RollingPolicy::never().with_max_rows(25)),
    );
    let (files, rows, subtasks) = run_sink(plan);
    assert_eq!(subtasks, 2);
    assert_eq!(rows, 60);
    let names = visible_files(&out_dir);
    assert_eq!(names.len() as u64, files);
    assert!(
        names.iter().all(|n| n.starts_with("part-") && n.ends_with(".csv")),
        "{names:?}"
    );

    // read the output back as a table: the same ids
    let options = ReadOptions {
        schema: Some(schema()),
        ..Default::default()
    };
    let t = open_files(FileFormat::Csv, out_dir.to_str().unwrap(), &options).unwrap();
    let scan = create_scan(&t, None, &[], None, 1, 1024).unwrap();
    let cluster = MiniCluster::new(1).unwrap();
    let mut ids: Vec<i64> = cluster
        .submit(&scan, 1024, 4)
        .unwrap()
        .flat_map(|b| {
            b.unwrap()
                .column(0)
                .as_primitive::<arrow::datatypes::Int64Type>()
                .values()
                .to_vec()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, (0..60).collect::<Vec<_>>());
}

#[test]
fn socket_to_file_sink_job_ends_when_the_peer_closes() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        for i in 0..1000 {
            writeln!(conn, "event {i}").unwrap();
        }
    });
    let table = SourceTable::new(Arc::new(SocketTextSourceFactory::new("127.0.0.1", port)));
    // asks for 4 subtasks; a socket has one
    let scan = SourceScanExec::try_new(&table, None, 4, 1024).unwrap();
    assert_eq!(scan.parallelism(), 1);
    let output = tempfile::tempdir().unwrap();
    let plan: Arc<dyn ExecutionPlan> = Arc::new(
        FileSinkExec::new(Arc::new(scan), output.path(), FileFormat::Json)
            .with_rolling_policy(RollingPolicy::never().with_max_rows(300)),
    );
    let (files, rows, _) = run_sink(plan);
    server.join().unwrap();
    assert_eq!((files, rows), (4, 1000));
    assert_eq!(
        visible_files(output.path()),
        vec!["part-0-0.json", "part-0-1.json", "part-0-2.json", "part-0-3.json"]
    );
    let first = std::fs::read_to_string(output.path().join("part-0-0.json")).unwrap();
    assert_eq!(first.lines().next(), Some("{\"line\":\"event 0\"}"));
}
