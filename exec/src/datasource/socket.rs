//! A text socket source, like Flink's `socketTextStream`: [`SocketTextSourceFactory`]
//! connects as a client to `host:port` and produces one row per line (`line: Utf8`).
//!
//! A background thread reads the socket and hands lines over a bounded channel, so a slow
//! job stalls the reader and, through TCP flow control, the peer: memory stays bounded. The
//! source's [`Source::poll_next`] never blocks: it takes what is buffered (up to a batch),
//! says `Pending` when nothing is, and ends once the peer has closed the connection and every
//! line has been delivered. Connecting happens on the reader thread too: a failure to
//! connect is what the source's first polls return, an [`ExecError::Connect`] naming
//! `host:port`. Lines end at `\n`; a trailing `\r` is removed; a last line without a
//! newline is delivered too. A line that is not valid UTF-8 fails the source with an error
//! naming its line number.
//!
//! The source is unbounded and has one split (`max_parallelism` 1). It keeps no state for
//! checkpoints: like Flink's socket source it cannot replay what it has read.

use std::io::{BufRead, BufReader};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::{ArrayRef, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use rill_core::catalog::Boundedness;

use super::SourceFactory;
use crate::error::{ExecError, Result};
use crate::operator::{block_on_poll, OperatorContext, Source, SourceEvent};

/// How long `poll_next` asks the runtime to wait when no line is buffered.
const POLL_WAIT: Duration = Duration::from_millis(10);

/// Creates a [`Source`] reading lines from a TCP server (see the module docs).
#[derive(Debug, Clone)]
pub struct SocketTextSourceFactory {
    host: String,
    port: u16,
    buffer_lines: usize,
    connect_timeout: Duration,
    schema: SchemaRef,
}

impl SocketTextSourceFactory {
    /// A source of the lines the server at `host:port` sends. It connects (on its reader
    /// thread) when a job creates the source, buffers up to 1024 lines ahead of the job, and gives up connecting after
    /// 10 seconds.
    ///
    /// # Examples
    /// ```
    /// use rill_exec::datasource::{SocketTextSourceFactory, SourceFactory};
    /// let f = SocketTextSourceFactory::new("localhost", 9999);
    /// assert_eq!(f.schema().field(0).name(), "line");
    /// assert_eq!(f.max_parallelism(), Some(1));
    /// ```
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        SocketTextSourceFactory {
            host: host.into(),
            port,
            buffer_lines: 1024,
            connect_timeout: Duration::from_secs(10),
            schema: Arc::new(Schema::new(vec![Field::new("line", DataType::Utf8, false)])),
        }
    }

    /// How many lines the reader thread may read ahead of the job (at least 1).
    pub fn with_buffer_lines(mut self, lines: usize) -> Self {
        self.buffer_lines = lines.max(1);
        self
    }

    /// How long to try to connect to each address of the host.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// `host:port`.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    fn connect(&self) -> Result<TcpStream> {
        let address = self.address();
        let connect_err = |source: std::io::Error| ExecError::Connect {
            address: address.clone(),
            source,
        };
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(connect_err)?
            .collect();
        let mut last = None;
        for addr in &addrs {
            match TcpStream::connect_timeout(addr, self.connect_timeout) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(connect_err(last.unwrap_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "the host name resolves to no address")
        })))
    }
}

impl SourceFactory for SocketTextSourceFactory {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn boundedness(&self) -> Boundedness {
        Boundedness::Unbounded
    }

    fn create(
        &self,
        projection: &[usize],
        _subtask: usize,
        _parallelism: usize,
        batch_size: usize,
    ) -> Result<Box<dyn Source>> {
        if let Some(bad) = projection.iter().find(|&&i| i != 0) {
            return Err(crate::exec_internal!(
                "socket source projection index {bad} out of range"
            ));
        }
        let schema = Arc::new(
            self.schema
                .project(projection)
                .map_err(|e| ExecError::arrow("socket source projection", e))?,
        );
        let (tx, rx) = sync_channel(self.buffer_lines);
        let control = Arc::new(Mutex::new(Control::default()));
        let factory = self.clone();
        let thread_control = Arc::clone(&control);
        std::thread::Builder::new()
            .name(format!("socket-source {}", self.address()))
            .spawn(move || {
                // Connecting (and resolving the host) may take a while: done here, so that
                // neither `create` nor `poll_next` blocks the runtime's thread.
                let stream = match factory.connect() {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = tx.send(Message::Failed(e));
                        return;
                    }
                };
                if let Ok(mut c) = thread_control.lock() {
                    if c.dropped {
                        return;
                    }
                    c.stream = stream.try_clone().ok();
                }
                read_lines(stream, &factory.address(), &tx);
            })
            .map_err(|e| crate::exec_internal!("cannot start the socket reader thread: {e}"))?;
        Ok(Box::new(SocketTextSource {
            schema,
            rx,
            control,
            batch_size: batch_size.max(1),
            failed: None,
            ended: false,
        }))
    }

    fn max_parallelism(&self) -> Option<usize> {
        Some(1)
    }

    fn describe(&self) -> String {
        format!("socket {}", self.address())
    }
}

