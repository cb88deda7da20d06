//! Logical expressions: [`Expr`], its operators and functions, its type rules and its
//! builder helpers ([`col`], [`lit`], …).
//!
//! An `Expr` refers to columns by name ([`Column`]: optional qualifier plus name). It is
//! resolved against the [`PlanSchema`] of its plan node's input; the physical planner in
//! `rill-exec` turns it into a vectorized evaluator over `RecordBatch`es.
//!
//! The output name of an expression is its `Display` form (`sum(l_quantity)`, `a + b`), except
//! for columns (their bare name) and aliases (the alias).

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};

use crate::error::{Result, RillError};
use crate::plan::LogicalPlan;
use crate::scalar::ScalarValue;
use crate::schema::PlanSchema;
use crate::types;

/// A reference to a column: an optional relation (table or alias) and a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Column {
    /// The table or alias that qualifies the name, if written.
    pub relation: Option<String>,
    /// The column name.
    pub name: String,
}

impl Column {
    /// An unqualified column.
    pub fn new_unqualified(name: impl Into<String>) -> Self {
        Column {
            relation: None,
            name: name.into(),
        }
    }

    /// A qualified column.
    pub fn new(relation: Option<impl Into<String>>, name: impl Into<String>) -> Self {
        Column {
            relation: relation.map(Into::into),
            name: name.into(),
        }
    }

    /// Parses `"t.a"` as a qualified and `"a"` as an unqualified column.
    pub fn from_qualified_name(s: &str) -> Self {
        match s.split_once('.') {
            Some((r, n)) if !r.is_empty() && !n.is_empty() => Column::new(Some(r), n),
            _ => Column::new_unqualified(s),
        }
    }

    /// `relation.name` or `name`.
    pub fn flat_name(&self) -> String {
        match &self.relation {
            Some(r) => format!("{r}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.flat_name())
    }
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BinaryOp {
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Multiply,
    /// `/` (integer division truncates toward zero on integers)
    Divide,
    /// `%`
    Modulo,
    /// `=`
    Eq,
    /// `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `AND` (three-valued)
    And,
    /// `OR` (three-valued)
    Or,
    /// `IS DISTINCT FROM` (NULL-safe `<>`)
    IsDistinctFrom,
    /// `IS NOT DISTINCT FROM` (NULL-safe `=`)
    IsNotDistinctFrom,
    /// `||`
    StringConcat,
}

impl BinaryOp {
    /// Whether the operator compares its operands and returns a boolean.
    pub fn is_comparison(self) -> bool {
        use BinaryOp::*;
        matches!(
            self,
            Eq | NotEq | Lt | LtEq | Gt | GtEq | IsDistinctFrom | IsNotDistinctFrom
        )
    }

    /// The operator with its operands swapped (`a < b` ⇔ `b > a`), if there is one.
    pub fn swap(self) -> Option<BinaryOp> {
        use BinaryOp::*;
        Some(match self {
            Eq => Eq,
            NotEq => NotEq,
            Lt => Gt,
            LtEq => GtEq,
            Gt => Lt,
            GtEq => LtEq,
            IsDistinctFrom => IsDistinctFrom,
            IsNotDistinctFrom => IsNotDistinctFrom,
            And => And,
            Or => Or,
            Plus => Plus,
            Multiply => Multiply,
            _ => return None,
        })
    }

    /// The negated comparison (`a < b` ⇔ `NOT a >= b`), if there is one.
    pub fn negate(self) -> Option<BinaryOp> {
        use BinaryOp::*;
        Some(match self {
            Eq => NotEq,
            NotEq => Eq,
            Lt => GtEq,
            LtEq => Gt,
            Gt => LtEq,
            GtEq => Lt,
            IsDistinctFrom => IsNotDistinctFrom,
            IsNotDistinctFrom => IsDistinctFrom,
            _ => return None,
        })
    }
}

impl fmt::Display for BinaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use BinaryOp::*;
        f.write_str(match self {
            Plus => "+",
            Minus => "-",
            Multiply => "*",
            Divide => "/",
            Modulo => "%",
            Eq => "=",
            NotEq => "<>",
            Lt => "<",
            LtEq => "<=",
            Gt => ">",
            GtEq => ">=",
            And => "AND",
            Or => "OR",
            IsDistinctFrom => "IS DISTINCT FROM",
            IsNotDistinctFrom => "IS NOT DISTINCT FROM",
            StringConcat => "||",
        })
    }
}

/// The part of a date or timestamp that `EXTRACT` / `date_part` / `date_trunc` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DatePart {
    /// Year.
    Year,
    /// Quarter (1-4).
    Quarter,
    /// Month (1-12).
    Month,
    /// ISO week (1-53).
    Week,
    /// Day of month.
    Day,
    /// Day of week, Sunday = 0.
    DayOfWeek,
    /// Day of year (1-366).
    DayOfYear,
    /// Hour.
    Hour,
    /// Minute.
    Minute,
    /// Second (with fraction for `EXTRACT`).
    Second,
    /// Milliseconds.
    Millisecond,
    /// Microseconds.
    Microsecond,
    /// Seconds since the UNIX epoch.
    Epoch,
}

impl DatePart {
    /// Parses a part name (`year`, `month`, `dow`, …), case-insensitively.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "year" | "years" | "y" => DatePart::Year,
            "quarter" => DatePart::Quarter,
            "month" | "months" | "mon" => DatePart::Month,
            "week" | "weeks" => DatePart::Week,
            "day" | "days" | "d" => DatePart::Day,
            "dow" | "dayofweek" => DatePart::DayOfWeek,
            "doy" | "dayofyear" => DatePart::DayOfYear,
            "hour" | "hours" | "h" => DatePart::Hour,
            "minute" | "minutes" | "m" => DatePart::Minute,
            "second" | "seconds" | "s" => DatePart::Second,
            "millisecond" | "milliseconds" | "ms" => DatePart::Millisecond,
            "microsecond" | "microseconds" | "us" => DatePart::Microsecond,
            "epoch" => DatePart::Epoch,
            other => {
                return Err(RillError::invalid_argument(
                    "date part",
                    format!("unknown date part '{other}'"),
                ))
            }
        })
    }
}

impl fmt::Display for DatePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DatePart::*;
        f.write_str(match self {
            Year => "year",
            Quarter => "quarter",
            Month => "month",
            Week => "week",
            Day => "day",
            DayOfWeek => "dow",
            DayOfYear => "doy",
            Hour => "hour",
            Minute => "minute",
            Second => "second",
            Millisecond => "millisecond",
            Microsecond => "microsecond",
            Epoch => "epoch",
        })
    }
}

