//! The eight TPC-H tables: their Arrow schemas (column names and types as in the TPC-H
//! specification) and the column-wise conversion of `tpchgen`'s row generators into
//! [`RecordBatch`]es.
//!
//! Types: keys and integer counts are `Int64`, money, quantities, discounts and taxes are
//! `Decimal128(15, 2)`, dates are `Date32`, everything else is `Utf8`. Every column is
//! `NOT NULL`, as the specification says.
//!
//! Rows are appended column by column into typed buffers (`Vec<i64>`, `Vec<i128>`, string
//! builders); values that `tpchgen` produces as `Display` types (names, addresses, phone
//! numbers) are formatted straight into the string builder's value buffer, so no `String` is
//! allocated per row.

use std::fmt::Write as _;
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Decimal128Array, Int64Array, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use tpchgen::generators::{
    CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator, PartSuppGenerator,
    RegionGenerator, SupplierGenerator,
};

/// Precision of the TPC-H `DECIMAL(15,2)` columns.
pub const DECIMAL_PRECISION: u8 = 15;
/// Scale of the TPC-H `DECIMAL(15,2)` columns.
pub const DECIMAL_SCALE: i8 = 2;

/// One of the eight TPC-H tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TpchTable {
    /// `nation` (25 rows at every scale factor).
    Nation,
    /// `region` (5 rows at every scale factor).
    Region,
    /// `part` (200,000 × SF rows).
    Part,
    /// `supplier` (10,000 × SF rows).
    Supplier,
    /// `partsupp` (800,000 × SF rows: four suppliers per part).
    PartSupp,
    /// `customer` (150,000 × SF rows).
    Customer,
    /// `orders` (1,500,000 × SF rows).
    Orders,
    /// `lineitem` (about 6,000,000 × SF rows: one to seven per order).
    LineItem,
}

impl TpchTable {
    /// All tables, in the order of [`super::TPCH_TABLES`].
    pub const ALL: [TpchTable; 8] = [
        TpchTable::Nation,
        TpchTable::Region,
        TpchTable::Part,
        TpchTable::Supplier,
        TpchTable::PartSupp,
        TpchTable::Customer,
        TpchTable::Orders,
        TpchTable::LineItem,
    ];

