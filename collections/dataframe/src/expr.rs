//! Column expressions: `col("price") * lit(2) > lit(10)`, typed against a
//! schema when the dataframe is built and evaluated on each record batch
//! with Arrow's kernels.

use std::fmt;
use std::ops;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Datum, Float64Array, Int64Array, Scalar as ArrowScalar,
    StringArray, new_null_array,
};
use arrow::compute::kernels::{cmp, numeric};
use arrow::compute::{and_kleene, cast, is_not_null, is_null, not, or_kleene};
use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;
use barrow_core::Result;
use serde::{Deserialize, Serialize};

use crate::error::{DataFrameError, compute_error};
use crate::functions::Function;

/// One value: a constant in an expression, or the result of a reduction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Scalar {
    /// A null of no particular type (it takes the other operand's).
    Null,
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    Int64(i64),
    /// A 64-bit float.
    Float64(f64),
    /// A string.
    Utf8(String),
}

impl Scalar {
    /// Its Arrow type.
    pub fn data_type(&self) -> DataType {
        match self {
            Scalar::Null => DataType::Null,
            Scalar::Bool(_) => DataType::Boolean,
            Scalar::Int64(_) => DataType::Int64,
            Scalar::Float64(_) => DataType::Float64,
            Scalar::Utf8(_) => DataType::Utf8,
        }
    }

    /// The value as a float, if it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Int64(v) => Some(*v as f64),
            Scalar::Float64(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as an integer, if it is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Scalar::Int64(v) => Some(*v),
            _ => None,
        }
    }

    /// A column of `len` copies.
    fn to_array(&self, len: usize) -> ArrayRef {
        match self {
            Scalar::Null => new_null_array(&DataType::Null, len),
            Scalar::Bool(v) => Arc::new(BooleanArray::from(vec![*v; len])),
            Scalar::Int64(v) => Arc::new(Int64Array::from_value(*v, len)),
            Scalar::Float64(v) => Arc::new(Float64Array::from_value(*v, len)),
            Scalar::Utf8(v) => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                v.as_str(),
                len,
            ))),
        }
    }
}

macro_rules! literal_from {
    ($($t:ty => $variant:ident as $as:ty),* $(,)?) => {$(
        impl From<$t> for Scalar {
            fn from(v: $t) -> Scalar {
                Scalar::$variant(<$as>::from(v))
            }
        }
    )*};
}

literal_from!(
    bool => Bool as bool,
    i8 => Int64 as i64, i16 => Int64 as i64, i32 => Int64 as i64, i64 => Int64 as i64,
    u8 => Int64 as i64, u16 => Int64 as i64, u32 => Int64 as i64,
    f32 => Float64 as f64, f64 => Float64 as f64,
    &str => Utf8 as String, String => Utf8 as String,
);

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Null => f.write_str("null"),
            Scalar::Bool(v) => write!(f, "{v}"),
            Scalar::Int64(v) => write!(f, "{v}"),
            Scalar::Float64(v) => write!(f, "{v:?}"),
            Scalar::Utf8(v) => write!(f, "{v:?}"),
        }
    }
}

/// An operator between two expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`: true division, always to `Float64` (as pandas' `/`).
    Div,
    /// `==`
    Eq,
    /// `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `&`: logical and (null and false is false).
    And,
    /// `|`: logical or (null or true is true).
    Or,
}

impl BinaryOp {
    fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Eq => "==",
            BinaryOp::NotEq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::And => "&",
            BinaryOp::Or => "|",
        }
    }

    fn is_arithmetic(self) -> bool {
        matches!(
            self,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div
        )
    }

    fn is_logical(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or)
    }
}

/// An expression over the columns of one row.
///
/// ```
/// use barrow_dataframe::{col, lit};
///
/// let cheap = col("price").lt(lit(10)) & col("stock").gt(lit(0));
/// assert_eq!(cheap.to_string(), "((price < 10) & (stock > 0))");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Expr {
    /// The column of this name.
    Column(String),
    /// A constant.
    Literal(Scalar),
    /// Two expressions and an operator.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// The left operand.
        left: Box<Expr>,
        /// The right operand.
        right: Box<Expr>,
    },
    /// Logical not.
    Not(Box<Expr>),
    /// Whether the value is null.
    IsNull(Box<Expr>),
    /// Whether the value is not null.
    IsNotNull(Box<Expr>),
    /// The value converted to another type.
    Cast(Box<Expr>, DataType),
    /// The value, or the second expression's where it is null.
    FillNull(Box<Expr>, Box<Expr>),
    /// A string or date function of the value.
    Apply(Function, Box<Expr>),
}

