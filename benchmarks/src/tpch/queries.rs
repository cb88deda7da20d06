//! The 22 TPC-H queries as SQL text, for `rill bench tpch run`, `rill demo` and the
//! correctness tests.
//!
//! The texts live in `benchmarks/queries/tpch/qNN.sql` (one copy, embedded here with
//! `include_str!`). They follow the specification with its validation (qualification)
//! parameters substituted, written in standard SQL as the specification writes them: comma
//! joins with the join predicates in WHERE, `date 'YYYY-MM-DD' + interval 'N' unit`,
//! `extract(year from …)`, `substring(… from … for …)` and subqueries. Q15's view `revenue0` is
//! a `WITH` clause of the same name, so that every query is a single statement. The row limits
//! of the specification (Q2 100, Q3 10, Q10 20, Q18 100, Q21 100) are `LIMIT` clauses.

/// A named TPC-H query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TpchQuery {
    /// The query number in the specification, e.g. `1` for Q1.
    pub number: u32,
    /// The specification's title, e.g. "Pricing Summary Report".
    pub title: &'static str,
    /// What the query exercises in the engine.
    pub exercises: &'static str,
    /// The SQL text (one statement, without a terminating `;`).
    pub sql: &'static str,
}

/// The 22 TPC-H queries, Q1 first.
pub const QUERIES: [TpchQuery; 22] = [
    TpchQuery {
        number: 1,
        title: "Pricing Summary Report",
        exercises: "filter + hash aggregate with decimal arithmetic",
        sql: include_str!("../../queries/tpch/q01.sql"),
    },
    TpchQuery {
        number: 2,
        title: "Minimum Cost Supplier",
        exercises: "5-way join + correlated scalar subquery (MIN) + top-100",
        sql: include_str!("../../queries/tpch/q02.sql"),
    },
    TpchQuery {
        number: 3,
        title: "Shipping Priority",
        exercises: "3-way hash join + aggregate + ORDER BY ... LIMIT",
        sql: include_str!("../../queries/tpch/q03.sql"),
    },
    TpchQuery {
        number: 4,
        title: "Order Priority Checking",
        exercises: "correlated EXISTS (semi join) + aggregate",
        sql: include_str!("../../queries/tpch/q04.sql"),
    },
    TpchQuery {
        number: 5,
        title: "Local Supplier Volume",
        exercises: "6-way hash join (one on two keys) + aggregate + ORDER BY",
        sql: include_str!("../../queries/tpch/q05.sql"),
    },
    TpchQuery {
        number: 6,
        title: "Forecasting Revenue Change",
        exercises: "selective filter + global aggregate",
        sql: include_str!("../../queries/tpch/q06.sql"),
    },
    TpchQuery {
        number: 7,
        title: "Volume Shipping",
        exercises: "6-way join with a self-joined nation, OR of pairs, EXTRACT",
        sql: include_str!("../../queries/tpch/q07.sql"),
    },
    TpchQuery {
        number: 8,
        title: "National Market Share",
        exercises: "8-way join + CASE inside an aggregate",
        sql: include_str!("../../queries/tpch/q08.sql"),
    },
    TpchQuery {
        number: 9,
        title: "Product Type Profit Measure",
        exercises: "6-way join, LIKE, large aggregate",
        sql: include_str!("../../queries/tpch/q09.sql"),
    },
    TpchQuery {
        number: 10,
        title: "Returned Item Reporting",
        exercises: "4-way join + aggregate on many keys + top-20",
        sql: include_str!("../../queries/tpch/q10.sql"),
    },
    TpchQuery {
        number: 11,
        title: "Important Stock Identification",
        exercises: "aggregate + HAVING with an uncorrelated scalar subquery",
        sql: include_str!("../../queries/tpch/q11.sql"),
    },
    TpchQuery {
        number: 12,
        title: "Shipping Modes and Order Priority",
        exercises: "join + IN list + CASE aggregates",
        sql: include_str!("../../queries/tpch/q12.sql"),
    },
    TpchQuery {
        number: 13,
        title: "Customer Distribution",
        exercises: "left outer join with NOT LIKE, derived table with column list",
        sql: include_str!("../../queries/tpch/q13.sql"),
    },
    TpchQuery {
        number: 14,
        title: "Promotion Effect",
        exercises: "join + conditional aggregate ratio",
        sql: include_str!("../../queries/tpch/q14.sql"),
    },
    TpchQuery {
        number: 15,
        title: "Top Supplier",
        exercises: "CTE used twice + scalar subquery (MAX)",
        sql: include_str!("../../queries/tpch/q15.sql"),
    },
    TpchQuery {
        number: 16,
        title: "Parts/Supplier Relationship",
        exercises: "NOT IN subquery + COUNT(DISTINCT)",
        sql: include_str!("../../queries/tpch/q16.sql"),
    },
    TpchQuery {
        number: 17,
        title: "Small-Quantity-Order Revenue",
        exercises: "correlated scalar subquery (AVG)",
        sql: include_str!("../../queries/tpch/q17.sql"),
    },
    TpchQuery {
        number: 18,
        title: "Large Volume Customer",
        exercises: "IN subquery with GROUP BY/HAVING + top-100",
        sql: include_str!("../../queries/tpch/q18.sql"),
    },
    TpchQuery {
        number: 19,
        title: "Discounted Revenue",
        exercises: "join with a disjunctive predicate",
        sql: include_str!("../../queries/tpch/q19.sql"),
    },
    TpchQuery {
        number: 20,
        title: "Potential Part Promotion",
        exercises: "nested IN subqueries + correlated scalar subquery",
        sql: include_str!("../../queries/tpch/q20.sql"),
    },
    TpchQuery {
        number: 21,
        title: "Suppliers Who Kept Orders Waiting",
        exercises: "EXISTS and NOT EXISTS with non-equi correlation",
        sql: include_str!("../../queries/tpch/q21.sql"),
    },
    TpchQuery {
        number: 22,
        title: "Global Sales Opportunity",
        exercises: "SUBSTRING, scalar subquery, NOT EXISTS (anti join)",
        sql: include_str!("../../queries/tpch/q22.sql"),
    },
];

