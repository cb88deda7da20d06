//! [`LocalExecutor`]: the [`Executor`] of the embedded mini-cluster.

use std::fmt::Write;
use std::sync::{Arc, OnceLock};

use rill_core::catalog::TableSource;
use rill_core::executor::{BatchIter, Executor, FileFormat, ReadOptions, SessionConfig};
use rill_core::{ExecutionEnvironment, Expr, LogicalPlan, RillError, ScalarValue};
use rill_exec::datasource::{self, FileSink};
use rill_exec::plan::ExecutionPlan;
use rill_exec::runtime::job_graph::{node_ids, node_key};
use rill_exec::runtime::JobGraph;

use crate::mini_cluster::{JobMetrics, MiniCluster};

type CoreResult<T> = rill_core::Result<T>;

/// Runs plans on an in-process [`MiniCluster`] with one worker thread per core.
#[derive(Debug)]
pub struct LocalExecutor {
    slots: usize,
    cluster: OnceLock<std::result::Result<MiniCluster, String>>,
}

impl LocalExecutor {
    /// An executor with `slots` worker threads (started on first use).
    pub fn new(slots: usize) -> Self {
        LocalExecutor {
            slots: slots.max(1),
            cluster: OnceLock::new(),
        }
    }

    fn cluster(&self) -> CoreResult<&MiniCluster> {
        match self
            .cluster
            .get_or_init(|| MiniCluster::new(self.slots).map_err(|e| e.to_string()))
        {
            Ok(c) => Ok(c),
            Err(message) => Err(rill_core::internal_err!("cannot start the mini-cluster: {message}")),
        }
    }

    fn physical(&self, plan: &LogicalPlan, config: &SessionConfig) -> CoreResult<Arc<dyn ExecutionPlan>> {
        Ok(rill_exec::planner::create_physical_plan(plan, config)?)
    }

    fn run(&self, physical: &Arc<dyn ExecutionPlan>, config: &SessionConfig) -> CoreResult<crate::RunningJob> {
        Ok(self.cluster()?.submit_with_memory(
            physical,
            config.batch_size,
            config.channel_capacity,
            rill_exec::memory::MemoryPool::new(config.memory_limit),
        )?)
    }
}

impl Executor for LocalExecutor {
    fn execute(&self, plan: Arc<LogicalPlan>, config: &SessionConfig) -> CoreResult<BatchIter> {
        let physical = self.physical(&plan, config)?;
        let job = self.run(&physical, config)?;
        Ok(Box::new(job.map(|r| r.map_err(RillError::from))))
    }

    fn explain_physical(&self, plan: Arc<LogicalPlan>, config: &SessionConfig) -> CoreResult<String> {
        let physical = self.physical(&plan, config)?;
        let graph = JobGraph::try_new(&physical).map_err(RillError::from)?;
        Ok(format!(
            "{}\n== Job Graph ==\n{}",
            rill_exec::plan::display_plan(physical.as_ref()),
            graph.describe()
        ))
    }

    fn explain_analyze(&self, plan: Arc<LogicalPlan>, config: &SessionConfig) -> CoreResult<String> {
        let physical = self.physical(&plan, config)?;
        let start = std::time::Instant::now();
        let metrics = self.run(&physical, config)?.finish()?;
        let wall = start.elapsed();
        let mut text = render_with_metrics(&physical, &metrics);
        let _ = writeln!(text, "wall time: {:.3} ms", wall.as_secs_f64() * 1000.0);
        Ok(text)
    }

    fn open_files(
        &self,
        format: FileFormat,
        location: &str,
        options: &ReadOptions,
    ) -> CoreResult<Arc<dyn TableSource>> {
        Ok(datasource::open_files(format, location, options)?)
    }

    fn write_files(
        &self,
        plan: Arc<LogicalPlan>,
        format: FileFormat,
        path: &str,
        config: &SessionConfig,
    ) -> CoreResult<u64> {
        let physical = self.physical(&plan, config)?;
        let mut sink = FileSink::try_new(format, path, physical.schema())?;
        for batch in self.run(&physical, config)? {
            sink.write(&batch?)?;
        }
        Ok(sink.commit()?)
    }

    fn connector(&self, name: &str) -> Option<Arc<dyn rill_core::catalog::Connector>> {
        rill_exec::connectors::builtin(name)
    }

    fn connector_names(&self) -> Vec<String> {
        rill_exec::connectors::builtin_names()
    }

    fn evaluate_constant(&self, expr: &Expr) -> CoreResult<ScalarValue> {
        Ok(rill_exec::expressions::evaluate_constant(expr)?)
    }
}

fn render_with_metrics(plan: &Arc<dyn ExecutionPlan>, metrics: &JobMetrics) -> String {
    let ids = node_ids(plan);
    let mut out = String::new();
    fn walk(
        p: &Arc<dyn ExecutionPlan>,
        depth: usize,
        ids: &std::collections::HashMap<usize, usize>,
        metrics: &JobMetrics,
        out: &mut String,
    ) {
        let _ = write!(
            out,
            "{:indent$}{}: {} [parallelism={}]",
            "",
            p.name(),
            p.describe(),
            p.parallelism(),
            indent = depth * 2
        );
        if let Some(m) = ids.get(&node_key(p)).and_then(|id| metrics.get(id)) {
            let _ = write!(
                out,
                " metrics=[rows={}, batches={}, time={:.3} ms",
                m.rows_out,
                m.batches_out,
                m.elapsed.as_secs_f64() * 1000.0
            );
            for (name, v) in &m.extra {
                let _ = write!(out, ", {name}={v}");
            }
            out.push(']');
        }
        out.push('\n');
        for c in p.children() {
            walk(&c, depth + 1, ids, metrics, out);
        }
    }
    walk(plan, 0, &ids, metrics, &mut out);
    out
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// An environment on the embedded mini-cluster with default settings (parallelism = cores).
pub fn local_environment() -> ExecutionEnvironment {
    local_environment_with(SessionConfig::default())
}

/// An environment on the embedded mini-cluster with explicit settings; the cluster gets as
/// many worker threads as cores (operators run `target_partitions` subtasks over them).
pub fn local_environment_with(config: SessionConfig) -> ExecutionEnvironment {
    ExecutionEnvironment::with_config(Arc::new(LocalExecutor::new(cores())), config)
}