/// The column `name`.
pub fn col(name: impl Into<String>) -> Expr {
    Expr::Column(name.into())
}

/// A constant: `lit(3)`, `lit(2.5)`, `lit("a")`, `lit(true)`.
pub fn lit(value: impl Into<Scalar>) -> Expr {
    Expr::Literal(value.into())
}

impl Expr {
    fn binary(self, op: BinaryOp, other: Expr) -> Expr {
        Expr::Binary {
            op,
            left: Box::new(self),
            right: Box::new(other),
        }
    }

    /// `self == other`
    pub fn eq(self, other: Expr) -> Expr {
        self.binary(BinaryOp::Eq, other)
    }

    /// `self != other`
    pub fn not_eq(self, other: Expr) -> Expr {
        self.binary(BinaryOp::NotEq, other)
    }

    /// `self < other`
    pub fn lt(self, other: Expr) -> Expr {
        self.binary(BinaryOp::Lt, other)
    }

    /// `self <= other`
    pub fn lt_eq(self, other: Expr) -> Expr {
        self.binary(BinaryOp::LtEq, other)
    }

    /// `self > other`
    pub fn gt(self, other: Expr) -> Expr {
        self.binary(BinaryOp::Gt, other)
    }

    /// `self >= other`
    pub fn gt_eq(self, other: Expr) -> Expr {
        self.binary(BinaryOp::GtEq, other)
    }

    /// Logical and (also the `&` operator).
    pub fn and(self, other: Expr) -> Expr {
        self.binary(BinaryOp::And, other)
    }

    /// Logical or (also the `|` operator).
    pub fn or(self, other: Expr) -> Expr {
        self.binary(BinaryOp::Or, other)
    }

    /// Whether the value is null.
    pub fn is_null(self) -> Expr {
        Expr::IsNull(Box::new(self))
    }

    /// Whether the value is not null.
    pub fn is_not_null(self) -> Expr {
        Expr::IsNotNull(Box::new(self))
    }

    /// The value converted to `to` (as Arrow's `cast`; a value that does
    /// not convert becomes null, except where Arrow refuses the cast).
    pub fn cast(self, to: DataType) -> Expr {
        Expr::Cast(Box::new(self), to)
    }

    /// The value, or `with`'s where it is null (Dask's `fillna`); `with`
    /// is cast to the value's type.
    pub fn fill_null(self, with: Expr) -> Expr {
        Expr::FillNull(Box::new(self), Box::new(with))
    }

    fn apply(self, function: Function) -> Expr {
        Expr::Apply(function, Box::new(self))
    }

    /// Whether the string contains `text` (plain text, not a pattern).
    pub fn contains(self, text: &str) -> Expr {
        self.apply(Function::Contains(text.to_owned()))
    }

    /// Whether the regular expression `pattern` (Rust's `regex` syntax)
    /// matches somewhere in the string (pandas' `str.contains(pat,
    /// regex=True)`); a pattern that does not compile is refused when the
    /// expression is used.
    ///
    /// ```
    /// use barrow_dataframe::col;
    ///
    /// let order_ids = col("code").matches(r"^ord-\d{4}$");
    /// # let _ = order_ids;
    /// ```
    pub fn matches(self, pattern: &str) -> Expr {
        self.apply(Function::Matches(pattern.to_owned()))
    }

    /// Whether the string starts with `text`.
    pub fn starts_with(self, text: &str) -> Expr {
        self.apply(Function::StartsWith(text.to_owned()))
    }

    /// Whether the string ends with `text`.
    pub fn ends_with(self, text: &str) -> Expr {
        self.apply(Function::EndsWith(text.to_owned()))
    }

    /// The string in lower case.
    pub fn lower(self) -> Expr {
        self.apply(Function::Lower)
    }

    /// The string in upper case.
    pub fn upper(self) -> Expr {
        self.apply(Function::Upper)
    }

    /// The string's length in characters, as `Int64`.
    pub fn str_len(self) -> Expr {
        self.apply(Function::Length)
    }