/// Built-in scalar functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScalarFunction {
    /// `coalesce(a, b, …)`: the first non-NULL argument.
    Coalesce,
    /// `nullif(a, b)`: NULL if `a = b`, else `a`.
    NullIf,
    /// `upper(s)`.
    Upper,
    /// `lower(s)`.
    Lower,
    /// `trim(s)` (both sides, spaces or the characters of an optional second argument).
    Trim,
    /// `ltrim(s)`.
    Ltrim,
    /// `rtrim(s)`.
    Rtrim,
    /// `substring(s, start [, length])`, 1-based, in characters.
    Substring,
    /// `concat(a, b, …)`: NULL arguments are skipped.
    Concat,
    /// `length(s)` / `char_length(s)`: characters.
    CharacterLength,
    /// `starts_with(s, prefix)`.
    StartsWith,
    /// `ends_with(s, suffix)`.
    EndsWith,
    /// `replace(s, from, to)`.
    Replace,
    /// `abs(x)`.
    Abs,
    /// `round(x [, digits])`.
    Round,
    /// `floor(x)`.
    Floor,
    /// `ceil(x)`.
    Ceil,
    /// `date_part('part', d)` and `EXTRACT(part FROM d)`; the first argument is a literal part name.
    DatePart,
    /// `date_trunc('part', d)`; the first argument is a literal part name.
    DateTrunc,
}

impl ScalarFunction {
    /// The function of a SQL name, if it is built in.
    pub fn from_name(name: &str) -> Option<Self> {
        use ScalarFunction::*;
        Some(match name.to_ascii_lowercase().as_str() {
            "coalesce" => Coalesce,
            "nullif" => NullIf,
            "upper" => Upper,
            "lower" => Lower,
            "trim" | "btrim" => Trim,
            "ltrim" => Ltrim,
            "rtrim" => Rtrim,
            "substring" | "substr" => Substring,
            "concat" => Concat,
            "length" | "char_length" | "character_length" => CharacterLength,
            "starts_with" => StartsWith,
            "ends_with" => EndsWith,
            "replace" => Replace,
            "abs" => Abs,
            "round" => Round,
            "floor" => Floor,
            "ceil" | "ceiling" => Ceil,
            "date_part" | "datepart" => DatePart,
            "date_trunc" | "datetrunc" => DateTrunc,
            _ => return None,
        })
    }

    /// The function's SQL name.
    pub fn name(&self) -> &'static str {
        use ScalarFunction::*;
        match self {
            Coalesce => "coalesce",
            NullIf => "nullif",
            Upper => "upper",
            Lower => "lower",
            Trim => "trim",
            Ltrim => "ltrim",
            Rtrim => "rtrim",
            Substring => "substring",
            Concat => "concat",
            CharacterLength => "length",
            StartsWith => "starts_with",
            EndsWith => "ends_with",
            Replace => "replace",
            Abs => "abs",
            Round => "round",
            Floor => "floor",
            Ceil => "ceil",
            DatePart => "date_part",
            DateTrunc => "date_trunc",
        }
    }

    /// The return type for arguments of the given types, or a type error naming the call.
    pub fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        use ScalarFunction::*;
        let err = |msg: String| Err(RillError::type_mismatch(format!("{}()", self.name()), msg));
        let arity = |min: usize, max: usize| -> Result<()> {
            if args.len() < min || args.len() > max {
                return Err(RillError::type_mismatch(
                    format!("{}()", self.name()),
                    format!("expected {min}..={max} arguments, got {}", args.len()),
                ));
            }
            Ok(())
        };
        let string_arg = |i: usize| -> Result<()> {
            match args.get(i) {
                Some(t) if types::is_string(t) || *t == DataType::Null => Ok(()),
                Some(t) => Err(RillError::type_mismatch(
                    format!("{}()", self.name()),
                    format!("argument {} must be a string, got {t}", i + 1),
                )),
                None => Ok(()),
            }
        };
        match self {
            Coalesce => {
                if args.is_empty() {
                    return err("expected at least one argument".into());
                }
                let mut t = DataType::Null;
                for a in args {
                    t = match types::comparison_coercion(&t, a) {
                        Some(t) => t,
                        None => return err(format!("arguments of types {t} and {a} have no common type")),
                    };
                }
                Ok(t)
            }
            NullIf => {
                arity(2, 2)?;
                match types::comparison_coercion(&args[0], &args[1]) {
                    Some(_) => Ok(args[0].clone()),
                    None => err(format!("cannot compare {} and {}", args[0], args[1])),
                }
            }
            Upper | Lower | Trim | Ltrim | Rtrim => {
                arity(1, 2)?;
                string_arg(0)?;
                string_arg(1)?;
                Ok(DataType::Utf8)
            }
            Substring => {
                arity(2, 3)?;
                string_arg(0)?;
                for (i, t) in args.iter().enumerate().skip(1) {
                    if !t.is_integer() && *t != DataType::Null {
                        return err(format!("argument {} must be an integer, got {t}", i + 1));
                    }
                }
                Ok(DataType::Utf8)
            }
            Concat => Ok(DataType::Utf8),
            CharacterLength => {
                arity(1, 1)?;
                string_arg(0)?;
                Ok(DataType::Int64)
            }
            StartsWith | EndsWith => {
                arity(2, 2)?;
                string_arg(0)?;
                string_arg(1)?;
                Ok(DataType::Boolean)
            }
            Replace => {
                arity(3, 3)?;
                (0..3).try_for_each(string_arg)?;
                Ok(DataType::Utf8)
            }
            Abs | Floor | Ceil => {
                arity(1, 1)?;
                if !types::is_numeric(&args[0]) && args[0] != DataType::Null {
                    return err(format!("argument must be numeric, got {}", args[0]));
                }
                Ok(match (self, &args[0]) {
                    (Abs, t) => t.clone(),
                    (_, t) if t.is_integer() => t.clone(),
                    (_, DataType::Decimal128(p, _)) => DataType::Decimal128(*p, 0),
                    _ => DataType::Float64,
                })
            }
            Round => {
                arity(1, 2)?;
                if !types::is_numeric(&args[0]) && args[0] != DataType::Null {
                    return err(format!("argument must be numeric, got {}", args[0]));
                }
                Ok(match &args[0] {
                    // One more integer digit: rounding 999.5 up needs it.
                    DataType::Decimal128(p, s) => DataType::Decimal128((*p + 1).min(types::MAX_DECIMAL_PRECISION), *s),
                    t if t.is_integer() => t.clone(),
                    _ => DataType::Float64,
                })
            }
            DatePart => {
                arity(2, 2)?;
                string_arg(0)?;
                if !types::is_temporal(&args[1]) && !matches!(args[1], DataType::Interval(_) | DataType::Null) {
                    return err(format!("argument 2 must be a date or timestamp, got {}", args[1]));
                }
                Ok(DataType::Float64)
            }
            DateTrunc => {
                arity(2, 2)?;
                string_arg(0)?;
                match &args[1] {
                    DataType::Date32 => Ok(DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, None)),
                    t @ DataType::Timestamp(..) => Ok(t.clone()),
                    t => err(format!("argument 2 must be a date or timestamp, got {t}")),
                }
            }
        }
    }
}

