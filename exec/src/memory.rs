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

    /// A reservation of 0 bytes for `owner` (an operator name, for errors).
    pub fn reservation(self: &Arc<Self>, owner: impl Into<String>) -> MemoryReservation {
        MemoryReservation {
            pool: Arc::clone(self),
            size: 0,
            owner: owner.into(),
        }
    }
}

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
        if let Some(limit) = self.pool.limit {
            if prev + grow > limit {
                self.pool.used.fetch_sub(grow, Ordering::Relaxed);
                return Err(ExecError::ResourcesExhausted {
                    operator: self.owner.clone(),
                    requested: bytes,
                    used: prev,
                    limit,
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