    /// The table's name as the specification spells it (lower case).
    pub fn name(self) -> &'static str {
        match self {
            TpchTable::Nation => "nation",
            TpchTable::Region => "region",
            TpchTable::Part => "part",
            TpchTable::Supplier => "supplier",
            TpchTable::PartSupp => "partsupp",
            TpchTable::Customer => "customer",
            TpchTable::Orders => "orders",
            TpchTable::LineItem => "lineitem",
        }
    }

    /// The table of a name (case-insensitive).
    pub fn from_name(name: &str) -> Option<TpchTable> {
        TpchTable::ALL.into_iter().find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// The table's Arrow schema.
    pub fn schema(self) -> SchemaRef {
        use DataType::{Date32, Int64, Utf8};
        let dec = DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE);
        let cols: Vec<(&str, DataType)> = match self {
            TpchTable::Nation => vec![
                ("n_nationkey", Int64),
                ("n_name", Utf8),
                ("n_regionkey", Int64),
                ("n_comment", Utf8),
            ],
            TpchTable::Region => vec![("r_regionkey", Int64), ("r_name", Utf8), ("r_comment", Utf8)],
            TpchTable::Part => vec![
                ("p_partkey", Int64),
                ("p_name", Utf8),
                ("p_mfgr", Utf8),
                ("p_brand", Utf8),
                ("p_type", Utf8),
                ("p_size", Int64),
                ("p_container", Utf8),
                ("p_retailprice", dec),
                ("p_comment", Utf8),
            ],
            TpchTable::Supplier => vec![
                ("s_suppkey", Int64),
                ("s_name", Utf8),
                ("s_address", Utf8),
                ("s_nationkey", Int64),
                ("s_phone", Utf8),
                ("s_acctbal", dec),
                ("s_comment", Utf8),
            ],
            TpchTable::PartSupp => vec![
                ("ps_partkey", Int64),
                ("ps_suppkey", Int64),
                ("ps_availqty", Int64),
                ("ps_supplycost", dec),
                ("ps_comment", Utf8),
            ],
            TpchTable::Customer => vec![
                ("c_custkey", Int64),
                ("c_name", Utf8),
                ("c_address", Utf8),
                ("c_nationkey", Int64),
                ("c_phone", Utf8),
                ("c_acctbal", dec),
                ("c_mktsegment", Utf8),
                ("c_comment", Utf8),
            ],
            TpchTable::Orders => vec![
                ("o_orderkey", Int64),
                ("o_custkey", Int64),
                ("o_orderstatus", Utf8),
                ("o_totalprice", dec),
                ("o_orderdate", Date32),
                ("o_orderpriority", Utf8),
                ("o_clerk", Utf8),
                ("o_shippriority", Int64),
                ("o_comment", Utf8),
            ],
            TpchTable::LineItem => vec![
                ("l_orderkey", Int64),
                ("l_partkey", Int64),
                ("l_suppkey", Int64),
                ("l_linenumber", Int64),
                ("l_quantity", dec.clone()),
                ("l_extendedprice", dec.clone()),
                ("l_discount", dec.clone()),
                ("l_tax", dec),
                ("l_returnflag", Utf8),
                ("l_linestatus", Utf8),
                ("l_shipdate", Date32),
                ("l_commitdate", Date32),
                ("l_receiptdate", Date32),
                ("l_shipinstruct", Utf8),
                ("l_shipmode", Utf8),
                ("l_comment", Utf8),
            ],
        };
        Arc::new(Schema::new(
            cols.into_iter()
                .map(|(n, t)| Field::new(n, t, false))
                .collect::<Vec<_>>(),
        ))
    }

    /// How many rows of the table's *driving* generator there are at `scale_factor`: the
    /// unit that `tpchgen` splits into parts (parts for `partsupp`, orders for `lineitem`).
    pub(crate) fn driving_rows(self, scale_factor: f64) -> i64 {
        let base: f64 = match self {
            TpchTable::Nation => return 25,
            TpchTable::Region => return 5,
            TpchTable::Part | TpchTable::PartSupp => 200_000.0,
            TpchTable::Supplier => 10_000.0,
            TpchTable::Customer => 150_000.0,
            TpchTable::Orders | TpchTable::LineItem => 1_500_000.0,
        };
        (base * scale_factor) as i64
    }

    /// Rows of this table per row of its driving generator (on average for `lineitem`).
    pub(crate) fn rows_per_driving_row(self) -> i64 {
        match self {
            TpchTable::PartSupp | TpchTable::LineItem => 4,
            _ => 1,
        }
    }

    /// Whether `tpchgen` can split this table into parts (`nation` and `region` cannot).
    pub(crate) fn splittable(self) -> bool {
        !matches!(self, TpchTable::Nation | TpchTable::Region)
    }

    /// Generates part `part` (1-based) of `parts` of this table as one batch.
    pub(crate) fn generate_part(self, scale_factor: f64, part: i32, parts: i32) -> Result<RecordBatch, ArrowError> {
        let schema = self.schema();
        let capacity = self.capacity(scale_factor, parts);
        let columns = match self {
            TpchTable::Nation => nation(capacity),
            TpchTable::Region => region(capacity),
            TpchTable::Part => part_table(scale_factor, part, parts, capacity),
            TpchTable::Supplier => supplier(scale_factor, part, parts, capacity),
            TpchTable::PartSupp => partsupp(scale_factor, part, parts, capacity),
            TpchTable::Customer => customer(scale_factor, part, parts, capacity),
            TpchTable::Orders => orders(scale_factor, part, parts, capacity),
            TpchTable::LineItem => lineitem(scale_factor, part, parts, capacity),
        }?;
        RecordBatch::try_new(schema, columns)
    }

    /// The expected number of rows in one part (to size buffers).
    fn capacity(self, scale_factor: f64, parts: i32) -> usize {
        let driving = self.driving_rows(scale_factor) / i64::from(parts.max(1)) + 1;
        usize::try_from(driving * self.rows_per_driving_row()).unwrap_or(0)
    }
}

