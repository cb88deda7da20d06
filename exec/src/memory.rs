//! The memory budget of a job: a [`MemoryPool`] shared by its operators, from which stateful
//! operators (window state, streaming join state, session buffers) take
//! [`MemoryReservation`]s sized to what they hold. Growing past the pool's limit fails with
//! [`ExecError::ResourcesExhausted`] naming the operator, instead of the process running out
//! of memory. A full `SortExec` spills sorted runs to disk instead of failing, and a
//! partitioned `HashJoinExec` spills its build and probe sides as grace partitions, and
//! `HashAggregateExec` emits its partial states early (`Partial`) or spills hash partitions
//! of its group states (the other modes); `crate::operators::spill` holds the shared
//! spill-file helpers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::error::{ExecError, Result};

/// A job's memory budget.
///
/// Law: `used()` is the sum of the sizes of the live reservations, and never exceeds
/// `limit` after a successful [`MemoryReservation::try_resize`].
#[derive(Debug, Default)]
pub struct MemoryPool {
    limit: Option<usize>,
    used: AtomicUsize,
}

impl MemoryPool {
    /// A pool of at most `limit` bytes (`None`: unlimited, only counted).
    pub fn new(limit: Option<usize>) -> Arc<Self> {
        Arc::new(MemoryPool {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// Bytes reserved now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The limit.
    pub fn limit(&self) -> Option<usize> {
        self.limit
    }

    /// A reservation of 0 bytes for `owner` (an operator name, for errors), for state that
    /// cannot go anywhere else.
    pub fn reservation(self: &Arc<Self>, owner: impl Into<String>) -> MemoryReservation {
        MemoryReservation {
            pool: Arc::clone(self),
            size: 0,
            owner: owner.into(),
            limit: self.limit,
        }
    }

    /// A reservation for state its operator can spill to disk when refused (a sort's
    /// buffer, a hash join's build side, an aggregate's groups). It is refused once the pool
    /// would pass `limit - limit / SPILL_HEADROOM_DIVISOR`: the last part of the pool stays for
    /// operators that cannot spill (a nested-loop join's build side, window state), which
    /// would otherwise fail whenever spilling operators running beside them had filled the
    /// pool first.
    pub fn spillable_reservation(self: &Arc<Self>, owner: impl Into<String>) -> MemoryReservation {
        MemoryReservation {
            pool: Arc::clone(self),
            size: 0,
            owner: owner.into(),
            limit: self.limit.map(|l| l - l / SPILL_HEADROOM_DIVISOR),
        }
    }
}

/// Spillable reservations leave `1 / SPILL_HEADROOM_DIVISOR` of the pool free.
pub const SPILL_HEADROOM_DIVISOR: usize = 8;

/// Bytes an operator holds, counted in a [`MemoryPool`]; released when dropped.
///
/// # Examples
/// ```
/// use rill_exec::memory::MemoryPool;
/// let pool = MemoryPool::new(Some(100));
/// let mut r = pool.reservation("window state");
/// r.try_resize(80).unwrap();
/// assert!(r.try_resize(120).is_err());
/// assert_eq!(pool.used(), 80);
/// drop(r);
/// assert_eq!(pool.used(), 0);
/// ```
#[derive(Debug)]
pub struct MemoryReservation {
    pool: Arc<MemoryPool>,
    size: usize,
    owner: String,
    /// The pool usage past which this reservation is refused (the pool's limit, or less for
    /// a spillable reservation).
    limit: Option<usize>,
}

impl MemoryReservation {
    /// The reserved size.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Changes the reservation to `bytes`.
    ///
    /// # Errors
    /// [`ExecError::ResourcesExhausted`] when growing would pass the limit (the reservation
    /// keeps its old size).
    pub fn try_resize(&mut self, bytes: usize) -> Result<()> {
        if bytes <= self.size {
            self.pool.used.fetch_sub(self.size - bytes, Ordering::Relaxed);
            self.size = bytes;
            return Ok(());
        }
        let grow = bytes - self.size;
        let prev = self.pool.used.fetch_add(grow, Ordering::Relaxed);
        if let Some(limit) = self.limit {
            if prev + grow > limit {
                self.pool.used.fetch_sub(grow, Ordering::Relaxed);
                return Err(ExecError::ResourcesExhausted {
                    operator: self.owner.clone(),
                    requested: bytes,
                    used: prev,
                    // The configured limit, which is what the user set.
                    limit: self.pool.limit.unwrap_or(limit),
                });
            }
        }
        self.size = bytes;
        Ok(())
    }
}

impl Drop for MemoryReservation {
    fn drop(&mut self) {
        self.pool.used.fetch_sub(self.size, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spillable_reservations_leave_headroom_for_the_others() {
        let pool = MemoryPool::new(Some(800));
        let mut sort = pool.spillable_reservation("SortExec[0]");
        // 800 - 800 / 8 = 700 for spillable state.
        sort.try_resize(700).unwrap();
        let err = sort.try_resize(701).unwrap_err();
        assert!(matches!(err, ExecError::ResourcesExhausted { limit: 800, .. }), "{err}");
        // An operator that cannot spill still gets the rest.
        let mut nested_loop = pool.reservation("NestedLoopJoinExec[0]");
        nested_loop.try_resize(100).unwrap();
        assert!(nested_loop.try_resize(101).is_err());
        assert_eq!(pool.used(), 800);
        // Unlimited pools refuse nothing.
        let free = MemoryPool::new(None);
        free.spillable_reservation("x").try_resize(usize::MAX / 2).unwrap();
    }
}
