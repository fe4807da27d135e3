//! Open sockets per user on this instance, so that one user (or one stolen token) cannot hold
//! an unbounded number of connections. A slot is taken at the handshake and given back when the
//! socket's task ends, whatever ends it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tasklane_domain::ids::UserId;

/// The count of open sockets per user, bounded by `limit`.
#[derive(Debug)]
pub(crate) struct UserSockets {
    limit: usize,
    open: Mutex<HashMap<UserId, usize>>,
}

/// One open socket's place in the count; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct SocketSlot {
    sockets: Arc<UserSockets>,
    user: UserId,
}

impl UserSockets {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            open: Mutex::new(HashMap::new()),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<UserId, usize>) -> T) -> T {
        // A poisoned lock only means a panic elsewhere; the counts stay valid.
        f(&mut self.open.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A slot for one more socket of `user`, or `None` at the limit.
    pub(crate) fn open(self: &Arc<Self>, user: UserId) -> Option<SocketSlot> {
        self.with(|open| {
            let count = open.entry(user).or_default();
            if *count >= self.limit {
                return None;
            }
            *count += 1;
            Some(SocketSlot {
                sockets: self.clone(),
                user,
            })
        })
    }

    /// Open sockets of `user`.
    #[cfg(test)]
    fn count(&self, user: UserId) -> usize {
        self.with(|open| open.get(&user).copied().unwrap_or(0))
    }
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        self.sockets.with(|open| {
            if let Some(count) = open.get_mut(&self.user) {
                *count -= 1;
                if *count == 0 {
                    open.remove(&self.user);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_gets_at_most_the_limit_and_closed_sockets_free_their_slot() {
        let sockets = Arc::new(UserSockets::new(2));
        let (ada, bob) = (UserId::generate(), UserId::generate());
        let first = sockets.open(ada).unwrap();
        let _second = sockets.open(ada).unwrap();
        assert!(sockets.open(ada).is_none(), "a third is refused");
        assert!(sockets.open(bob).is_some(), "other users are not affected");
        drop(first);
        assert_eq!(sockets.count(ada), 1);
        assert!(sockets.open(ada).is_some());
    }
}