/// What the reader thread sends.
enum Message {
    Line(String),
    Failed(ExecError),
}

/// The reader thread: sends each line, then returns (dropping the sender) at the end of the
/// stream, after an error, or when the source has gone away.
fn read_lines(stream: TcpStream, address: &str, tx: &SyncSender<Message>) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    let mut line_no: u64 = 0;
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => {
                let _ = tx.send(Message::Failed(ExecError::Connect {
                    address: address.to_string(),
                    source,
                }));
                return;
            }
        }
        line_no += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        let message = match String::from_utf8(std::mem::take(&mut buf)) {
            Ok(line) => Message::Line(line),
            Err(e) => Message::Failed(ExecError::InvalidValue {
                context: format!("line {line_no} of the socket text stream {address}"),
                message: format!("not valid UTF-8: {}", e.utf8_error()),
            }),
        };
        let stop = matches!(message, Message::Failed(_));
        if tx.send(message).is_err() || stop {
            // The source was dropped (job over or cancelled), or the stream is bad.
            return;
        }
    }
}

/// What the source and its reader thread share: the socket once connected, so that dropping
/// the source can shut it down (which unblocks a read), and whether the source is gone.
#[derive(Default)]
struct Control {
    stream: Option<TcpStream>,
    dropped: bool,
}

/// The source of [`SocketTextSourceFactory`].
struct SocketTextSource {
    /// The projected schema: `line` or no column at all.
    schema: SchemaRef,
    rx: Receiver<Message>,
    /// Shared with the reader thread, to unblock it on drop.
    control: Arc<Mutex<Control>>,
    batch_size: usize,
    /// An error that arrived after lines that were still to be delivered.
    failed: Option<ExecError>,
    ended: bool,
}

impl SocketTextSource {
    fn batch(&self, lines: StringBuilder, rows: usize) -> Result<RecordBatch> {
        let mut lines = lines;
        let columns: Vec<ArrayRef> = if self.schema.fields().is_empty() {
            vec![]
        } else {
            vec![Arc::new(lines.finish())]
        };
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(Arc::clone(&self.schema), columns, &options)
            .map_err(|e| ExecError::arrow("socket source batch", e))
    }
}

impl Source for SocketTextSource {
    fn next_batch(&mut self, ctx: &mut OperatorContext) -> Result<Option<RecordBatch>> {
        block_on_poll(self, ctx)
    }

    fn poll_next(&mut self, _ctx: &mut OperatorContext) -> Result<SourceEvent> {
        if let Some(e) = self.failed.take() {
            self.ended = true;
            return Err(e);
        }
        if self.ended {
            return Ok(SourceEvent::End);
        }
        let mut lines = StringBuilder::new();
        let mut rows = 0;
        let mut disconnected = false;
        while rows < self.batch_size {
            match self.rx.try_recv() {
                Ok(Message::Line(l)) => {
                    lines.append_value(&l);
                    rows += 1;
                }
                Ok(Message::Failed(e)) => {
                    if rows == 0 {
                        self.ended = true;
                        return Err(e);
                    }
                    self.failed = Some(e);
                    break;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    disconnected = true;
                    break;
                }
            }
        }
        if rows > 0 {
            return Ok(SourceEvent::Batch(self.batch(lines, rows)?));
        }
        if disconnected {
            self.ended = true;
            return Ok(SourceEvent::End);
        }
        Ok(SourceEvent::Pending(POLL_WAIT))
    }
}