/// A `Decimal128(15, 2)` array of values already scaled by 100.
fn decimal(values: Vec<i128>) -> Result<ArrayRef, ArrowError> {
    Ok(Arc::new(
        Decimal128Array::from(values).with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)?,
    ))
}

fn int64(values: Vec<i64>) -> ArrayRef {
    Arc::new(Int64Array::from(values))
}

fn date32(values: Vec<i32>) -> ArrayRef {
    Arc::new(Date32Array::from(values))
}

fn strings(capacity: usize, avg_len: usize) -> StringBuilder {
    StringBuilder::with_capacity(capacity, capacity * avg_len)
}

/// Appends a value rendered by its `Display` implementation, without an intermediate `String`.
fn append_display(builder: &mut StringBuilder, value: impl std::fmt::Display) -> Result<(), ArrowError> {
    write!(builder, "{value}").map_err(|e| ArrowError::ComputeError(format!("formatting a TPC-H value: {e}")))?;
    builder.append_value("");
    Ok(())
}

fn finish(mut b: StringBuilder) -> ArrayRef {
    Arc::new(b.finish())
}

fn nation(capacity: usize) -> Result<Vec<ArrayRef>, ArrowError> {
    let (mut key, mut region) = (Vec::with_capacity(capacity), Vec::with_capacity(capacity));
    let (mut name, mut comment) = (strings(capacity, 12), strings(capacity, 80));
    for n in NationGenerator::default().iter() {
        key.push(n.n_nationkey);
        name.append_value(n.n_name);
        region.push(n.n_regionkey);
        comment.append_value(n.n_comment);
    }
    Ok(vec![int64(key), finish(name), int64(region), finish(comment)])
}

fn region(capacity: usize) -> Result<Vec<ArrayRef>, ArrowError> {
    let mut key = Vec::with_capacity(capacity);
    let (mut name, mut comment) = (strings(capacity, 12), strings(capacity, 80));
    for r in RegionGenerator::default().iter() {
        key.push(r.r_regionkey);
        name.append_value(r.r_name);
        comment.append_value(r.r_comment);
    }
    Ok(vec![int64(key), finish(name), finish(comment)])
}

fn part_table(sf: f64, part: i32, parts: i32, capacity: usize) -> Result<Vec<ArrayRef>, ArrowError> {
    let (mut key, mut size, mut price) = (
        Vec::with_capacity(capacity),
        Vec::with_capacity(capacity),
        Vec::with_capacity(capacity),
    );
    let mut name = strings(capacity, 33);
    let mut mfgr = strings(capacity, 14);
    let mut brand = strings(capacity, 8);
    let mut ptype = strings(capacity, 21);
    let mut container = strings(capacity, 8);
    let mut comment = strings(capacity, 14);
    for p in PartGenerator::new(sf, part, parts).iter() {
        key.push(p.p_partkey);
        append_display(&mut name, &p.p_name)?;
        append_display(&mut mfgr, p.p_mfgr)?;
        append_display(&mut brand, p.p_brand)?;
        ptype.append_value(p.p_type);
        size.push(i64::from(p.p_size));
        container.append_value(p.p_container);
        price.push(i128::from(p.p_retailprice.into_inner()));
        comment.append_value(p.p_comment);
    }
    Ok(vec![
        int64(key),
        finish(name),
        finish(mfgr),
        finish(brand),
        finish(ptype),
        int64(size),
        finish(container),
        decimal(price)?,
        finish(comment),
    ])
}

