//! The statement counter: every statement the adapter sends is counted per unit of work (a
//! request, a test), through SeaORM's metric callback and a task-local cell. `BEGIN` and
//! `COMMIT` do not pass through the callback, matching docs/performance.md's budgets.

use std::cell::Cell;
use std::future::Future;

tokio::task_local! {
    static STATEMENTS: Cell<u32>;
}

/// Runs `work` and returns its output with the number of statements it sent to the database.
/// Statements sent outside such a scope are not counted.
pub async fn count_statements<F: Future>(work: F) -> (F::Output, u32) {
    STATEMENTS
        .scope(Cell::new(0), async {
            let output = work.await;
            (output, STATEMENTS.with(Cell::get))
        })
        .await
}

/// The metric callback: one more statement in the current unit of work, if any.
pub(crate) fn statement_sent(_info: &sea_orm::metric::Info<'_>) {
    add(1);
}

/// Adds `statements` to the current unit of work, if any.
fn add(statements: u32) {
    let _ = STATEMENTS.try_with(|count| count.set(count.get() + statements));
}

/// One more statement in the current unit of work, sent on its behalf by another task (the
/// coalesced creation statement, which each of its requests counts once).
pub(crate) fn statement_sent_elsewhere() {
    add(1);
}

/// `statements` more in the current unit of work, sent on its behalf by another task (a
/// coalesced change's own statements, and its batch's lock).
pub(crate) fn statements_sent_elsewhere(statements: u32) {
    add(statements);
}

/// The histogram of statements per request, labelled `route`.
pub const STATEMENTS_PER_REQUEST: &str = "tasklane_db_statements_per_request";

/// Runs `work` as one unit of work of `route`: counts its statements, records them in the
/// [`STATEMENTS_PER_REQUEST`] histogram, and returns its output with the count.
pub async fn record_statements<F: Future>(route: String, work: F) -> (F::Output, u32) {
    let (output, statements) = count_statements(work).await;
    metrics::histogram!(STATEMENTS_PER_REQUEST, "route" => route).record(f64::from(statements));
    (output, statements)
}