impl fmt::Display for ScalarFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Built-in aggregate functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AggregateFunction {
    /// `count(x)` counts non-NULL values; with no argument it is `count(*)`.
    Count,
    /// `sum(x)`; integer sums are checked for overflow.
    Sum,
    /// `avg(x)`.
    Avg,
    /// `min(x)`.
    Min,
    /// `max(x)`.
    Max,
}

impl AggregateFunction {
    /// The aggregate of a SQL name, if it is built in.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "count" => AggregateFunction::Count,
            "sum" => AggregateFunction::Sum,
            "avg" | "mean" => AggregateFunction::Avg,
            "min" => AggregateFunction::Min,
            "max" => AggregateFunction::Max,
            _ => return None,
        })
    }

    /// The SQL name.
    pub fn name(&self) -> &'static str {
        match self {
            AggregateFunction::Count => "count",
            AggregateFunction::Sum => "sum",
            AggregateFunction::Avg => "avg",
            AggregateFunction::Min => "min",
            AggregateFunction::Max => "max",
        }
    }

    /// The result type for arguments of the given types.
    pub fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        let ctx = || format!("{}()", self.name());
        if *self != AggregateFunction::Count && args.len() != 1 {
            return Err(RillError::type_mismatch(
                ctx(),
                format!("expected 1 argument, got {}", args.len()),
            ));
        }
        match self {
            AggregateFunction::Count => Ok(DataType::Int64),
            AggregateFunction::Sum => types::sum_type(&args[0])
                .ok_or_else(|| RillError::type_mismatch(ctx(), format!("cannot sum values of type {}", args[0]))),
            AggregateFunction::Avg => types::avg_type(&args[0])
                .ok_or_else(|| RillError::type_mismatch(ctx(), format!("cannot average values of type {}", args[0]))),
            AggregateFunction::Min | AggregateFunction::Max => match &args[0] {
                DataType::Dictionary(_, v) => Ok(v.as_ref().clone()),
                t => Ok(t.clone()),
            },
        }
    }
}