    /// The year of a date or timestamp, as `Int64`.
    pub fn year(self) -> Expr {
        self.apply(Function::Year)
    }

    /// The month (1 to 12) of a date or timestamp.
    pub fn month(self) -> Expr {
        self.apply(Function::Month)
    }

    /// The day of the month (1 to 31) of a date or timestamp.
    pub fn day(self) -> Expr {
        self.apply(Function::Day)
    }

    /// The hour (0 to 23) of a timestamp.
    pub fn hour(self) -> Expr {
        self.apply(Function::Hour)
    }

    /// The minute (0 to 59) of a timestamp.
    pub fn minute(self) -> Expr {
        self.apply(Function::Minute)
    }

    /// The second (0 to 59) of a timestamp.
    pub fn second(self) -> Expr {
        self.apply(Function::Second)
    }

    /// The day of the week, Monday 0 to Sunday 6 (pandas' `dayofweek`).
    pub fn day_of_week(self) -> Expr {
        self.apply(Function::DayOfWeek)
    }

    /// Adds the names of the columns the expression reads to `out`, once
    /// each.
    pub fn columns_into(&self, out: &mut Vec<String>) {
        match self {
            Expr::Column(name) => {
                if !out.contains(name) {
                    out.push(name.clone());
                }
            }
            Expr::Literal(_) => {}
            Expr::Binary { left, right, .. } => {
                left.columns_into(out);
                right.columns_into(out);
            }
            Expr::Not(e)
            | Expr::IsNull(e)
            | Expr::IsNotNull(e)
            | Expr::Cast(e, _)
            | Expr::Apply(_, e) => {
                e.columns_into(out);
            }
            Expr::FillNull(e, with) => {
                e.columns_into(out);
                with.columns_into(out);
            }
        }
    }

    /// The type of the expression's values on a table of `schema`, or why
    /// it has none (a missing column, operands that do not go together).
    pub fn data_type(&self, schema: &Schema) -> Result<DataType> {
        Ok(match self {
            Expr::Column(name) => schema
                .field_with_name(name)
                .map_err(|_| {
                    DataFrameError::missing_column(
                        name,
                        schema.fields().iter().map(|f| f.name().as_str()),
                    )
                })?
                .data_type()
                .clone(),
            Expr::Literal(l) => l.data_type(),
            Expr::Binary { op, left, right } => {
                let (l, r) = (left.data_type(schema)?, right.data_type(schema)?);
                binary_types(*op, &l, &r)?.1
            }
            Expr::Not(e) => {
                let t = e.data_type(schema)?;
                if !matches!(t, DataType::Boolean | DataType::Null) {
                    return Err(types_error("!", &t, &t, "negate a boolean expression").into());
                }
                DataType::Boolean
            }
            Expr::IsNull(e) | Expr::IsNotNull(e) => {
                e.data_type(schema)?;
                DataType::Boolean
            }
            Expr::FillNull(e, with) => {
                let (t, w) = (e.data_type(schema)?, with.data_type(schema)?);
                // Stricter than `can_cast_types`: a string would parse to
                // a number, or to a silent null where it does not.
                let fits = w == t
                    || w == DataType::Null
                    || (is_numeric(&w) && is_numeric(&t))
                    || (is_string(&w) && is_string(&t));
                if !fits {
                    return Err(types_error(
                        "fill_null",
                        &t,
                        &w,
                        "fill with a value of the column's type (or one that casts to it)",
                    )
                    .into());
                }
                t
            }
            Expr::Cast(e, to) => {
                let from = e.data_type(schema)?;
                if !arrow::compute::can_cast_types(&from, to) {
                    return Err(types_error(
                        "cast",
                        &from,
                        to,
                        "Arrow cannot convert between these types",
                    )
                    .into());
                }
                to.clone()
            }
            Expr::Apply(function, e) => function.data_type(&e.data_type(schema)?)?,
        })
    }