fn supplier(sf: f64, part: i32, parts: i32, capacity: usize) -> Result<Vec<ArrayRef>, ArrowError> {
    let (mut key, mut nation, mut acctbal) = (
        Vec::with_capacity(capacity),
        Vec::with_capacity(capacity),
        Vec::with_capacity(capacity),
    );
    let mut name = strings(capacity, 18);
    let mut address = strings(capacity, 25);
    let mut phone = strings(capacity, 15);
    let mut comment = strings(capacity, 63);
    for s in SupplierGenerator::new(sf, part, parts).iter() {
        key.push(s.s_suppkey);
        append_display(&mut name, s.s_name)?;
        append_display(&mut address, &s.s_address)?;
        nation.push(s.s_nationkey);
        append_display(&mut phone, &s.s_phone)?;
        acctbal.push(i128::from(s.s_acctbal.into_inner()));
        comment.append_value(&s.s_comment);
    }
    Ok(vec![
        int64(key),
        finish(name),
        finish(address),
        int64(nation),
        finish(phone),
        decimal(acctbal)?,
        finish(comment),
    ])
}

fn partsupp(sf: f64, part: i32, parts: i32, capacity: usize) -> Result<Vec<ArrayRef>, ArrowError> {
    let (mut partkey, mut suppkey, mut qty, mut cost) = (
        Vec::with_capacity(capacity),
        Vec::with_capacity(capacity),
        Vec::with_capacity(capacity),
        Vec::with_capacity(capacity),
    );
    let mut comment = strings(capacity, 124);
    for ps in PartSuppGenerator::new(sf, part, parts).iter() {
        partkey.push(ps.ps_partkey);
        suppkey.push(ps.ps_suppkey);
        qty.push(i64::from(ps.ps_availqty));
        cost.push(i128::from(ps.ps_supplycost.into_inner()));
        comment.append_value(ps.ps_comment);
    }
    Ok(vec![
        int64(partkey),
        int64(suppkey),
        int64(qty),
        decimal(cost)?,
        finish(comment),
    ])
}

fn customer(sf: f64, part: i32, parts: i32, capacity: usize) -> Result<Vec<ArrayRef>, ArrowError> {
    let (mut key, mut nation, mut acctbal) = (
        Vec::with_capacity(capacity),
        Vec::with_capacity(capacity),
        Vec::with_capacity(capacity),
    );
    let mut name = strings(capacity, 18);
    let mut address = strings(capacity, 25);
    let mut phone = strings(capacity, 15);
    let mut segment = strings(capacity, 10);
    let mut comment = strings(capacity, 73);
    for c in CustomerGenerator::new(sf, part, parts).iter() {
        key.push(c.c_custkey);
        append_display(&mut name, c.c_name)?;
        append_display(&mut address, &c.c_address)?;
        nation.push(c.c_nationkey);
        append_display(&mut phone, &c.c_phone)?;
        acctbal.push(i128::from(c.c_acctbal.into_inner()));
        segment.append_value(c.c_mktsegment);
        comment.append_value(c.c_comment);
    }
    Ok(vec![
        int64(key),
        finish(name),
        finish(address),
        int64(nation),
        finish(phone),
        decimal(acctbal)?,
        finish(segment),
        finish(comment),
    ])
}

fn orders(sf: f64, part: i32, parts: i32, capacity: usize) -> Result<Vec<ArrayRef>, ArrowError> {
    let (mut key, mut cust, mut total, mut date, mut shippriority) = (
        Vec::with_capacity(capacity),
        Vec::with_capacity(capacity),
        Vec::with_capacity(capacity),
        Vec::with_capacity(capacity),
        Vec::with_capacity(capacity),
    );
    let mut status = strings(capacity, 1);
    let mut priority = strings(capacity, 9);
    let mut clerk = strings(capacity, 15);
    let mut comment = strings(capacity, 49);
    for o in OrderGenerator::new(sf, part, parts).iter() {
        key.push(o.o_orderkey);
        cust.push(o.o_custkey);
        status.append_value(o.o_orderstatus.as_str());
        total.push(i128::from(o.o_totalprice.into_inner()));
        date.push(o.o_orderdate.to_unix_epoch());
        priority.append_value(o.o_orderpriority);
        append_display(&mut clerk, o.o_clerk)?;
        shippriority.push(i64::from(o.o_shippriority));
        comment.append_value(o.o_comment);
    }
    Ok(vec![
        int64(key),
        int64(cust),
        finish(status),
        decimal(total)?,
        date32(date),
        finish(priority),
        finish(clerk),
        int64(shippriority),
        finish(comment),
    ])
}