impl fmt::Display for AggregateFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A function evaluated over a window of rows (`… OVER (…)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WindowFunction {
    /// `row_number()`: 1, 2, 3, … within the partition.
    RowNumber,
    /// `rank()`: 1 + the number of rows before the row's peer group.
    Rank,
    /// `dense_rank()`: 1 + the number of peer groups before the row's.
    DenseRank,
    /// An aggregate over the window frame.
    Aggregate(AggregateFunction),
}

impl WindowFunction {
    /// The window function of a SQL name (ranking functions and aggregates), if built in.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "row_number" => WindowFunction::RowNumber,
            "rank" => WindowFunction::Rank,
            "dense_rank" => WindowFunction::DenseRank,
            other => WindowFunction::Aggregate(AggregateFunction::from_name(other)?),
        })
    }

    /// The SQL name.
    pub fn name(&self) -> &'static str {
        match self {
            WindowFunction::RowNumber => "row_number",
            WindowFunction::Rank => "rank",
            WindowFunction::DenseRank => "dense_rank",
            WindowFunction::Aggregate(a) => a.name(),
        }
    }

    /// The result type for arguments of the given types.
    pub fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match self {
            WindowFunction::Aggregate(a) => a.return_type(args),
            _ if !args.is_empty() => Err(RillError::type_mismatch(
                format!("{}()", self.name()),
                format!("expected no arguments, got {}", args.len()),
            )),
            _ => Ok(DataType::Int64),
        }
    }
}

impl fmt::Display for WindowFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a window frame counts rows or ranges of order-key values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WindowFrameUnits {
    /// `ROWS`: offsets count rows.
    Rows,
    /// `RANGE`: `CURRENT ROW` includes the row's peers (equal order keys).
    Range,
}

/// One end of a window frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WindowFrameBound {
    /// `UNBOUNDED PRECEDING`: the partition's first row.
    UnboundedPreceding,
    /// `n PRECEDING`.
    Preceding(u64),
    /// `CURRENT ROW` (with its peers under `RANGE`).
    CurrentRow,
    /// `n FOLLOWING`.
    Following(u64),
    /// `UNBOUNDED FOLLOWING`: the partition's last row.
    UnboundedFollowing,
}

impl fmt::Display for WindowFrameBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowFrameBound::UnboundedPreceding => f.write_str("UNBOUNDED PRECEDING"),
            WindowFrameBound::Preceding(n) => write!(f, "{n} PRECEDING"),
            WindowFrameBound::CurrentRow => f.write_str("CURRENT ROW"),
            WindowFrameBound::Following(n) => write!(f, "{n} FOLLOWING"),
            WindowFrameBound::UnboundedFollowing => f.write_str("UNBOUNDED FOLLOWING"),
        }
    }
}

/// The rows of a partition an aggregate window function sees for each row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WindowFrame {
    /// Rows or ranges.
    pub units: WindowFrameUnits,
    /// The first row of the frame.
    pub start: WindowFrameBound,
    /// The last row of the frame.
    pub end: WindowFrameBound,
}

impl WindowFrame {
    /// SQL's default frame: `RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`, which is the
    /// whole partition when there is no ORDER BY (every row is a peer of every other).
    pub fn default_frame() -> Self {
        WindowFrame {
            units: WindowFrameUnits::Range,
            start: WindowFrameBound::UnboundedPreceding,
            end: WindowFrameBound::CurrentRow,
        }
    }
}

impl fmt::Display for WindowFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = match self.units {
            WindowFrameUnits::Rows => "ROWS",
            WindowFrameUnits::Range => "RANGE",
        };
        write!(f, "{units} BETWEEN {} AND {}", self.start, self.end)
    }
}

/// A sort key: an expression, a direction and where NULLs go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SortExpr {
    /// The key.
    pub expr: Expr,
    /// Ascending?
    pub asc: bool,
    /// NULLs before non-NULLs? (SQL default: NULLS LAST for ASC, NULLS FIRST for DESC.)
    pub nulls_first: bool,
}

impl SortExpr {
    /// A sort key with SQL's default NULL placement for the direction.
    pub fn new(expr: Expr, asc: bool) -> Self {
        SortExpr {
            expr,
            asc,
            nulls_first: !asc,
        }
    }
}

impl fmt::Display for SortExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.expr,
            if self.asc { "ASC" } else { "DESC" },
            if self.nulls_first { "NULLS FIRST" } else { "NULLS LAST" }
        )
    }
}

/// A logical expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expr {
    /// A column of the input.
    Column(Column),
    /// A constant.
    Literal(ScalarValue),
    /// An expression with an output name.
    Alias {
        /// The expression.
        expr: Box<Expr>,
        /// The name.
        name: String,
    },
    /// `left op right`.
    Binary {
        /// Left operand.
        left: Box<Expr>,
        /// Operator.
        op: BinaryOp,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `NOT expr` (three-valued).
    Not(Box<Expr>),
    /// `-expr`.
    Negative(Box<Expr>),
    /// `expr IS NULL`.
    IsNull(Box<Expr>),
    /// `expr IS NOT NULL`.
    IsNotNull(Box<Expr>),
    /// `expr [NOT] BETWEEN low AND high`.
    Between {
        /// The tested value.
        expr: Box<Expr>,
        /// `NOT BETWEEN`?
        negated: bool,
        /// Lower bound (inclusive).
        low: Box<Expr>,
        /// Upper bound (inclusive).
        high: Box<Expr>,
    },
    /// `expr [NOT] IN (list)`, with SQL's NULL semantics.
    InList {
        /// The tested value.
        expr: Box<Expr>,
        /// The candidates.
        list: Vec<Expr>,
        /// `NOT IN`?
        negated: bool,
    },
    /// `expr [NOT] LIKE|ILIKE pattern [ESCAPE c]`.
    Like {
        /// The tested string.
        expr: Box<Expr>,
        /// The pattern (`%` and `_` wildcards).
        pattern: Box<Expr>,
        /// `NOT LIKE`?
        negated: bool,
        /// `ILIKE`?
        case_insensitive: bool,
        /// The escape character, if any.
        escape: Option<char>,
    },
    /// `CASE [operand] WHEN … THEN … [ELSE …] END`.
    Case {
        /// The operand of a simple CASE.
        operand: Option<Box<Expr>>,
        /// `(WHEN, THEN)` pairs.
        when_then: Vec<(Expr, Expr)>,
        /// The ELSE branch (NULL if absent).
        else_expr: Option<Box<Expr>>,
    },
    /// `CAST(expr AS type)`; fails on values that do not convert.
    Cast {
        /// The value.
        expr: Box<Expr>,
        /// The target type.
        data_type: DataType,
    },
    /// `TRY_CAST(expr AS type)`; NULL for values that do not convert.
    TryCast {
        /// The value.
        expr: Box<Expr>,
        /// The target type.
        data_type: DataType,
    },
    /// A built-in scalar function call.
    ScalarFunction {
        /// The function.
        func: ScalarFunction,
        /// The arguments.
        args: Vec<Expr>,
    },
    /// An aggregate call; only valid in an `Aggregate` node's aggregate list.
    AggregateFunction {
        /// The function.
        func: AggregateFunction,
        /// The arguments (empty for `count(*)`).
        args: Vec<Expr>,
        /// `DISTINCT`?
        distinct: bool,
        /// `FILTER (WHERE …)`.
        filter: Option<Box<Expr>>,
    },
    /// A window function call (`f(args) OVER (PARTITION BY … ORDER BY … frame)`); only valid
    /// in a `Window` node's expression list.
    WindowFunction {
        /// The function.
        func: WindowFunction,
        /// The arguments (empty for ranking functions and `count(*)`).
        args: Vec<Expr>,
        /// The partition keys.
        partition_by: Vec<Expr>,
        /// The order within each partition.
        order_by: Vec<SortExpr>,
        /// The frame of aggregate functions (ranking functions ignore it).
        frame: WindowFrame,
    },
    /// `*` or `t.*` in a select list before expansion.
    Wildcard {
        /// The qualifier of `t.*`.
        qualifier: Option<String>,
    },
    /// A scalar subquery `(SELECT …)`: its first column's only value, NULL when it yields no
    /// row. The `decorrelate_subqueries` optimizer rule plans it as a join.
    ScalarSubquery(Subquery),
    /// `[NOT] EXISTS (SELECT …)`.
    Exists {
        /// The subquery.
        subquery: Subquery,
        /// `NOT EXISTS`?
        negated: bool,
    },
    /// `expr [NOT] IN (SELECT …)`, with SQL's NULL semantics.
    InSubquery {
        /// The tested value.
        expr: Box<Expr>,
        /// The subquery (its first column holds the candidates).
        subquery: Subquery,
        /// `NOT IN`?
        negated: bool,
    },
    /// A column of an enclosing query, referenced from inside a subquery (a correlation).
    OuterColumn {
        /// The column, as the outer query's schema names it.
        column: Column,
        /// Its type.
        data_type: DataType,
    },
}

/// A subquery inside an expression: its plan and the outer columns it references.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subquery {
    /// The subquery's plan; outer references appear in it as [`Expr::OuterColumn`].
    pub plan: Arc<LogicalPlan>,
    /// The outer columns the plan references (empty: uncorrelated).
    pub outer_refs: Vec<Column>,
}

impl Subquery {
    /// A subquery over `plan`, recording the outer columns its expressions reference.
    pub fn new(plan: Arc<LogicalPlan>) -> Self {
        let mut refs = BTreeSet::new();
        collect_outer_refs(&plan, &mut refs);
        Subquery {
            plan,
            outer_refs: refs.into_iter().collect(),
        }
    }

    /// Whether the subquery references outer columns.
    pub fn is_correlated(&self) -> bool {
        !self.outer_refs.is_empty()
    }
}

fn collect_outer_refs(plan: &LogicalPlan, out: &mut BTreeSet<Column>) {
    for e in plan.expressions() {
        e.apply(&mut |x| {
            match x {
                Expr::OuterColumn { column, .. } => {
                    out.insert(column.clone());
                }
                Expr::ScalarSubquery(s) | Expr::Exists { subquery: s, .. } | Expr::InSubquery { subquery: s, .. } => {
                    collect_outer_refs(&s.plan, out)
                }
                _ => {}
            }
            Recursion::Continue
        });
    }
    for i in plan.inputs() {
        collect_outer_refs(i, out);
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column(c) => write!(f, "{c}"),
            Expr::Literal(v) => write!(f, "{v}"),
            Expr::Alias { expr, name } => write!(f, "{expr} AS {name}"),
            Expr::Binary { left, op, right } => {
                fmt_operand(f, left, *op)?;
                write!(f, " {op} ")?;
                fmt_operand(f, right, *op)
            }
            Expr::Not(e) => write!(f, "NOT {e}"),
            Expr::Negative(e) => write!(f, "(- {e})"),
            Expr::IsNull(e) => write!(f, "{e} IS NULL"),
            Expr::IsNotNull(e) => write!(f, "{e} IS NOT NULL"),
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                write!(
                    f,
                    "{expr} {}BETWEEN {low} AND {high}",
                    if *negated { "NOT " } else { "" }
                )
            }
            Expr::InList { expr, list, negated } => {
                write!(f, "{expr} {}IN (", if *negated { "NOT " } else { "" })?;
                fmt_list(f, list)?;
                f.write_str(")")
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
                escape,
            } => {
                write!(
                    f,
                    "{expr} {}{} {pattern}",
                    if *negated { "NOT " } else { "" },
                    if *case_insensitive { "ILIKE" } else { "LIKE" }
                )?;
                if let Some(c) = escape {
                    write!(f, " ESCAPE '{c}'")?;
                }
                Ok(())
            }
            Expr::Case {
                operand,
                when_then,
                else_expr,
            } => {
                f.write_str("CASE")?;
                if let Some(o) = operand {
                    write!(f, " {o}")?;
                }
                for (w, t) in when_then {
                    write!(f, " WHEN {w} THEN {t}")?;
                }
                if let Some(e) = else_expr {
                    write!(f, " ELSE {e}")?;
                }
                f.write_str(" END")
            }
            Expr::Cast { expr, data_type } => write!(f, "CAST({expr} AS {data_type})"),
            Expr::TryCast { expr, data_type } => write!(f, "TRY_CAST({expr} AS {data_type})"),
            Expr::ScalarFunction { func, args } => {
                write!(f, "{func}(")?;
                fmt_list(f, args)?;
                f.write_str(")")
            }
            Expr::AggregateFunction {
                func,
                args,
                distinct,
                filter,
            } => {
                write!(f, "{func}(")?;
                if *distinct {
                    f.write_str("DISTINCT ")?;
                }
                if args.is_empty() {
                    f.write_str("*")?;
                }
                fmt_list(f, args)?;
                f.write_str(")")?;
                if let Some(p) = filter {
                    write!(f, " FILTER (WHERE {p})")?;
                }
                Ok(())
            }
            Expr::WindowFunction {
                func,
                args,
                partition_by,
                order_by,
                frame,
            } => {
                write!(f, "{func}(")?;
                if args.is_empty() && matches!(func, WindowFunction::Aggregate(_)) {
                    f.write_str("*")?;
                }
                fmt_list(f, args)?;
                f.write_str(") OVER (")?;
                if !partition_by.is_empty() {
                    f.write_str("PARTITION BY ")?;
                    fmt_list(f, partition_by)?;
                    f.write_str(" ")?;
                }
                if !order_by.is_empty() {
                    f.write_str("ORDER BY ")?;
                    for (i, o) in order_by.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{o}")?;
                    }
                    f.write_str(" ")?;
                }
                write!(f, "{frame})")
            }
            Expr::Wildcard { qualifier: Some(q) } => write!(f, "{q}.*"),
            Expr::Wildcard { qualifier: None } => f.write_str("*"),
            Expr::ScalarSubquery(_) => f.write_str("(<subquery>)"),
            Expr::Exists { negated, .. } => write!(f, "{}EXISTS (<subquery>)", if *negated { "NOT " } else { "" }),
            Expr::InSubquery { expr, negated, .. } => {
                write!(f, "{expr} {}IN (<subquery>)", if *negated { "NOT " } else { "" })
            }
            Expr::OuterColumn { column, .. } => write!(f, "outer({column})"),
        }
    }
}

fn fmt_operand(f: &mut fmt::Formatter<'_>, e: &Expr, parent: BinaryOp) -> fmt::Result {
    match e {
        Expr::Binary { op, .. } if precedence(*op) < precedence(parent) => write!(f, "({e})"),
        _ => write!(f, "{e}"),
    }
}

fn precedence(op: BinaryOp) -> u8 {
    use BinaryOp::*;
    match op {
        Or => 5,
        And => 10,
        Eq | NotEq | Lt | LtEq | Gt | GtEq | IsDistinctFrom | IsNotDistinctFrom => 20,
        Plus | Minus | StringConcat => 30,
        Multiply | Divide | Modulo => 40,
    }
}

fn fmt_list(f: &mut fmt::Formatter<'_>, list: &[Expr]) -> fmt::Result {
    for (i, e) in list.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{e}")?;
    }
    Ok(())
}

/// Whether a visit goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recursion {
    /// Visit the children.
    Continue,
    /// Do not visit this node's children.
    Skip,
    /// Stop the whole visit.
    Stop,
}

impl Expr {
    /// The name of the column this expression produces.
    pub fn output_name(&self) -> String {
        match self {
            Expr::Column(c) => c.name.clone(),
            Expr::Alias { name, .. } => name.clone(),
            other => other.to_string(),
        }
    }

    /// The relation qualifier of the output column (columns keep theirs, others have none).
    pub fn output_qualifier(&self) -> Option<String> {
        match self {
            Expr::Column(c) => c.relation.clone(),
            _ => None,
        }
    }

    /// The expression's type over `schema`, following [`crate::types`]'s rules.
    pub fn get_type(&self, schema: &PlanSchema) -> Result<DataType> {
        Ok(match self {
            Expr::Column(c) => schema.field_for(c)?.data_type().clone(),
            Expr::Literal(v) => v.data_type(),
            Expr::Alias { expr, .. } => expr.get_type(schema)?,
            Expr::Binary { left, op, right } => {
                let l = left.get_type(schema)?;
                let r = right.get_type(schema)?;
                types::binary_signature(*op, &l, &r)
                    .ok_or_else(|| {
                        RillError::type_mismatch(self, format!("operator {op} does not apply to {l} and {r}"))
                    })?
                    .result
            }
            Expr::Not(e) => {
                let t = e.get_type(schema)?;
                if !matches!(t, DataType::Boolean | DataType::Null) {
                    return Err(RillError::type_mismatch(self, format!("NOT needs a boolean, got {t}")));
                }
                DataType::Boolean
            }
            Expr::Negative(e) => {
                let t = e.get_type(schema)?;
                if !types::is_numeric(&t) && !matches!(t, DataType::Interval(_) | DataType::Null) {
                    return Err(RillError::type_mismatch(self, format!("cannot negate {t}")));
                }
                t
            }
            Expr::IsNull(_) | Expr::IsNotNull(_) => DataType::Boolean,
            Expr::Between { expr, low, high, .. } => {
                let t = expr.get_type(schema)?;
                for b in [low, high] {
                    let bt = b.get_type(schema)?;
                    if types::comparison_coercion(&t, &bt).is_none() {
                        return Err(RillError::cannot_coerce(self, &t, &bt));
                    }
                }
                DataType::Boolean
            }
            Expr::InList { expr, list, .. } => {
                let t = expr.get_type(schema)?;
                for e in list {
                    let et = e.get_type(schema)?;
                    if types::comparison_coercion(&t, &et).is_none() {
                        return Err(RillError::cannot_coerce(self, &t, &et));
                    }
                }
                DataType::Boolean
            }
            Expr::Like { expr, pattern, .. } => {
                for e in [expr, pattern] {
                    let t = e.get_type(schema)?;
                    if !types::is_string(&t) && t != DataType::Null {
                        return Err(RillError::type_mismatch(self, format!("LIKE needs strings, got {t}")));
                    }
                }
                DataType::Boolean
            }
            Expr::Case {
                operand,
                when_then,
                else_expr,
            } => {
                if let Some(o) = operand {
                    let ot = o.get_type(schema)?;
                    for (w, _) in when_then {
                        let wt = w.get_type(schema)?;
                        if types::comparison_coercion(&ot, &wt).is_none() {
                            return Err(RillError::cannot_coerce(self, &ot, &wt));
                        }
                    }
                } else {
                    for (w, _) in when_then {
                        let wt = w.get_type(schema)?;
                        if !matches!(wt, DataType::Boolean | DataType::Null) {
                            return Err(RillError::type_mismatch(
                                self,
                                format!("WHEN condition must be boolean, got {wt}"),
                            ));
                        }
                    }
                }
                let mut t = DataType::Null;
                for e in when_then.iter().map(|(_, t)| t).chain(else_expr.as_deref()) {
                    let et = e.get_type(schema)?;
                    t = types::comparison_coercion(&t, &et).ok_or_else(|| RillError::cannot_coerce(self, &t, &et))?;
                }
                t
            }
            Expr::Cast { data_type, .. } | Expr::TryCast { data_type, .. } => data_type.clone(),
            Expr::ScalarFunction { func, args } => {
                let types = args.iter().map(|a| a.get_type(schema)).collect::<Result<Vec<_>>>()?;
                let t = func.return_type(&types)?;
                // round(decimal, d) with a constant d keeps d fractional digits, as in
                // PostgreSQL and DuckDB: round(2.345, 2) = 2.35.
                match (
                    func,
                    &t,
                    args.get(1).and_then(|d| match d {
                        Expr::Literal(v) => v.as_i64(),
                        _ => None,
                    }),
                ) {
                    (ScalarFunction::Round, DataType::Decimal128(p, s), Some(d)) if d >= 0 && d < i64::from(*s) => {
                        let d = d as i8;
                        DataType::Decimal128((*p - (*s - d) as u8).max(1), d)
                    }
                    _ => t,
                }
            }
            Expr::AggregateFunction { func, args, .. } => {
                let types = args.iter().map(|a| a.get_type(schema)).collect::<Result<Vec<_>>>()?;
                func.return_type(&types)?
            }
            Expr::WindowFunction { func, args, .. } => {
                let types = args.iter().map(|a| a.get_type(schema)).collect::<Result<Vec<_>>>()?;
                func.return_type(&types)?
            }
            Expr::Wildcard { .. } => return Err(crate::internal_err!("wildcard '{self}' was not expanded")),
            Expr::Exists { .. } => DataType::Boolean,
            Expr::InSubquery { expr, subquery, .. } => {
                let t = expr.get_type(schema)?;
                let fields = subquery.plan.schema().fields();
                let [field] = &fields[..] else {
                    return Err(RillError::invalid_plan(format!(
                        "IN subquery must return one column, got {}",
                        fields.len()
                    )));
                };
                let st = field.data_type();
                if types::comparison_coercion(&t, st).is_none() {
                    return Err(RillError::cannot_coerce(self, &t, st));
                }
                DataType::Boolean
            }
            Expr::OuterColumn { data_type, .. } => data_type.clone(),
            Expr::ScalarSubquery(Subquery { plan, .. }) => match plan.schema().fields().first() {
                Some(f) => f.data_type().clone(),
                None => return Err(RillError::invalid_plan("scalar subquery returns no column")),
            },
        })
    }

    /// Whether the expression may be NULL over `schema`.
    pub fn nullable(&self, schema: &PlanSchema) -> Result<bool> {
        Ok(match self {
            Expr::Column(c) => schema.field_for(c)?.is_nullable(),
            Expr::Literal(v) => v.is_null(),
            Expr::Alias { expr, .. } | Expr::Negative(expr) | Expr::Not(expr) => expr.nullable(schema)?,
            Expr::IsNull(_) | Expr::IsNotNull(_) => false,
            Expr::Binary {
                op: BinaryOp::IsDistinctFrom | BinaryOp::IsNotDistinctFrom,
                ..
            } => false,
            Expr::Binary { left, right, op } => {
                // Division may produce NULL only by erroring, so it follows its operands.
                let _ = op;
                left.nullable(schema)? || right.nullable(schema)?
            }
            Expr::AggregateFunction {
                func: AggregateFunction::Count,
                ..
            } => false,
            Expr::WindowFunction {
                func:
                    WindowFunction::RowNumber
                    | WindowFunction::Rank
                    | WindowFunction::DenseRank
                    | WindowFunction::Aggregate(AggregateFunction::Count),
                ..
            } => false,
            Expr::Cast { expr, .. } => expr.nullable(schema)?,
            Expr::ScalarFunction {
                func: ScalarFunction::Coalesce,
                args,
            } => {
                let mut all = true;
                for a in args {
                    all &= a.nullable(schema)?;
                }
                all
            }
            _ => true,
        })
    }

    /// The output field of this expression over `schema`.
    pub fn to_field(&self, schema: &PlanSchema) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            self.output_name(),
            self.get_type(schema)?,
            self.nullable(schema)?,
        )))
    }

    /// The direct children.
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Column(_)
            | Expr::Literal(_)
            | Expr::Wildcard { .. }
            | Expr::ScalarSubquery(_)
            | Expr::Exists { .. }
            | Expr::OuterColumn { .. } => vec![],
            Expr::InSubquery { expr, .. } => vec![expr],
            Expr::Alias { expr, .. }
            | Expr::Not(expr)
            | Expr::Negative(expr)
            | Expr::IsNull(expr)
            | Expr::IsNotNull(expr)
            | Expr::Cast { expr, .. }
            | Expr::TryCast { expr, .. } => vec![expr],
            Expr::Binary { left, right, .. } => vec![left, right],
            Expr::Between { expr, low, high, .. } => vec![expr, low, high],
            Expr::InList { expr, list, .. } => std::iter::once(expr.as_ref()).chain(list).collect(),
            Expr::Like { expr, pattern, .. } => vec![expr, pattern],
            Expr::Case {
                operand,
                when_then,
                else_expr,
            } => operand
                .as_deref()
                .into_iter()
                .chain(when_then.iter().flat_map(|(w, t)| [w, t]))
                .chain(else_expr.as_deref())
                .collect(),
            Expr::ScalarFunction { args, .. } => args.iter().collect(),
            Expr::AggregateFunction { args, filter, .. } => args.iter().chain(filter.as_deref()).collect(),
            Expr::WindowFunction {
                args,
                partition_by,
                order_by,
                ..
            } => args
                .iter()
                .chain(partition_by)
                .chain(order_by.iter().map(|o| &o.expr))
                .collect(),
        }
    }

    /// Rebuilds the expression with `f` applied to each direct child.
    pub fn map_children(self, mut f: impl FnMut(Expr) -> Result<Expr>) -> Result<Expr> {
        let mut b = |e: Box<Expr>| -> Result<Box<Expr>> { Ok(Box::new(f(*e)?)) };
        Ok(match self {
            e @ (Expr::Column(_)
            | Expr::Literal(_)
            | Expr::Wildcard { .. }
            | Expr::ScalarSubquery(_)
            | Expr::Exists { .. }
            | Expr::OuterColumn { .. }) => e,
            Expr::InSubquery {
                expr,
                subquery,
                negated,
            } => Expr::InSubquery {
                expr: b(expr)?,
                subquery,
                negated,
            },
            Expr::Alias { expr, name } => Expr::Alias { expr: b(expr)?, name },
            Expr::Not(e) => Expr::Not(b(e)?),
            Expr::Negative(e) => Expr::Negative(b(e)?),
            Expr::IsNull(e) => Expr::IsNull(b(e)?),
            Expr::IsNotNull(e) => Expr::IsNotNull(b(e)?),
            Expr::Cast { expr, data_type } => Expr::Cast {
                expr: b(expr)?,
                data_type,
            },
            Expr::TryCast { expr, data_type } => Expr::TryCast {
                expr: b(expr)?,
                data_type,
            },
            Expr::Binary { left, op, right } => Expr::Binary {
                left: b(left)?,
                op,
                right: b(right)?,
            },
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => Expr::Between {
                expr: b(expr)?,
                negated,
                low: b(low)?,
                high: b(high)?,
            },
            Expr::InList { expr, list, negated } => {
                let expr = b(expr)?;
                let list = list.into_iter().map(&mut f).collect::<Result<_>>()?;
                Expr::InList { expr, list, negated }
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
                escape,
            } => Expr::Like {
                expr: b(expr)?,
                pattern: b(pattern)?,
                negated,
                case_insensitive,
                escape,
            },
            Expr::Case {
                operand,
                when_then,
                else_expr,
            } => {
                let operand = operand.map(&mut b).transpose()?;
                let when_then = when_then
                    .into_iter()
                    .map(|(w, t)| Ok((f(w)?, f(t)?)))
                    .collect::<Result<Vec<_>>>()?;
                let else_expr = else_expr.map(|e| Ok::<_, RillError>(Box::new(f(*e)?))).transpose()?;
                Expr::Case {
                    operand,
                    when_then,
                    else_expr,
                }
            }
            Expr::ScalarFunction { func, args } => Expr::ScalarFunction {
                func,
                args: args.into_iter().map(&mut f).collect::<Result<_>>()?,
            },
            Expr::AggregateFunction {
                func,
                args,
                distinct,
                filter,
            } => {
                let args = args.into_iter().map(&mut f).collect::<Result<_>>()?;
                let filter = filter.map(|e| Ok::<_, RillError>(Box::new(f(*e)?))).transpose()?;
                Expr::AggregateFunction {
                    func,
                    args,
                    distinct,
                    filter,
                }
            }
            Expr::WindowFunction {
                func,
                args,
                partition_by,
                order_by,
                frame,
            } => {
                let args = args.into_iter().map(&mut f).collect::<Result<_>>()?;
                let partition_by = partition_by.into_iter().map(&mut f).collect::<Result<_>>()?;
                let order_by = order_by
                    .into_iter()
                    .map(|o| Ok(SortExpr { expr: f(o.expr)?, ..o }))
                    .collect::<Result<_>>()?;
                Expr::WindowFunction {
                    func,
                    args,
                    partition_by,
                    order_by,
                    frame,
                }
            }
        })
    }

    /// Rewrites the tree bottom-up: children first, then `f` on the rebuilt node.
    pub fn transform_up(self, f: &mut impl FnMut(Expr) -> Result<Expr>) -> Result<Expr> {
        let e = self.map_children(|c| c.transform_up(f))?;
        f(e)
    }

    /// Rewrites the tree top-down: `f` on the node, then on the children of its result.
    pub fn transform_down(self, f: &mut impl FnMut(Expr) -> Result<Expr>) -> Result<Expr> {
        let e = f(self)?;
        e.map_children(|c| c.transform_down(f))
    }

    /// Visits the tree pre-order; `f` decides whether to descend.
    pub fn apply(&self, f: &mut impl FnMut(&Expr) -> Recursion) -> Recursion {
        match f(self) {
            Recursion::Continue => {
                for c in self.children() {
                    if c.apply(f) == Recursion::Stop {
                        return Recursion::Stop;
                    }
                }
                Recursion::Continue
            }
            r => r,
        }
    }

    /// Whether any node satisfies `pred`.
    pub fn exists(&self, mut pred: impl FnMut(&Expr) -> bool) -> bool {
        let mut found = false;
        self.apply(&mut |e| {
            if pred(e) {
                found = true;
                Recursion::Stop
            } else {
                Recursion::Continue
            }
        });
        found
    }

    /// The columns this expression reads.
    pub fn column_refs(&self) -> BTreeSet<Column> {
        let mut set = BTreeSet::new();
        self.apply(&mut |e| {
            if let Expr::Column(c) = e {
                set.insert(c.clone());
            }
            Recursion::Continue
        });
        set
    }

    /// Whether the expression contains a subquery (scalar, `EXISTS` or `IN`).
    pub fn contains_subquery(&self) -> bool {
        self.exists(|e| {
            matches!(
                e,
                Expr::ScalarSubquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. }
            )
        })
    }

    /// Whether the expression contains an aggregate call.
    pub fn contains_aggregate(&self) -> bool {
        self.exists(|e| matches!(e, Expr::AggregateFunction { .. }))
    }

    /// Whether the expression contains a window function call.
    pub fn contains_window(&self) -> bool {
        self.exists(|e| matches!(e, Expr::WindowFunction { .. }))
    }

    /// Whether the expression has no column reference (and so folds to a constant).
    pub fn is_constant(&self) -> bool {
        !self.exists(|e| {
            matches!(
                e,
                Expr::Column(_)
                    | Expr::AggregateFunction { .. }
                    | Expr::WindowFunction { .. }
                    | Expr::Wildcard { .. }
                    | Expr::ScalarSubquery(_)
                    | Expr::Exists { .. }
                    | Expr::InSubquery { .. }
                    | Expr::OuterColumn { .. }
            )
        })
    }

    /// The expression without its outer alias, if any.
    pub fn unalias(self) -> Expr {
        match self {
            Expr::Alias { expr, .. } => *expr,
            e => e,
        }
    }

    /// `self AS name`.
    pub fn alias(self, name: impl Into<String>) -> Expr {
        Expr::Alias {
            expr: Box::new(self.unalias()),
            name: name.into(),
        }
    }

    fn binary(self, op: BinaryOp, other: Expr) -> Expr {
        Expr::Binary {
            left: Box::new(self),
            op,
            right: Box::new(other),
        }
    }

    /// `self = other`.
    pub fn eq(self, other: Expr) -> Expr {
        self.binary(BinaryOp::Eq, other)
    }
    /// `self <> other`.
    pub fn not_eq(self, other: Expr) -> Expr {
        self.binary(BinaryOp::NotEq, other)
    }
    /// `self < other`.
    pub fn lt(self, other: Expr) -> Expr {
        self.binary(BinaryOp::Lt, other)
    }
    /// `self <= other`.
    pub fn lt_eq(self, other: Expr) -> Expr {
        self.binary(BinaryOp::LtEq, other)
    }
    /// `self > other`.
    pub fn gt(self, other: Expr) -> Expr {
        self.binary(BinaryOp::Gt, other)
    }
    /// `self >= other`.
    pub fn gt_eq(self, other: Expr) -> Expr {
        self.binary(BinaryOp::GtEq, other)
    }
    /// `self AND other`.
    pub fn and(self, other: Expr) -> Expr {
        self.binary(BinaryOp::And, other)
    }
    /// `self OR other`.
    pub fn or(self, other: Expr) -> Expr {
        self.binary(BinaryOp::Or, other)
    }
    /// `self + other`.
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, other: Expr) -> Expr {
        self.binary(BinaryOp::Plus, other)
    }
    /// `self - other`.
    #[allow(clippy::should_implement_trait)]
    pub fn sub(self, other: Expr) -> Expr {
        self.binary(BinaryOp::Minus, other)
    }
    /// `self * other`.
    #[allow(clippy::should_implement_trait)]
    pub fn mul(self, other: Expr) -> Expr {
        self.binary(BinaryOp::Multiply, other)
    }
    /// `self / other`.
    #[allow(clippy::should_implement_trait)]
    pub fn div(self, other: Expr) -> Expr {
        self.binary(BinaryOp::Divide, other)
    }
    /// `self % other`.
    pub fn modulo(self, other: Expr) -> Expr {
        self.binary(BinaryOp::Modulo, other)
    }
    /// `NOT self`.
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }
    /// `self IS NULL`.
    pub fn is_null(self) -> Expr {
        Expr::IsNull(Box::new(self))
    }
    /// `self IS NOT NULL`.
    pub fn is_not_null(self) -> Expr {
        Expr::IsNotNull(Box::new(self))
    }
    /// `self BETWEEN low AND high`.
    pub fn between(self, low: Expr, high: Expr) -> Expr {
        Expr::Between {
            expr: Box::new(self),
            negated: false,
            low: Box::new(low),
            high: Box::new(high),
        }
    }
    /// `self IN (list)` or `self NOT IN (list)`.
    pub fn in_list(self, list: Vec<Expr>, negated: bool) -> Expr {
        Expr::InList {
            expr: Box::new(self),
            list,
            negated,
        }
    }
    /// `self LIKE pattern`.
    pub fn like(self, pattern: Expr) -> Expr {
        Expr::Like {
            expr: Box::new(self),
            pattern: Box::new(pattern),
            negated: false,
            case_insensitive: false,
            escape: None,
        }
    }
    /// `self ILIKE pattern`.
    pub fn ilike(self, pattern: Expr) -> Expr {
        Expr::Like {
            expr: Box::new(self),
            pattern: Box::new(pattern),
            negated: false,
            case_insensitive: true,
            escape: None,
        }
    }
    /// `CAST(self AS data_type)`.
    pub fn cast_to(self, data_type: DataType) -> Expr {
        Expr::Cast {
            expr: Box::new(self),
            data_type,
        }
    }
    /// An ascending sort key.
    pub fn sort_asc(self) -> SortExpr {
        SortExpr::new(self, true)
    }
    /// A descending sort key.
    pub fn sort_desc(self) -> SortExpr {
        SortExpr::new(self, false)
    }
}

/// A column by (possibly qualified) name: `col("a")`, `col("t.a")`.
///
/// # Examples
/// ```
/// use rill_core::expr::{col, lit};
/// let e = col("t.price").mul(lit(2i64)).alias("double");
/// assert_eq!(e.to_string(), "t.price * 2 AS double");
/// ```
pub fn col(name: &str) -> Expr {
    Expr::Column(Column::from_qualified_name(name))
}

/// A literal.
pub fn lit(value: impl Into<ScalarValue>) -> Expr {
    Expr::Literal(value.into())
}

/// A scalar function call.
pub fn call(func: ScalarFunction, args: Vec<Expr>) -> Expr {
    Expr::ScalarFunction { func, args }
}

fn agg(func: AggregateFunction, arg: Expr) -> Expr {
    Expr::AggregateFunction {
        func,
        args: vec![arg],
        distinct: false,
        filter: None,
    }
}

/// `count(expr)`.
pub fn count(expr: Expr) -> Expr {
    agg(AggregateFunction::Count, expr)
}
/// `count(*)`.
pub fn count_star() -> Expr {
    Expr::AggregateFunction {
        func: AggregateFunction::Count,
        args: vec![],
        distinct: false,
        filter: None,
    }
}
/// `count(DISTINCT expr)`.
pub fn count_distinct(expr: Expr) -> Expr {
    Expr::AggregateFunction {
        func: AggregateFunction::Count,
        args: vec![expr],
        distinct: true,
        filter: None,
    }
}
/// `sum(expr)`.
pub fn sum(expr: Expr) -> Expr {
    agg(AggregateFunction::Sum, expr)
}
/// `avg(expr)`.
pub fn avg(expr: Expr) -> Expr {
    agg(AggregateFunction::Avg, expr)
}
/// `min(expr)`.
pub fn min(expr: Expr) -> Expr {
    agg(AggregateFunction::Min, expr)
}
/// `max(expr)`.
pub fn max(expr: Expr) -> Expr {
    agg(AggregateFunction::Max, expr)
}

/// Splits a conjunction into its terms: `a AND (b AND c)` → `[a, b, c]`.
pub fn split_conjunction(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::Binary {
            left,
            op: BinaryOp::And,
            right,
        } => {
            let mut v = split_conjunction(left);
            v.extend(split_conjunction(right));
            v
        }
        Expr::Alias { expr, .. } => split_conjunction(expr),
        other => vec![other],
    }
}

/// Splits a disjunction into its alternatives: `a OR (b OR c)` → `[a, b, c]`.
pub fn split_disjunction(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::Binary {
            left,
            op: BinaryOp::Or,
            right,
        } => {
            let mut v = split_disjunction(left);
            v.extend(split_disjunction(right));
            v
        }
        other => vec![other],
    }
}

/// Joins terms with AND; `None` for no terms.
pub fn conjunction(terms: impl IntoIterator<Item = Expr>) -> Option<Expr> {
    terms.into_iter().reduce(Expr::and)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_respects_precedence() {
        let e = col("a").add(col("b")).mul(lit(2i64));
        assert_eq!(e.to_string(), "(a + b) * 2");
        let e = col("a").or(col("b")).and(col("c"));
        assert_eq!(e.to_string(), "(a OR b) AND c");
        assert_eq!(count_star().to_string(), "count(*)");
    }

    #[test]
    fn conjunction_round_trip() {
        let e = conjunction(vec![col("a"), col("b"), col("c")]).unwrap_or_else(|| unreachable!());
        assert_eq!(split_conjunction(&e).len(), 3);
    }
}
