//! A subplan that occurs twice in a query (a `WITH` query referenced twice) runs once and
//! feeds both places, with the answers of running it twice.

use crate::common::{env, rows, sample_batches, sorted_rows};

/// The vertex ids that feed more than one vertex, from EXPLAIN's job graph
/// (`v3 [parallelism=2] HashJoinExec <- v1 broadcast, v2 forward`).
fn shared_vertices(explain: &str) -> Vec<String> {
    let graph = &explain[explain.find("== Job Graph ==").unwrap_or(0)..];
    let mut fed = std::collections::HashMap::new();
    for line in graph.lines() {
        if let Some((_, inputs)) = line.split_once(" <- ") {
            for input in inputs.split(", ") {
                let from = input.split_whitespace().next().unwrap_or("").to_string();
                *fed.entry(from).or_insert(0) += 1;
            }
        }
    }
    let mut shared: Vec<String> = fed.into_iter().filter(|(_, n)| *n > 1).map(|(v, _)| v).collect();
    shared.sort();
    shared
}

fn explain(env: &rill_core::ExecutionEnvironment, query: &str) -> String {
    let plan = env.sql(&format!("EXPLAIN {query}")).unwrap().collect().unwrap();
    rows(&plan).join("\n")
}

#[test]
fn a_with_query_used_twice_runs_once() {
    let env = env(2);
    env.register_batches("t", sample_batches(1000, 7)).unwrap();
    // sum(v) per k = i % 7 over i in 0..1000, computed here from the definition of the data.
    let totals: Vec<(i64, i64)> = (0..7).map(|k| (k, (0..1000).filter(|i| i % 7 == k).sum())).collect();
    let max = totals.iter().map(|t| t.1).max().unwrap();

    // Maximized and filtered against (TPC-H Q15's shape): the filter's input waits for the
    // maximum, which the same subplan feeds.
    let q15 = "WITH g AS (SELECT k, sum(v) AS total FROM t GROUP BY k) \
               SELECT k, total FROM g WHERE total = (SELECT max(total) FROM g) ORDER BY k";
    let expected: Vec<String> = totals
        .iter()
        .filter(|t| t.1 == max)
        .map(|(k, t)| format!("{k}|{t}"))
        .collect();
    assert_eq!(rows(&env.sql(q15).unwrap().collect().unwrap()), expected);
    assert_eq!(shared_vertices(&explain(&env, q15)).len(), 1, "{}", explain(&env, q15));

    // Joined with itself.
    let self_join = "WITH g AS (SELECT k, sum(v) AS total FROM t GROUP BY k) \
                     SELECT a.k, b.k FROM g a JOIN g b ON a.total = b.total";
    let expected: Vec<String> = {
        let mut e: Vec<String> = totals
            .iter()
            .flat_map(|a| {
                totals
                    .iter()
                    .filter(move |b| b.1 == a.1)
                    .map(move |b| format!("{}|{}", a.0, b.0))
            })
            .collect();
        e.sort();
        e
    };
    assert_eq!(sorted_rows(&env.sql(self_join).unwrap().collect().unwrap()), expected);
    assert_eq!(
        shared_vertices(&explain(&env, self_join)).len(),
        1,
        "{}",
        explain(&env, self_join)
    );
}
