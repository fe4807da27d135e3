//! The SQL layer shared by every repository: the dialect (PostgreSQL or SQLite), statements
//! written once in PostgreSQL style and adapted to SQLite, dialect-aware values and row getters,
//! and the transaction runner with its retry on deadlocks.
//!
//! Identifiers are bound as `uuid` on PostgreSQL and as their hyphenated text on SQLite;
//! timestamps as `timestamptz` and as fixed-width RFC 3339 text (`…T12:00:00.000000Z`), which
//! SQLite sorts correctly; dates as `date` and as `YYYY-MM-DD` text.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement, Value};
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// Which database a statement is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL: production, several instances.
    Postgres,
    /// SQLite: the embedded default, one instance.
    Sqlite,
}

/// The text format of timestamps on SQLite: fixed width, so text order is time order.
const SQLITE_TIME: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

impl Dialect {
    /// The SeaORM backend.
    pub fn backend(self) -> DbBackend {
        match self {
            Dialect::Postgres => DbBackend::Postgres,
            Dialect::Sqlite => DbBackend::Sqlite,
        }
    }

    /// A statement from SQL written for PostgreSQL (`$1` placeholders, `{obj}`/`{agg}`/`{arr0}`
    /// JSON markers), adapted to this dialect.
    pub fn stmt(self, sql: &str, values: Vec<Value>) -> Statement {
        let sql = match self {
            Dialect::Postgres => self.json_sql(sql),
            Dialect::Sqlite => to_sqlite_placeholders(&self.json_sql(sql)),
        };
        Statement::from_sql_and_values(self.backend(), sql, values)
    }

    /// SQL with its `{obj}`/`{agg}`/`{arr0}` JSON markers in this dialect's functions.
    pub fn json_sql(self, sql: &str) -> String {
        match self {
            Dialect::Postgres => sql
                .replace("{obj}", "json_build_object")
                .replace("{agg}", "json_agg")
                .replace("{arr0}", "'[]'::json"),
            Dialect::Sqlite => sql
                .replace("{obj}", "json_object")
                .replace("{agg}", "json_group_array")
                .replace("{arr0}", "json('[]')"),
        }
    }

    /// An id parameter.
    pub fn id(self, id: impl Into<Uuid>) -> Value {
        let id = id.into();
        match self {
            Dialect::Postgres => id.into(),
            Dialect::Sqlite => id.hyphenated().to_string().into(),
        }
    }

    /// An optional id parameter.
    pub fn opt_id(self, id: Option<impl Into<Uuid>>) -> Value {
        match (self, id) {
            (_, Some(id)) => self.id(id),
            (Dialect::Postgres, None) => Value::Uuid(None),
            (Dialect::Sqlite, None) => Value::String(None),
        }
    }

    /// A timestamp parameter.
    pub fn time(self, at: DateTime<Utc>) -> Value {
        match self {
            Dialect::Postgres => at.into(),
            Dialect::Sqlite => at.format(SQLITE_TIME).to_string().into(),
        }
    }

    /// A timestamp as text inside a JSON parameter, in the form this dialect stores (and
    /// compares) timestamps.
    pub fn time_text(self, at: DateTime<Utc>) -> String {
        match self {
            Dialect::Postgres => at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            Dialect::Sqlite => at.format(SQLITE_TIME).to_string(),
        }
    }

    /// An optional timestamp parameter.
    pub fn opt_time(self, at: Option<DateTime<Utc>>) -> Value {
        match (self, at) {
            (_, Some(at)) => self.time(at),
            (Dialect::Postgres, None) => Value::ChronoDateTimeUtc(None),
            (Dialect::Sqlite, None) => Value::String(None),
        }
    }

    /// An optional date parameter.
    pub fn opt_date(self, date: Option<NaiveDate>) -> Value {
        match self {
            Dialect::Postgres => date.into(),
            Dialect::Sqlite => date.map(|d| d.format("%Y-%m-%d").to_string()).into(),
        }
    }

    /// A sub-query of the ids in the JSON array bound as parameter `n` (text), for
    /// `x IN (…)`: one statement text whatever the number of ids.
    pub fn json_ids(self, n: usize) -> String {
        match self {
            Dialect::Postgres => {
                format!("(SELECT value::uuid FROM jsonb_array_elements_text(${n}::jsonb))")
            }
            Dialect::Sqlite => format!("(SELECT value FROM json_each(${n}))"),
        }
    }

    /// `$first, $first+1, …` for `count` values, for `IN (…)` lists.
    pub fn placeholders(first: usize, count: usize) -> String {
        (first..first + count)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A row getter for this dialect.
    pub fn row<'a>(self, row: &'a QueryResult) -> Row<'a> {
        Row { row, dialect: self }
    }
}