    /// The expression's values on `batch`, one per row.
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<ArrayRef> {
        Ok(match self {
            Expr::Column(name) => batch
                .column_by_name(name)
                .ok_or_else(|| {
                    DataFrameError::missing_column(
                        name,
                        batch
                            .schema_ref()
                            .fields()
                            .iter()
                            .map(|f| f.name().as_str()),
                    )
                })?
                .clone(),
            Expr::Literal(l) => l.to_array(batch.num_rows()),
            Expr::Binary { op, left, right } => {
                let (l, r) = (left.operand(batch)?, right.operand(batch)?);
                evaluate_binary(*op, l, r, batch.num_rows())?
            }
            Expr::Not(e) => {
                let v = as_boolean(&e.evaluate(batch)?, "!")?;
                Arc::new(not(&v).map_err(|e| compute_error("!", e))?)
            }
            Expr::IsNull(e) => {
                Arc::new(is_null(&e.evaluate(batch)?).map_err(|e| compute_error("is_null", e))?)
            }
            Expr::IsNotNull(e) => Arc::new(
                is_not_null(&e.evaluate(batch)?).map_err(|e| compute_error("is_not_null", e))?,
            ),
            Expr::Cast(e, to) => cast(&e.evaluate(batch)?, to)
                .map_err(|err| compute_error(format!("cast to {to}"), err))?,
            Expr::FillNull(e, with) => {
                let values = e.evaluate(batch)?;
                let fill = cast(&with.evaluate(batch)?, values.data_type())
                    .map_err(|err| compute_error("fill_null", err))?;
                let valid = is_not_null(&values).map_err(|err| compute_error("fill_null", err))?;
                arrow::compute::kernels::zip::zip(&valid, &values, &fill)
                    .map_err(|err| compute_error("fill_null", err))?
            }
            Expr::Apply(function, e) => function.evaluate(&e.evaluate(batch)?)?,
        })
    }
}

fn types_error(
    operation: &str,
    left: &DataType,
    right: &DataType,
    advice: &'static str,
) -> DataFrameError {
    DataFrameError::Types {
        operation: operation.to_owned(),
        left: left.clone(),
        right: right.clone(),
        advice,
    }
}

fn is_numeric(t: &DataType) -> bool {
    t.is_integer() || t.is_floating() || *t == DataType::Null
}

fn is_string(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
    )
}

/// The type both operands of `op` are cast to, and the type of the result.
fn binary_types(op: BinaryOp, l: &DataType, r: &DataType) -> Result<(DataType, DataType)> {
    let symbol = op.symbol();
    if op.is_logical() {
        return if matches!(l, DataType::Boolean | DataType::Null)
            && matches!(r, DataType::Boolean | DataType::Null)
        {
            Ok((DataType::Boolean, DataType::Boolean))
        } else {
            Err(types_error(symbol, l, r, "combine boolean expressions (comparisons)").into())
        };
    }
    let operands = if is_numeric(l) && is_numeric(r) {
        if l.is_floating() || r.is_floating() || op == BinaryOp::Div {
            DataType::Float64
        } else if *l == DataType::Null && *r == DataType::Null {
            DataType::Null
        } else {
            DataType::Int64
        }
    } else if op.is_arithmetic() {
        return Err(types_error(
            symbol,
            l,
            r,
            "arithmetic takes numbers; cast the column first (col(..).cast(DataType::Float64))",
        )
        .into());
    } else if is_string(l) && is_string(r) {
        DataType::Utf8
    } else if l == r || *r == DataType::Null {
        l.clone()
    } else if *l == DataType::Null {
        r.clone()
    } else {
        return Err(types_error(
            symbol,
            l,
            r,
            "compare values of one kind; cast one side to the other's type",
        )
        .into());
    };
    let result = if op.is_arithmetic() {
        operands.clone()
    } else {
        DataType::Boolean
    };
    Ok((operands, result))
}

fn as_boolean(array: &ArrayRef, operation: &str) -> Result<BooleanArray> {
    let array = cast(array, &DataType::Boolean).map_err(|e| compute_error(operation, e))?;
    array
        .as_any()
        .downcast_ref::<BooleanArray>()
        .cloned()
        .ok_or_else(|| {
            barrow_core::Error::internal(format!("{operation}: a cast to boolean gave no booleans"))
        })
}

