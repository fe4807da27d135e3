//! Commit order for events: the events of one project reach the broadcaster in the order their
//! transactions committed.
//!
//! Publishing happens after commit, so two transactions of one project that commit one after the
//! other could otherwise publish the other way round (the second request can run between the
//! first one's `COMMIT` and its `publish`). The fix is a permit: just before `COMMIT`, a store
//! adapter takes an in-process lock for the project and hands its guard to [`hold`]; the service
//! operation that started the transaction keeps it until it has published, in its [`scope`].
//! Transactions that conflict are already serialised by the database up to `COMMIT`; the permit
//! extends that order over `COMMIT` → `publish`, which takes microseconds.
//!
//! The permit lives in a task-local slot, so no port signature carries it and an adapter outside
//! a scope (a test calling the store directly) simply drops its guard.

use std::cell::RefCell;
use std::future::Future;

tokio::task_local! {
    static HELD: RefCell<Vec<Box<dyn Send>>>;
}

/// Runs a service operation with a slot for permits; whatever the store held is released when
/// `operation` ends, i.e. after it published.
pub(crate) async fn scope<F: Future>(operation: F) -> F::Output {
    HELD.scope(RefCell::new(Vec::new()), operation).await
}

/// Keeps `permit` (an adapter's lock guard) until the enclosing service operation has published.
/// Outside a service operation the permit is dropped at once. Returns whether it was kept.
pub fn hold(permit: impl Send + 'static) -> bool {
    HELD.try_with(|held| held.borrow_mut().push(Box::new(permit)))
        .is_ok()
}

/// Releases every permit held so far: a transaction about to be retried must not wait for the
/// lock its own earlier attempt holds.
pub fn release_held() {
    let released = HELD.try_with(|held| std::mem::take(&mut *held.borrow_mut()));
    drop(released);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    struct Flag(Arc<AtomicBool>);

    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn a_permit_lives_until_the_scope_ends_and_outside_a_scope_not_at_all() {
        let released = Arc::new(AtomicBool::new(false));
        let seen = released.clone();
        scope(async move {
            assert!(hold(Flag(released)));
            // Publishing happens here, with the permit still held.
            assert!(!seen.load(Ordering::SeqCst));
        })
        .await;

        let dropped = Arc::new(AtomicBool::new(false));
        assert!(!hold(Flag(dropped.clone())));
        assert!(dropped.load(Ordering::SeqCst), "no scope: dropped at once");

        let early = Arc::new(AtomicBool::new(false));
        let check = early.clone();
        scope(async move {
            hold(Flag(early));
            release_held();
            assert!(check.load(Ordering::SeqCst), "released before a retry");
        })
        .await;
    }
}