/// A statement's bind values, each added with the placeholder it takes: [`Binds::bind`] returns
/// the `$n` to write into the text, so no statement is written with position arithmetic.
#[derive(Debug, Default)]
pub(crate) struct Binds {
    values: Vec<Value>,
}

impl Binds {
    /// Adds `value` and returns its placeholder.
    pub fn bind(&mut self, value: impl Into<Value>) -> String {
        format!("${}", self.position(value))
    }

    /// Adds `value` and returns its position, for the statement builders that take one.
    pub fn position(&mut self, value: impl Into<Value>) -> usize {
        self.values.push(value.into());
        self.values.len()
    }

    /// Adds `value` as parameter `position` of a statement whose text is fixed; `position` must
    /// be the next one (a mismatch is a bug every test of the statement finds).
    pub fn bind_at(&mut self, position: usize, value: impl Into<Value>) {
        debug_assert_eq!(
            self.values.len() + 1,
            position,
            "parameters bound out of order"
        );
        self.values.push(value.into());
    }

    /// The values, in placeholder order.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }
}

/// `$12` → `?12`, outside string literals.
fn to_sqlite_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut in_string = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_string = !in_string;
                out.push(c);
            }
            '$' if !in_string && chars.peek().is_some_and(char::is_ascii_digit) => out.push('?'),
            _ => out.push(c),
        }
    }
    out
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, DbErr> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| DbErr::Type(format!("bad timestamp {text:?}: {e}")))
}

/// Reads columns of one row the way its dialect stores them.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    row: &'a QueryResult,
    dialect: Dialect,
}

impl Row<'_> {
    /// A non-null id.
    pub fn id(&self, column: &str) -> Result<Uuid, DbErr> {
        self.opt_id(column)?
            .ok_or_else(|| DbErr::Type(format!("column {column} is null")))
    }

    /// A nullable id.
    pub fn opt_id(&self, column: &str) -> Result<Option<Uuid>, DbErr> {
        match self.dialect {
            Dialect::Postgres => self.row.try_get::<Option<Uuid>>("", column),
            Dialect::Sqlite => self
                .row
                .try_get::<Option<String>>("", column)?
                .map(|text| Uuid::parse_str(&text).map_err(|e| DbErr::Type(e.to_string())))
                .transpose(),
        }
    }

    /// A non-null timestamp.
    pub fn time(&self, column: &str) -> Result<DateTime<Utc>, DbErr> {
        self.opt_time(column)?
            .ok_or_else(|| DbErr::Type(format!("column {column} is null")))
    }

    /// A nullable timestamp.
    pub fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, DbErr> {
        match self.dialect {
            Dialect::Postgres => self.row.try_get::<Option<DateTime<Utc>>>("", column),
            Dialect::Sqlite => self
                .row
                .try_get::<Option<String>>("", column)?
                .map(|text| parse_time(&text))
                .transpose(),
        }
    }

    /// A nullable date.
    pub fn opt_date(&self, column: &str) -> Result<Option<NaiveDate>, DbErr> {
        match self.dialect {
            Dialect::Postgres => self.row.try_get::<Option<NaiveDate>>("", column),
            Dialect::Sqlite => self
                .row
                .try_get::<Option<String>>("", column)?
                .map(|text| {
                    NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                        .map_err(|e| DbErr::Type(e.to_string()))
                })
                .transpose(),
        }
    }

    /// A non-null text.
    pub fn text(&self, column: &str) -> Result<String, DbErr> {
        self.row.try_get::<String>("", column)
    }

    /// A nullable text.
    pub fn opt_text(&self, column: &str) -> Result<Option<String>, DbErr> {
        self.row.try_get::<Option<String>>("", column)
    }

    /// A non-null integer.
    pub fn int(&self, column: &str) -> Result<i64, DbErr> {
        self.opt_int(column)?
            .ok_or_else(|| DbErr::Type(format!("column {column} is null")))
    }

    /// A nullable integer of any width (PostgreSQL decodes `int2`/`int4`/`int8` strictly).
    pub fn opt_int(&self, column: &str) -> Result<Option<i64>, DbErr> {
        self.row
            .try_get::<Option<i64>>("", column)
            .or_else(|_| {
                self.row
                    .try_get::<Option<i32>>("", column)
                    .map(|v| v.map(i64::from))
            })
            .or_else(|_| {
                self.row
                    .try_get::<Option<i16>>("", column)
                    .map(|v| v.map(i64::from))
            })
    }

    /// A boolean (SQLite stores 0/1).
    pub fn flag(&self, column: &str) -> Result<bool, DbErr> {
        match self.dialect {
            Dialect::Postgres => self.row.try_get::<bool>("", column),
            Dialect::Sqlite => Ok(self.row.try_get::<i64>("", column)? != 0),
        }
    }

    /// A JSON column decoded into `T` (PostgreSQL `json`, SQLite JSON text).
    pub fn json<T: DeserializeOwned>(&self, column: &str) -> Result<T, DbErr> {
        self.opt_json(column)?
            .ok_or_else(|| DbErr::Type(format!("column {column} is null")))
    }

    /// A nullable JSON column decoded into `T`.
    pub fn opt_json<T: DeserializeOwned>(&self, column: &str) -> Result<Option<T>, DbErr> {
        let value = match self.dialect {
            Dialect::Postgres => self.row.try_get::<Option<serde_json::Value>>("", column)?,
            Dialect::Sqlite => match self.row.try_get::<Option<String>>("", column)? {
                Some(text) => {
                    Some(serde_json::from_str(&text).map_err(|e| DbErr::Json(e.to_string()))?)
                }
                None => None,
            },
        };
        value
            .filter(|v| !v.is_null())
            .map(|v| serde_json::from_value(v).map_err(|e| DbErr::Json(format!("{column}: {e}"))))
            .transpose()
    }
}

