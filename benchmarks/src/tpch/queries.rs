//! TPC-H queries as SQL text, for the `rill demo` walk-through and the benchmark runners.
//!
//! The texts follow the specification with its validation parameters substituted; date
//! arithmetic (`DATE '1998-12-01' - INTERVAL '90' DAY`) is written as the date it evaluates to,
//! and joins are written with explicit `JOIN … ON` so that they plan as equi-joins without
//! relying on the optimizer to turn a comma join and its WHERE clause into one.

/// A named TPC-H query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TpchQuery {
    /// The query number in the specification, e.g. `1` for Q1.
    pub number: u32,
    /// The specification's title, e.g. "Pricing Summary Report".
    pub title: &'static str,
    /// What the query exercises in the engine.
    pub exercises: &'static str,
    /// The SQL text.
    pub sql: &'static str,
}

/// Q1, pricing summary report: a scan of almost all of `lineitem` with eight aggregates over
/// four groups.
pub const Q1: TpchQuery = TpchQuery {
    number: 1,
    title: "Pricing Summary Report",
    exercises: "filter + hash aggregate with decimal arithmetic",
    sql: "SELECT
    l_returnflag,
    l_linestatus,
    sum(l_quantity) AS sum_qty,
    sum(l_extendedprice) AS sum_base_price,
    sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price,
    sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge,
    avg(l_quantity) AS avg_qty,
    avg(l_extendedprice) AS avg_price,
    avg(l_discount) AS avg_disc,
    count(*) AS count_order
FROM lineitem
WHERE l_shipdate <= DATE '1998-09-02'
GROUP BY l_returnflag, l_linestatus
ORDER BY l_returnflag, l_linestatus",
};

/// Q3, shipping priority: a three-way join, an aggregate and a top-10.
pub const Q3: TpchQuery = TpchQuery {
    number: 3,
    title: "Shipping Priority",
    exercises: "3-way hash join + aggregate + ORDER BY ... LIMIT",
    sql: "SELECT
    l_orderkey,
    sum(l_extendedprice * (1 - l_discount)) AS revenue,
    o_orderdate,
    o_shippriority
FROM customer
    JOIN orders ON c_custkey = o_custkey
    JOIN lineitem ON l_orderkey = o_orderkey
WHERE c_mktsegment = 'BUILDING'
    AND o_orderdate < DATE '1995-03-15'
    AND l_shipdate > DATE '1995-03-15'
GROUP BY l_orderkey, o_orderdate, o_shippriority
ORDER BY revenue DESC, o_orderdate
LIMIT 10",
};

/// Q5, local supplier volume: a six-way join (one join on two keys) and an aggregate.
pub const Q5: TpchQuery = TpchQuery {
    number: 5,
    title: "Local Supplier Volume",
    exercises: "6-way hash join (one on two keys) + aggregate + ORDER BY",
    sql: "SELECT
    n_name,
    sum(l_extendedprice * (1 - l_discount)) AS revenue
FROM customer
    JOIN orders ON c_custkey = o_custkey
    JOIN lineitem ON l_orderkey = o_orderkey
    JOIN supplier ON l_suppkey = s_suppkey AND c_nationkey = s_nationkey
    JOIN nation ON s_nationkey = n_nationkey
    JOIN region ON n_regionkey = r_regionkey
WHERE r_name = 'ASIA'
    AND o_orderdate >= DATE '1994-01-01'
    AND o_orderdate < DATE '1995-01-01'
GROUP BY n_name
ORDER BY revenue DESC",
};

/// Q6, forecasting revenue change: a selective filter and one global aggregate.
pub const Q6: TpchQuery = TpchQuery {
    number: 6,
    title: "Forecasting Revenue Change",
    exercises: "selective filter + global aggregate",
    sql: "SELECT
    sum(l_extendedprice * l_discount) AS revenue
FROM lineitem
WHERE l_shipdate >= DATE '1994-01-01'
    AND l_shipdate < DATE '1995-01-01'
    AND l_discount >= 0.05 AND l_discount <= 0.07
    AND l_quantity < 24",
};

/// The queries `rill demo` runs, in order.
pub const DEMO_QUERIES: [TpchQuery; 4] = [Q1, Q3, Q5, Q6];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_queries_are_distinct_and_name_only_tpch_tables() {
        let numbers: Vec<u32> = DEMO_QUERIES.iter().map(|q| q.number).collect();
        assert_eq!(numbers, [1, 3, 5, 6]);
        for q in DEMO_QUERIES {
            assert!(q.sql.starts_with("SELECT"), "Q{}", q.number);
            assert!(
                !q.sql.contains(';'),
                "Q{}: a single statement without a terminator",
                q.number
            );
            assert!(!q.sql.to_ascii_uppercase().contains("INTERVAL"), "Q{}", q.number);
            let from = q.sql.split("FROM").nth(1).unwrap_or_default();
            assert!(
                super::super::TPCH_TABLES.iter().any(|t| from.contains(t)),
                "Q{}",
                q.number
            );
        }
    }
}