fn evaluate_binary(op: BinaryOp, l: Operand, r: Operand, rows: usize) -> Result<ArrayRef> {
    let (operands, _) = binary_types(op, l.values.data_type(), r.values.data_type())?;
    let symbol = op.symbol();
    let err = |e| compute_error(symbol, e);
    if op.is_logical() {
        let (l, r) = (l.into_column(rows)?, r.into_column(rows)?);
        let (l, r) = (as_boolean(&l, symbol)?, as_boolean(&r, symbol)?);
        let out = match op {
            BinaryOp::And => and_kleene(&l, &r),
            _ => or_kleene(&l, &r),
        };
        return Ok(Arc::new(out.map_err(err)?));
    }
    // Two literals: one of them becomes a column, so the result has a row
    // per row of the batch.
    let l = if l.scalar && r.scalar {
        Operand {
            values: l.into_column(rows)?,
            scalar: false,
        }
    } else {
        l
    };
    let datum = |side: Operand| -> Result<Box<dyn Datum>> {
        let values = cast(&side.values, &operands).map_err(err)?;
        Ok(if side.scalar {
            Box::new(ArrowScalar::new(values))
        } else {
            Box::new(values)
        })
    };
    let (l, r) = (datum(l)?, datum(r)?);
    let (l, r) = (l.as_ref(), r.as_ref());
    Ok(match op {
        BinaryOp::Add => numeric::add(l, r).map_err(err)?,
        BinaryOp::Sub => numeric::sub(l, r).map_err(err)?,
        BinaryOp::Mul => numeric::mul(l, r).map_err(err)?,
        BinaryOp::Div => numeric::div(l, r).map_err(err)?,
        BinaryOp::Eq => Arc::new(cmp::eq(l, r).map_err(err)?),
        BinaryOp::NotEq => Arc::new(cmp::neq(l, r).map_err(err)?),
        BinaryOp::Lt => Arc::new(cmp::lt(l, r).map_err(err)?),
        BinaryOp::LtEq => Arc::new(cmp::lt_eq(l, r).map_err(err)?),
        BinaryOp::Gt => Arc::new(cmp::gt(l, r).map_err(err)?),
        BinaryOp::GtEq => Arc::new(cmp::gt_eq(l, r).map_err(err)?),
        BinaryOp::And | BinaryOp::Or => unreachable_logical()?,
    })
}

/// One side of a binary operator: a literal stays one value (a scalar to
/// Arrow's kernels) rather than a column of copies made for every batch.
struct Operand {
    values: ArrayRef,
    scalar: bool,
}

impl Operand {
    /// The operand as a column of `len` rows.
    fn into_column(self, len: usize) -> Result<ArrayRef> {
        if !self.scalar {
            return Ok(self.values);
        }
        let zeros = arrow::array::UInt32Array::from(vec![0u32; len]);
        arrow::compute::take(&self.values, &zeros, None).map_err(|e| compute_error("broadcast", e))
    }
}

impl Expr {
    fn operand(&self, batch: &RecordBatch) -> Result<Operand> {
        Ok(match self {
            Expr::Literal(l) => Operand {
                values: l.to_array(1),
                scalar: true,
            },
            e => Operand {
                values: e.evaluate(batch)?,
                scalar: false,
            },
        })
    }
}

/// Logical operators return before the kernels' match; reaching it is a
/// bug reported as an error, never a panic.
fn unreachable_logical() -> Result<ArrayRef> {
    Err(barrow_core::Error::internal(
        "a logical operator reached the arithmetic kernels",
    ))
}

macro_rules! operator {
    ($trait:ident, $method:ident, $op:ident) => {
        impl ops::$trait for Expr {
            type Output = Expr;
            fn $method(self, other: Expr) -> Expr {
                self.binary(BinaryOp::$op, other)
            }
        }
    };
}

operator!(Add, add, Add);
operator!(Sub, sub, Sub);
operator!(Mul, mul, Mul);
operator!(Div, div, Div);
operator!(BitAnd, bitand, And);
operator!(BitOr, bitor, Or);

impl ops::Not for Expr {
    type Output = Expr;
    fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column(name) => f.write_str(name),
            Expr::Literal(l) => write!(f, "{l}"),
            Expr::Binary { op, left, right } => write!(f, "({left} {} {right})", op.symbol()),
            Expr::Not(e) => write!(f, "!{e}"),
            Expr::IsNull(e) => write!(f, "{e}.is_null()"),
            Expr::IsNotNull(e) => write!(f, "{e}.is_not_null()"),
            Expr::Cast(e, to) => write!(f, "{e}.cast({to})"),
            Expr::FillNull(e, with) => write!(f, "{e}.fill_null({with})"),
            Expr::Apply(function, e) => write!(f, "{e}.{function}"),
        }
    }
}