fn lineitem(sf: f64, part: i32, parts: i32, capacity: usize) -> Result<Vec<ArrayRef>, ArrowError> {
    let mut orderkey = Vec::with_capacity(capacity);
    let mut partkey = Vec::with_capacity(capacity);
    let mut suppkey = Vec::with_capacity(capacity);
    let mut linenumber = Vec::with_capacity(capacity);
    let mut quantity = Vec::with_capacity(capacity);
    let mut price = Vec::with_capacity(capacity);
    let mut discount = Vec::with_capacity(capacity);
    let mut tax = Vec::with_capacity(capacity);
    let mut shipdate = Vec::with_capacity(capacity);
    let mut commitdate = Vec::with_capacity(capacity);
    let mut receiptdate = Vec::with_capacity(capacity);
    let mut returnflag = strings(capacity, 1);
    let mut linestatus = strings(capacity, 1);
    let mut shipinstruct = strings(capacity, 12);
    let mut shipmode = strings(capacity, 5);
    let mut comment = strings(capacity, 27);
    for l in LineItemGenerator::new(sf, part, parts).iter() {
        orderkey.push(l.l_orderkey);
        partkey.push(l.l_partkey);
        suppkey.push(l.l_suppkey);
        linenumber.push(i64::from(l.l_linenumber));
        // tpchgen gives the quantity as a whole number; the column is DECIMAL(15,2).
        quantity.push(i128::from(l.l_quantity) * 100);
        price.push(i128::from(l.l_extendedprice.into_inner()));
        discount.push(i128::from(l.l_discount.into_inner()));
        tax.push(i128::from(l.l_tax.into_inner()));
        returnflag.append_value(l.l_returnflag);
        linestatus.append_value(l.l_linestatus);
        shipdate.push(l.l_shipdate.to_unix_epoch());
        commitdate.push(l.l_commitdate.to_unix_epoch());
        receiptdate.push(l.l_receiptdate.to_unix_epoch());
        shipinstruct.append_value(l.l_shipinstruct);
        shipmode.append_value(l.l_shipmode);
        comment.append_value(l.l_comment);
    }
    Ok(vec![
        int64(orderkey),
        int64(partkey),
        int64(suppkey),
        int64(linenumber),
        decimal(quantity)?,
        decimal(price)?,
        decimal(discount)?,
        decimal(tax)?,
        finish(returnflag),
        finish(linestatus),
        date32(shipdate),
        date32(commitdate),
        date32(receiptdate),
        finish(shipinstruct),
        finish(shipmode),
        finish(comment),
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Date32Type, Decimal128Type, Int64Type};

    use super::*;

    #[test]
    fn names_round_trip() {
        for t in TpchTable::ALL {
            assert_eq!(TpchTable::from_name(t.name()), Some(t));
            assert_eq!(TpchTable::from_name(&t.name().to_uppercase()), Some(t));
        }
        assert_eq!(TpchTable::from_name("nope"), None);
    }

    #[test]
    fn batches_match_schemas_and_have_no_nulls() {
        for t in TpchTable::ALL {
            let batch = t.generate_part(0.001, 1, 1).unwrap();
            assert_eq!(batch.schema(), t.schema(), "{}", t.name());
            assert!(batch.num_rows() > 0, "{}", t.name());
            for c in batch.columns() {
                assert_eq!(c.null_count(), 0, "{}", t.name());
            }
        }
    }

    #[test]
    fn first_lineitem_matches_tbl_output() {
        // The first row of tpchgen's TBL output at SF 1:
        // 1|155190|7706|1|17|21168.23|0.04|0.02|N|O|1996-03-13|1996-02-12|1996-03-22|DELIVER IN PERSON|TRUCK|egular courts above the|
        let batch = TpchTable::LineItem.generate_part(1.0, 1, 1500).unwrap();
        assert_eq!(batch.column(0).as_primitive::<Int64Type>().value(0), 1);
        assert_eq!(batch.column(1).as_primitive::<Int64Type>().value(0), 155190);
        assert_eq!(batch.column(2).as_primitive::<Int64Type>().value(0), 7706);
        assert_eq!(batch.column(3).as_primitive::<Int64Type>().value(0), 1);
        let q = batch.column(4).as_primitive::<Decimal128Type>();
        assert_eq!(q.value_as_string(0), "17.00");
        let p = batch.column(5).as_primitive::<Decimal128Type>();
        assert_eq!(p.value_as_string(0), "21168.23");
        assert_eq!(
            batch.column(6).as_primitive::<Decimal128Type>().value_as_string(0),
            "0.04"
        );
        assert_eq!(
            batch.column(7).as_primitive::<Decimal128Type>().value_as_string(0),
            "0.02"
        );
        assert_eq!(batch.column(8).as_string::<i32>().value(0), "N");
        assert_eq!(batch.column(9).as_string::<i32>().value(0), "O");
        // 1996-03-13 is day 9568 since 1970-01-01.
        assert_eq!(batch.column(10).as_primitive::<Date32Type>().value(0), 9568);
        assert_eq!(batch.column(13).as_string::<i32>().value(0), "DELIVER IN PERSON");
        assert_eq!(batch.column(14).as_string::<i32>().value(0), "TRUCK");
        assert_eq!(batch.column(15).as_string::<i32>().value(0), "egular courts above the");
    }

    #[test]
    fn display_columns_are_formatted_in_place() {
        let batch = TpchTable::Customer.generate_part(0.01, 1, 1).unwrap();
        let names = batch.column(1).as_string::<i32>();
        assert_eq!(names.value(0), "Customer#000000001");
        assert_eq!(names.value(1), "Customer#000000002");
        let phones = batch.column(4).as_string::<i32>();
        assert_eq!(phones.value(0), "25-989-741-2988");
        let batch = TpchTable::Part.generate_part(0.01, 1, 1).unwrap();
        assert_eq!(batch.column(2).as_string::<i32>().value(0), "Manufacturer#1");
        assert_eq!(batch.column(3).as_string::<i32>().value(0), "Brand#13");
        assert_eq!(
            batch.column(1).as_string::<i32>().value(0),
            "goldenrod lavender spring chocolate lace"
        );
    }

    #[test]
    fn parts_concatenate_to_the_whole_table() {
        let whole = TpchTable::Orders.generate_part(0.01, 1, 1).unwrap();
        let a = TpchTable::Orders.generate_part(0.01, 1, 3).unwrap();
        let b = TpchTable::Orders.generate_part(0.01, 2, 3).unwrap();
        let c = TpchTable::Orders.generate_part(0.01, 3, 3).unwrap();
        assert_eq!(a.num_rows() + b.num_rows() + c.num_rows(), whole.num_rows());
        let keys = whole.column(0).as_primitive::<Int64Type>();
        let c_keys = c.column(0).as_primitive::<Int64Type>();
        assert_eq!(c_keys.value(c_keys.len() - 1), keys.value(keys.len() - 1));
        assert_eq!(
            b.column(0).as_primitive::<Int64Type>().value(0),
            keys.value(a.num_rows())
        );
    }

    #[test]
    fn empty_scale_gives_empty_batches() {
        let batch = TpchTable::Supplier.generate_part(0.00001, 1, 1).unwrap();
        assert_eq!(batch.num_rows(), 0);
        assert_eq!(batch.schema(), TpchTable::Supplier.schema());
    }
}
