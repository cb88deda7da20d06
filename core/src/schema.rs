//! [`PlanSchema`]: the output schema of a logical plan node, an Arrow schema whose fields also
//! carry the relation (table or alias) that qualifies them, for name resolution.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{Field, FieldRef, Schema, SchemaRef};

use crate::error::{Result, RillError};
use crate::expr::Column;

/// A shared [`PlanSchema`].
pub type PlanSchemaRef = Arc<PlanSchema>;

/// An Arrow schema plus one optional qualifier per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSchema {
    arrow: SchemaRef,
    qualifiers: Vec<Option<String>>,
}

impl std::hash::Hash for PlanSchema {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.qualifiers.hash(state);
        for f in self.arrow.fields() {
            f.name().hash(state);
            f.data_type().hash(state);
            f.is_nullable().hash(state);
        }
    }
}

impl PlanSchema {
    /// A schema with no fields.
    pub fn empty() -> Self {
        PlanSchema {
            arrow: Arc::new(Schema::empty()),
            qualifiers: vec![],
        }
    }

    /// All fields qualified by `qualifier` (or none).
    pub fn from_arrow(qualifier: Option<&str>, schema: SchemaRef) -> Self {
        let qualifiers = vec![qualifier.map(str::to_string); schema.fields().len()];
        PlanSchema {
            arrow: schema,
            qualifiers,
        }
    }

    /// A schema from `(qualifier, field)` pairs.
    pub fn new(fields: Vec<(Option<String>, FieldRef)>) -> Self {
        let (qualifiers, fields): (Vec<_>, Vec<_>) = fields.into_iter().unzip();
        PlanSchema {
            arrow: Arc::new(Schema::new(fields)),
            qualifiers,
        }
    }

    /// The Arrow schema.
    pub fn arrow_schema(&self) -> &SchemaRef {
        &self.arrow
    }

    /// The fields.
    pub fn fields(&self) -> &arrow::datatypes::Fields {
        self.arrow.fields()
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.qualifiers.len()
    }

    /// Whether the schema has no fields.
    pub fn is_empty(&self) -> bool {
        self.qualifiers.is_empty()
    }

    /// The qualifier of field `i`.
    pub fn qualifier(&self, i: usize) -> Option<&str> {
        self.qualifiers.get(i).and_then(|q| q.as_deref())
    }

    /// Field `i`.
    pub fn field(&self, i: usize) -> &Field {
        self.arrow.field(i)
    }

    /// `(qualifier, field)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (Option<&str>, &FieldRef)> {
        self.qualifiers
            .iter()
            .map(|q| q.as_deref())
            .zip(self.arrow.fields().iter())
    }

    /// The column that refers to field `i`, qualified if the field is.
    pub fn column(&self, i: usize) -> Column {
        Column {
            relation: self.qualifiers[i].clone(),
            name: self.arrow.field(i).name().clone(),
        }
    }

    /// All columns, in order.
    pub fn columns(&self) -> Vec<Column> {
        (0..self.len()).map(|i| self.column(i)).collect()
    }

    /// The same fields, all qualified by `qualifier`.
    pub fn requalify(&self, qualifier: &str) -> Self {
        PlanSchema {
            arrow: Arc::clone(&self.arrow),
            qualifiers: vec![Some(qualifier.to_string()); self.len()],
        }
    }

    /// This schema's fields followed by `other`'s (a join's output).
    pub fn join(&self, other: &PlanSchema) -> Self {
        let fields = self
            .iter()
            .chain(other.iter())
            .map(|(q, f)| (q.map(str::to_string), Arc::clone(f)));
        PlanSchema::new(fields.collect())
    }

    /// The same schema with every field marked nullable (an outer join's padded side).
    pub fn with_nullable(&self) -> Self {
        let fields = self
            .iter()
            .map(|(q, f)| (q.map(str::to_string), Arc::new(f.as_ref().clone().with_nullable(true))))
            .collect();
        PlanSchema::new(fields)
    }

    /// The index of the field a column refers to.
    ///
    /// A qualified column matches a field with the same qualifier and name; an unqualified one
    /// matches any field of that name, and is ambiguous if there are several. Names compare
    /// exactly first, then case-insensitively.
    pub fn index_of(&self, column: &Column) -> Result<usize> {
        self.try_index_of(column)?.ok_or_else(|| RillError::ColumnNotFound {
            name: column.flat_name(),
            candidates: self.iter().map(|(q, f)| qualified_name(q, f.name())).collect(),
        })
    }

    /// Like [`PlanSchema::index_of`] but `Ok(None)` when nothing matches.
    pub fn try_index_of(&self, column: &Column) -> Result<Option<usize>> {
        for exact in [true, false] {
            let same = |a: &str, b: &str| if exact { a == b } else { a.eq_ignore_ascii_case(b) };
            let matches: Vec<usize> = self
                .iter()
                .enumerate()
                .filter(|(_, (q, f))| {
                    same(f.name(), &column.name)
                        && match (&column.relation, q) {
                            (None, _) => true,
                            (Some(r), Some(q)) => same(r, q),
                            (Some(_), None) => false,
                        }
                })
                .map(|(i, _)| i)
                .collect();
            match matches.len() {
                0 => continue,
                1 => return Ok(Some(matches[0])),
                _ => {
                    return Err(RillError::AmbiguousColumn {
                        name: column.flat_name(),
                        matches: matches
                            .iter()
                            .map(|i| qualified_name(self.qualifier(*i), self.field(*i).name()))
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
                }
            }
        }
        Ok(None)
    }

    /// The field a column refers to.
    pub fn field_for(&self, column: &Column) -> Result<&Field> {
        Ok(self.field(self.index_of(column)?))
    }

    /// Whether the column resolves in this schema.
    pub fn has_column(&self, column: &Column) -> bool {
        matches!(self.try_index_of(column), Ok(Some(_)))
    }
}

fn qualified_name(q: Option<&str>, name: &str) -> String {
    match q {
        Some(q) => format!("{q}.{name}"),
        None => name.to_string(),
    }
}

impl fmt::Display for PlanSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, (q, field)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}:{}", qualified_name(q, field.name()), field.data_type())?;
            if field.is_nullable() {
                f.write_str(";N")?;
            }
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::DataType;

    #[test]
    fn resolution() {
        let s = PlanSchema::new(vec![
            (Some("t".into()), Arc::new(Field::new("a", DataType::Int32, false))),
            (Some("u".into()), Arc::new(Field::new("a", DataType::Int32, false))),
            (Some("u".into()), Arc::new(Field::new("B", DataType::Int32, false))),
        ]);
        assert_eq!(s.index_of(&Column::from_qualified_name("u.a")).ok(), Some(1));
        assert!(matches!(
            s.index_of(&Column::new_unqualified("a")),
            Err(RillError::AmbiguousColumn { .. })
        ));
        assert_eq!(s.index_of(&Column::new_unqualified("b")).ok(), Some(2));
        assert!(matches!(
            s.index_of(&Column::new_unqualified("z")),
            Err(RillError::ColumnNotFound { .. })
        ));
    }
}