impl Drop for SocketTextSource {
    fn drop(&mut self) {
        // Unblocks the reader thread if it waits on the socket; if it waits on a full
        // channel, dropping the receiver wakes it.
        if let Ok(mut c) = self.control.lock() {
            c.dropped = true;
            if let Some(s) = c.stream.take() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::io::Write;
    use std::net::TcpListener;
    use std::time::Instant;

    use arrow::array::AsArray;

    use super::*;

    /// Polls until the end (or an error), collecting lines; fails after 20 s.
    fn drain(source: &mut dyn Source, batch_size: usize) -> Result<(Vec<String>, usize)> {
        let mut ctx = OperatorContext::new("socket", 0, 1, batch_size);
        let mut lines = vec![];
        let mut pendings = 0;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            assert!(Instant::now() < deadline, "the socket source did not end");
            match source.poll_next(&mut ctx)? {
                SourceEvent::Batch(b) => {
                    assert!(b.num_rows() <= batch_size);
                    lines.extend(b.column(0).as_string::<i32>().iter().map(|s| s.unwrap().to_string()));
                }
                SourceEvent::Pending(d) => {
                    assert!(d <= Duration::from_millis(100));
                    pendings += 1;
                    std::thread::sleep(d);
                }
                SourceEvent::Watermark(_) => {}
                SourceEvent::End => return Ok((lines, pendings)),
            }
        }
    }

    fn serve(payload: Vec<u8>, delay: Duration) -> (u16, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            std::thread::sleep(delay);
            conn.write_all(&payload).unwrap();
            // dropping closes the connection
        });
        (port, handle)
    }

    #[test]
    fn reads_all_lines_in_order_then_ends() {
        let n = 5000;
        let mut payload = String::new();
        for i in 0..n {
            // mix \n and \r\n endings
            payload.push_str(&format!("line {i}{}", if i % 2 == 0 { "\n" } else { "\r\n" }));
        }
        payload.push_str("last without newline");
        // a small buffer makes the reader wait for the job (back-pressure)
        let (port, server) = serve(payload.into_bytes(), Duration::from_millis(50));
        let f = SocketTextSourceFactory::new("127.0.0.1", port).with_buffer_lines(16);
        let mut source = f.create(&[0], 0, 1, 100).unwrap();
        let (lines, pendings) = drain(source.as_mut(), 100).unwrap();
        server.join().unwrap();
        assert_eq!(lines.len(), n + 1);
        for (i, l) in lines.iter().take(n).enumerate() {
            assert_eq!(l, &format!("line {i}"));
        }
        assert_eq!(lines[n], "last without newline");
        // the server waited before writing: the source said Pending rather than blocking
        assert!(pendings > 0);
        // after the end it stays ended
        let mut ctx = OperatorContext::new("socket", 0, 1, 100);
        assert!(matches!(source.poll_next(&mut ctx).unwrap(), SourceEvent::End));
    }

    #[test]
    fn empty_projection_counts_rows() {
        let (port, server) = serve(b"a\nb\nc\n".to_vec(), Duration::ZERO);
        let f = SocketTextSourceFactory::new("127.0.0.1", port);
        let mut source = f.create(&[], 0, 1, 100).unwrap();
        let mut ctx = OperatorContext::new("socket", 0, 1, 100);
        let mut rows = 0;
        while let Some(b) = source.next_batch(&mut ctx).unwrap() {
            assert_eq!(b.num_columns(), 0);
            rows += b.num_rows();
        }
        server.join().unwrap();
        assert_eq!(rows, 3);
    }

    #[test]
    fn connection_refused_names_the_address() {
        // bind then drop: nothing listens on the port any more
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let f = SocketTextSourceFactory::new("127.0.0.1", port);
        let mut source = f.create(&[0], 0, 1, 100).unwrap();
        let err = drain(source.as_mut(), 100).unwrap_err();
        assert!(matches!(err, ExecError::Connect { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(err.is_retryable());
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let (port, server) = serve(b"ok 1\nok 2\nbad \xff\xfe\nok 4\n".to_vec(), Duration::ZERO);
        let f = SocketTextSourceFactory::new("127.0.0.1", port);
        let mut source = f.create(&[0], 0, 1, 100).unwrap();
        let err = drain(source.as_mut(), 100).unwrap_err();
        server.join().unwrap();
        let text = err.to_string();
        assert!(matches!(err, ExecError::InvalidValue { .. }), "{text}");
        assert!(text.contains("line 3"), "{text}");
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    }

    #[test]
    fn dropping_the_source_stops_the_reader() {
        // a server that never closes: the drop must not hang
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let _ = conn.write_all(b"x\n");
            let mut buf = [0u8; 1];
            // returns when the source shuts the connection down
            let _ = std::io::Read::read(&mut conn, &mut buf);
        });
        let f = SocketTextSourceFactory::new("127.0.0.1", port);
        let source = f.create(&[0], 0, 1, 100).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        drop(source);
        server.join().unwrap();
    }
}
