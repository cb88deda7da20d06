//! Size estimates of logical plans for physical choices (build side, broadcast), from the
//! statistics of the tables they scan. Crude by design: the cost-based optimizer of the next
//! milestone replaces them with cardinality estimates.

use rill_core::plan::LogicalPlan;

/// Estimated bytes a plan produces, if its sources report sizes.
pub fn estimate_bytes(plan: &LogicalPlan) -> Option<u64> {
    match plan {
        LogicalPlan::TableScan(scan) => {
            let stats = scan.source.statistics();
            let total = stats.total_bytes?;
            let all = scan.source.schema().fields().len().max(1) as u64;
            let read = scan.projection.as_ref().map(|p| p.len() as u64).unwrap_or(all).max(1);
            let mut bytes = total.saturating_mul(read) / all;
            for _ in &scan.filters {
                bytes /= 2;
            }
            if let (Some(fetch), Some(rows)) = (scan.fetch, stats.num_rows) {
                if let Some(share) = bytes.saturating_mul(fetch as u64).checked_div(rows) {
                    bytes = bytes.min(share);
                }
            }
            Some(bytes)
        }
        LogicalPlan::Filter { input, .. } => estimate_bytes(input).map(|b| b / 2),
        LogicalPlan::Aggregate { input, group_expr, .. } => {
            if group_expr.is_empty() {
                Some(64)
            } else {
                estimate_bytes(input).map(|b| b / 4)
            }
        }
        LogicalPlan::Join { left, right, .. } => Some(estimate_bytes(left)?.saturating_add(estimate_bytes(right)?)),
        LogicalPlan::Union { inputs, .. } => inputs
            .iter()
            .map(|i| estimate_bytes(i))
            .try_fold(0u64, |acc, b| Some(acc.saturating_add(b?))),
        LogicalPlan::Values { values, .. } => Some(values.len() as u64 * 64),
        LogicalPlan::EmptyRelation { .. } => Some(0),
        LogicalPlan::Limit { input, fetch, .. } => {
            let b = estimate_bytes(input);
            match fetch {
                Some(n) if *n <= 10_000 => Some(b.unwrap_or(u64::MAX).min(*n as u64 * 256)),
                _ => b,
            }
        }
        other => other.inputs().first().and_then(|i| estimate_bytes(i)),
    }
}