/// The TPC-H query `number` (1 to 22).
pub fn query(number: u32) -> Option<TpchQuery> {
    let index = usize::try_from(number.checked_sub(1)?).ok()?;
    QUERIES.get(index).copied()
}

/// Q1, pricing summary report: a scan of almost all of `lineitem` with eight aggregates over
/// four groups.
pub const Q1: TpchQuery = QUERIES[0];
/// Q3, shipping priority: a three-way join, an aggregate and a top-10.
pub const Q3: TpchQuery = QUERIES[2];
/// Q5, local supplier volume: a six-way join (one join on two keys) and an aggregate.
pub const Q5: TpchQuery = QUERIES[4];
/// Q6, forecasting revenue change: a selective filter and one global aggregate.
pub const Q6: TpchQuery = QUERIES[5];

/// The queries `rill demo` runs, in order.
pub const DEMO_QUERIES: [TpchQuery; 4] = [Q1, Q3, Q5, Q6];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_numbered_in_order_and_name_tpch_tables() {
        for (i, q) in QUERIES.iter().enumerate() {
            assert_eq!(q.number as usize, i + 1);
            assert_eq!(query(q.number), Some(*q));
            let header = format!("-- TPC-H Q{}: {}", q.number, q.title);
            assert!(q.sql.starts_with(&header), "Q{}: {header}", q.number);
            assert!(
                !q.sql.contains(';'),
                "Q{}: a single statement without a terminator",
                q.number
            );
            assert!(
                super::super::TPCH_TABLES
                    .iter()
                    .any(|t| q.sql.contains(&format!(" {t}"))),
                "Q{}",
                q.number
            );
        }
        assert_eq!(query(0), None);
        assert_eq!(query(23), None);
    }

    #[test]
    fn demo_queries() {
        let numbers: Vec<u32> = DEMO_QUERIES.iter().map(|q| q.number).collect();
        assert_eq!(numbers, [1, 3, 5, 6]);
    }
}