/// Parses a timestamp as it appears inside JSON built by either dialect.
pub(crate) fn json_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(d)?;
    parse_time(&text).map_err(serde::de::Error::custom)
}

/// Reads a JSON boolean that SQLite writes as 0 or 1.
pub(crate) fn json_flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match <serde_json::Value as serde::Deserialize>::deserialize(d)? {
        serde_json::Value::Bool(flag) => Ok(flag),
        serde_json::Value::Number(n) => Ok(n.as_i64().is_some_and(|n| n != 0)),
        other => Err(serde::de::Error::custom(format!(
            "expected a boolean, got {other}"
        ))),
    }
}

/// Runs a block in a transaction on a connection, committing on `Ok` and rolling back on
/// `Err`. A deadlock or serialization failure (PostgreSQL) runs the whole block again, up to
/// three times: the block re-reads its context each time, so the retry decides on fresh data.
///
/// `in_transaction!(connection, |txn| -> Result<T, Fail<E>> { … })` evaluates to that result.
/// A macro rather than a function taking an async closure: the block is inlined into the
/// `async fn` that uses it, so its future stays `Send` without higher-ranked lifetime bounds.
macro_rules! in_transaction {
    ($db:expr, |$txn:ident| -> $ret:ty $body:block) => {{
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let transaction = match sea_orm::TransactionTrait::begin(&$db).await {
                Ok(transaction) => transaction,
                Err(error) => break Err($crate::errors::Fail::from(error)),
            };
            let result: $ret = {
                let $txn = &transaction;
                async { $body }.await
            };
            match result {
                Ok(done) => match transaction.commit().await {
                    Ok(()) => break Ok(done),
                    Err(error) if attempt < 3 && $crate::errors::is_retryable(&error) => continue,
                    Err(error) => break Err($crate::errors::Fail::from(error)),
                },
                Err(failure) => {
                    // A failed rollback is moot: the connection is discarded.
                    let _ = transaction.rollback().await;
                    match failure {
                        $crate::errors::Fail::Db(ref error) if attempt < 3 && $crate::errors::is_retryable(error) => {
                            tracing::debug!(attempt, %error, "transaction retried");
                            continue;
                        }
                        other => break Err(other),
                    }
                }
            }
        }
    }};
}
pub(crate) use in_transaction;

/// Executes `stmt` and returns every row.
pub(crate) async fn all(
    db: &impl ConnectionTrait,
    stmt: Statement,
) -> Result<Vec<QueryResult>, DbErr> {
    db.query_all_raw(stmt).await
}

/// Executes `stmt` and returns its first row, if any.
pub(crate) async fn one(
    db: &impl ConnectionTrait,
    stmt: Statement,
) -> Result<Option<QueryResult>, DbErr> {
    db.query_one_raw(stmt).await
}

/// Executes `stmt` and returns how many rows it changed.
pub(crate) async fn exec(db: &impl ConnectionTrait, stmt: Statement) -> Result<u64, DbErr> {
    Ok(db.execute_raw(stmt).await?.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_placeholders_are_numbered_and_string_literals_are_left_alone() {
        assert_eq!(
            to_sqlite_placeholders("SELECT $1, '$2', $10 FROM t WHERE a = $2"),
            "SELECT ?1, '$2', ?10 FROM t WHERE a = ?2"
        );
    }

    #[test]
    fn sqlite_timestamps_are_fixed_width_and_round_trip() {
        let at = DateTime::parse_from_rfc3339("2026-11-29T12:00:00.5Z")
            .unwrap()
            .with_timezone(&Utc);
        let Value::String(Some(text)) = Dialect::Sqlite.time(at) else {
            panic!()
        };
        assert_eq!(text, "2026-11-29T12:00:00.500000Z");
        assert_eq!(parse_time(&text).unwrap(), at);
    }
}
