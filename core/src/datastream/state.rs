//! Keyed state: the in-memory state backend of keyed process functions and the typed
//! handles user code reads and writes it through.
//!
//! State is partitioned into **key groups** (DESIGN.md, "Time, state, checkpoints"): a key's
//! group is `hash(key) mod max_parallelism`, with a stable hash of the key's row encoding, so
//! a snapshot can later be split by key group when parallelism changes. Each group maps keys
//! to their named states; timers (event and processing time) are keyed state too.
//!
//! # Why this state is not columnar
//! DESIGN.md asks for columnar in-memory state. The engine's own operators keep theirs
//! columnar: the groups of windowed and changelog aggregates, the batches of streaming joins
//! and session buffers. The state of *user* functions holds values of arbitrary Rust types
//! (`ValueState<T>` for any `T`), which have no Arrow layout. So it is kept as typed values
//! per key, in key groups, and counted against a byte budget. This departure is deliberate.
//!
//! # Memory accounting
//! The backend counts the bytes it holds against a budget and refuses, with
//! [`RillError::InvalidArgument`] naming the state and the budget, an update that would pass
//! it. A value's size is its inline size (`size_of`) plus its heap bytes as reported by
//! [`StateSize`], plus the key and state name bytes once per entry and 16 bytes plus the key
//! per timer. Collections count their elements as they are added. The count is an estimate
//! (allocator slack and hash-table overhead are not included); spilling to disk is not
//! implemented, so exceeding the budget fails the job.
//!
//! # Examples
//! ```
//! use rill_core::datastream::{KeyedStateBackend, ValueState, ListState};
//! let mut backend = KeyedStateBackend::new(128, 1 << 20);
//! let count: ValueState<i64> = ValueState::new("count");
//! let seen: ListState<String> = ListState::new("seen");
//! let mut ctx = backend.context(b"key-a", None, 0);
//! let old = count.get(&ctx)?.unwrap_or(0);
//! count.set(&mut ctx, old + 1)?;
//! seen.add(&mut ctx, "x".to_string())?;
//! assert_eq!(count.get(&ctx)?, Some(1));
//! assert_eq!(seen.get(&ctx)?, vec!["x".to_string()]);
//! assert!(backend.used_bytes() > 0);
//! # Ok::<(), rill_core::RillError>(())
//! ```

use std::any::Any;
use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::error::{Result, RillError};
use crate::scalar::ScalarValue;

/// The heap bytes a state value owns beyond its inline size (for memory accounting).
/// Plain values (numbers, `bool`) own none: implement it with the default, e.g.
/// `impl StateSize for MyCounter {}`.
pub trait StateSize {
    /// Bytes owned on the heap. Default: none.
    fn heap_bytes(&self) -> usize {
        0
    }
}

macro_rules! plain_state_size {
    ($($t:ty),*) => { $(impl StateSize for $t {})* };
}
plain_state_size!(
    i8,
    i16,
    i32,
    i64,
    i128,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    isize,
    f32,
    f64,
    bool,
    char,
    ()
);

impl StateSize for String {
    fn heap_bytes(&self) -> usize {
        self.capacity()
    }
}

impl<T: StateSize> StateSize for Vec<T> {
    fn heap_bytes(&self) -> usize {
        self.capacity() * std::mem::size_of::<T>() + self.iter().map(StateSize::heap_bytes).sum::<usize>()
    }
}

impl<T: StateSize> StateSize for Option<T> {
    fn heap_bytes(&self) -> usize {
        self.as_ref().map_or(0, StateSize::heap_bytes)
    }
}

impl<A: StateSize, B: StateSize> StateSize for (A, B) {
    fn heap_bytes(&self) -> usize {
        self.0.heap_bytes() + self.1.heap_bytes()
    }
}

impl<A: StateSize, B: StateSize, C: StateSize> StateSize for (A, B, C) {
    fn heap_bytes(&self) -> usize {
        self.0.heap_bytes() + self.1.heap_bytes() + self.2.heap_bytes()
    }
}

impl StateSize for ScalarValue {
    fn heap_bytes(&self) -> usize {
        match self {
            ScalarValue::Utf8(Some(s)) => s.capacity(),
            _ => 0,
        }
    }
}

/// What a state value must be: cloneable, sendable, sized for accounting.
pub trait StateValue: Clone + Send + StateSize + 'static {}
impl<T: Clone + Send + StateSize + 'static> StateValue for T {}

fn bytes_of<T: StateSize>(v: &T) -> usize {
    std::mem::size_of::<T>() + v.heap_bytes()
}

/// Which clock a timer is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeDomain {
    /// Fires when the watermark passes the timer's time (`watermark > t`).
    EventTime,
    /// Fires when the wall clock reaches the timer's time (`now >= t`).
    ProcessingTime,
}

struct Entry {
    value: Box<dyn Any + Send>,
    bytes: usize,
}

/// A key: its row encoding (bytes) as the operator computed it.
pub type KeyBytes = Vec<u8>;

/// The in-memory keyed state backend: key group → key → named state, plus the timers.
pub struct KeyedStateBackend {
    max_parallelism: u32,
    budget: usize,
    used: usize,
    groups: HashMap<u32, HashMap<KeyBytes, HashMap<String, Entry>>>,
    event_timers: BTreeSet<(i64, KeyBytes)>,
    processing_timers: BTreeSet<(i64, KeyBytes)>,
}

impl std::fmt::Debug for KeyedStateBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedStateBackend")
            .field("max_parallelism", &self.max_parallelism)
            .field("used", &self.used)
            .field("budget", &self.budget)
            .finish()
    }
}

/// FNV-1a: a hash that is the same in every process and run (unlike `std`'s).
fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl KeyedStateBackend {
    /// A backend with `max_parallelism` key groups (at least 1) holding at most
    /// `budget_bytes` of state.
    pub fn new(max_parallelism: u32, budget_bytes: usize) -> Self {
        KeyedStateBackend {
            max_parallelism: max_parallelism.max(1),
            budget: budget_bytes,
            used: 0,
            groups: HashMap::new(),
            event_timers: BTreeSet::new(),
            processing_timers: BTreeSet::new(),
        }
    }

    /// The key group of `key`: `hash(key) mod max_parallelism`.
    ///
    /// # Examples
    /// ```
    /// use rill_core::datastream::KeyedStateBackend;
    /// let b = KeyedStateBackend::new(128, 1024);
    /// assert!(b.key_group(b"k") < 128);
    /// assert_eq!(b.key_group(b"k"), b.key_group(b"k"));
    /// ```
    pub fn key_group(&self, key: &[u8]) -> u32 {
        (stable_hash(key) % u64::from(self.max_parallelism)) as u32
    }

    /// Bytes of state held (see the module docs for what is counted).
    pub fn used_bytes(&self) -> usize {
        self.used
    }

    /// The number of keys with some state.
    pub fn num_keys(&self) -> usize {
        self.groups.values().map(HashMap::len).sum()
    }

    /// A context scoped to `key`, with the current watermark and processing time (ms).
    pub fn context<'a>(&'a mut self, key: &'a [u8], watermark: Option<i64>, processing_time: i64) -> KeyedContext<'a> {
        KeyedContext {
            backend: self,
            key,
            watermark,
            processing_time,
        }
    }

    fn charge(&mut self, delta: isize, what: &str) -> Result<()> {
        let next = self.used.saturating_add_signed(delta);
        if delta > 0 && next > self.budget {
            return Err(RillError::invalid_argument(
                "keyed state",
                format!(
                    "updating {what} would hold {next} bytes of state, over the budget of {} bytes \
                     (raise it with KeyedStream::state_budget_bytes, or keep less state per key)",
                    self.budget
                ),
            ));
        }
        self.used = next;
        Ok(())
    }

    fn get<T: 'static>(&self, key: &[u8], name: &str) -> Result<Option<&T>> {
        let group = self.key_group(key);
        let Some(entry) = self
            .groups
            .get(&group)
            .and_then(|g| g.get(key))
            .and_then(|k| k.get(name))
        else {
            return Ok(None);
        };
        entry
            .value
            .downcast_ref::<T>()
            .map(Some)
            .ok_or_else(|| type_error::<T>(name))
    }

    /// Runs `f` on the value of state `name` of `key` (created by `init` if absent); `f`
    /// returns its result and the change in bytes it made.
    fn update<T: Send + 'static, R>(
        &mut self,
        key: &[u8],
        name: &str,
        init: impl FnOnce() -> (T, usize),
        f: impl FnOnce(&mut T) -> (R, isize),
    ) -> Result<R> {
        let group = self.key_group(key);
        let states = self.groups.entry(group).or_default();
        let mut new_key_bytes = 0isize;
        if !states.contains_key(key) {
            new_key_bytes = key.len() as isize;
            states.insert(key.to_vec(), HashMap::new());
        }
        let named = states
            .get_mut(key)
            .ok_or_else(|| crate::internal_err!("state of a key vanished"))?;
        let mut created = 0isize;
        if !named.contains_key(name) {
            let (v, bytes) = init();
            created = (bytes + name.len()) as isize;
            named.insert(
                name.to_string(),
                Entry {
                    value: Box::new(v),
                    bytes: bytes + name.len(),
                },
            );
        }
        let entry = named
            .get_mut(name)
            .ok_or_else(|| crate::internal_err!("state entry vanished"))?;
        let value = entry.value.downcast_mut::<T>().ok_or_else(|| type_error::<T>(name))?;
        let (r, delta) = f(value);
        entry.bytes = entry.bytes.saturating_add_signed(delta);
        self.charge(new_key_bytes + created + delta, name)?;
        Ok(r)
    }

    fn put<T: Send + 'static>(&mut self, key: &[u8], name: &str, value: T, bytes: usize) -> Result<()> {
        let group = self.key_group(key);
        let states = self.groups.entry(group).or_default();
        let mut delta = 0isize;
        if !states.contains_key(key) {
            delta += key.len() as isize;
            states.insert(key.to_vec(), HashMap::new());
        }
        let named = states
            .get_mut(key)
            .ok_or_else(|| crate::internal_err!("state of a key vanished"))?;
        let entry = Entry {
            value: Box::new(value),
            bytes: bytes + name.len(),
        };
        delta += entry.bytes as isize;
        if let Some(old) = named.insert(name.to_string(), entry) {
            if !old.value.is::<T>() {
                return Err(type_error::<T>(name));
            }
            delta -= old.bytes as isize;
        }
        self.charge(delta, name)
    }

    fn remove(&mut self, key: &[u8], name: &str) {
        let group = self.key_group(key);
        let Some(states) = self.groups.get_mut(&group) else {
            return;
        };
        let mut freed = 0usize;
        let mut key_empty = false;
        if let Some(named) = states.get_mut(key) {
            if let Some(e) = named.remove(name) {
                freed += e.bytes;
            }
            key_empty = named.is_empty();
        }
        if key_empty {
            states.remove(key);
            freed += key.len();
        }
        self.used = self.used.saturating_sub(freed);
    }

    fn register_timer(&mut self, domain: TimeDomain, key: &[u8], ts: i64) -> Result<()> {
        let set = match domain {
            TimeDomain::EventTime => &mut self.event_timers,
            TimeDomain::ProcessingTime => &mut self.processing_timers,
        };
        if set.insert((ts, key.to_vec())) {
            self.charge((16 + key.len()) as isize, "a timer")?;
        }
        Ok(())
    }

    fn delete_timer(&mut self, domain: TimeDomain, key: &[u8], ts: i64) {
        let set = match domain {
            TimeDomain::EventTime => &mut self.event_timers,
            TimeDomain::ProcessingTime => &mut self.processing_timers,
        };
        if set.remove(&(ts, key.to_vec())) {
            self.used = self.used.saturating_sub(16 + key.len());
        }
    }

    /// Removes and returns the earliest timer of `domain` that is due: an event-time timer
    /// `t` is due when `t < watermark` (the watermark passed it), a processing-time timer
    /// when `t <= now`. Callers loop until `None`, so timers registered while firing fire
    /// too, in timestamp order.
    pub fn pop_due_timer(&mut self, domain: TimeDomain, time: i64) -> Option<(i64, KeyBytes)> {
        let set = match domain {
            TimeDomain::EventTime => &mut self.event_timers,
            TimeDomain::ProcessingTime => &mut self.processing_timers,
        };
        let first = set.first()?;
        let due = match domain {
            TimeDomain::EventTime => first.0 < time,
            TimeDomain::ProcessingTime => first.0 <= time,
        };
        if !due {
            return None;
        }
        let t = set.pop_first()?;
        self.used = self.used.saturating_sub(16 + t.1.len());
        Some(t)
    }

    /// The number of pending timers of `domain`.
    pub fn num_timers(&self, domain: TimeDomain) -> usize {
        match domain {
            TimeDomain::EventTime => self.event_timers.len(),
            TimeDomain::ProcessingTime => self.processing_timers.len(),
        }
    }
}

fn type_error<T>(name: &str) -> RillError {
    RillError::invalid_argument(
        "keyed state",
        format!(
            "state '{name}' was used with another type than {}",
            std::any::type_name::<T>()
        ),
    )
}

/// The view of the state backend a keyed process function gets: scoped to the current key,
/// with the current watermark, processing time and the timer service.
pub struct KeyedContext<'a> {
    backend: &'a mut KeyedStateBackend,
    key: &'a [u8],
    watermark: Option<i64>,
    processing_time: i64,
}

impl KeyedContext<'_> {
    /// The current key's row encoding.
    pub fn key_bytes(&self) -> &[u8] {
        self.key
    }

    /// The current key's key group.
    pub fn key_group(&self) -> u32 {
        self.backend.key_group(self.key)
    }

    /// The current watermark (ms; `None` before the first one).
    pub fn current_watermark(&self) -> Option<i64> {
        self.watermark
    }

    /// The wall-clock time (ms since the epoch) when this call began.
    pub fn current_processing_time(&self) -> i64 {
        self.processing_time
    }

    /// Calls `on_timer` for this key once the watermark passes `ts` (`watermark > ts`).
    /// Registering the same time twice gives one call.
    ///
    /// # Errors
    /// The state budget would be exceeded.
    pub fn register_event_time_timer(&mut self, ts: i64) -> Result<()> {
        self.backend.register_timer(TimeDomain::EventTime, self.key, ts)
    }

    /// Calls `on_timer` for this key once the wall clock reaches `ts` (ms since the epoch).
    ///
    /// # Errors
    /// The state budget would be exceeded.
    pub fn register_processing_time_timer(&mut self, ts: i64) -> Result<()> {
        self.backend.register_timer(TimeDomain::ProcessingTime, self.key, ts)
    }

    /// Deletes this key's event-time timer at `ts`, if any.
    pub fn delete_event_time_timer(&mut self, ts: i64) {
        self.backend.delete_timer(TimeDomain::EventTime, self.key, ts);
    }

    /// Deletes this key's processing-time timer at `ts`, if any.
    pub fn delete_processing_time_timer(&mut self, ts: i64) {
        self.backend.delete_timer(TimeDomain::ProcessingTime, self.key, ts);
    }
}

/// One value per key.
#[derive(Debug, Clone)]
pub struct ValueState<T> {
    name: String,
    _t: PhantomData<fn() -> T>,
}

impl<T: StateValue> ValueState<T> {
    /// The state called `name` (names are per function; one type per name).
    pub fn new(name: &str) -> Self {
        ValueState {
            name: name.to_string(),
            _t: PhantomData,
        }
    }

    /// The current key's value.
    ///
    /// # Errors
    /// The name was used with another type.
    pub fn get(&self, ctx: &KeyedContext<'_>) -> Result<Option<T>> {
        Ok(ctx.backend.get::<T>(ctx.key, &self.name)?.cloned())
    }

    /// Sets the current key's value.
    ///
    /// # Errors
    /// Another type under this name, or the state budget would be exceeded.
    pub fn set(&self, ctx: &mut KeyedContext<'_>, value: T) -> Result<()> {
        let bytes = bytes_of(&value);
        ctx.backend.put(ctx.key, &self.name, value, bytes)
    }

    /// Removes the current key's value.
    pub fn clear(&self, ctx: &mut KeyedContext<'_>) {
        ctx.backend.remove(ctx.key, &self.name);
    }
}

/// A list of values per key.
#[derive(Debug, Clone)]
pub struct ListState<T> {
    name: String,
    _t: PhantomData<fn() -> T>,
}

impl<T: StateValue> ListState<T> {
    /// The state called `name`.
    pub fn new(name: &str) -> Self {
        ListState {
            name: name.to_string(),
            _t: PhantomData,
        }
    }

    /// Appends to the current key's list.
    ///
    /// # Errors
    /// Another type under this name, or the state budget would be exceeded.
    pub fn add(&self, ctx: &mut KeyedContext<'_>, value: T) -> Result<()> {
        let b = bytes_of(&value) as isize;
        ctx.backend.update::<Vec<T>, ()>(
            ctx.key,
            &self.name,
            || (Vec::new(), std::mem::size_of::<Vec<T>>()),
            |v| {
                v.push(value);
                ((), b)
            },
        )
    }

    /// The current key's list (empty if none).
    ///
    /// # Errors
    /// Another type under this name.
    pub fn get(&self, ctx: &KeyedContext<'_>) -> Result<Vec<T>> {
        Ok(ctx
            .backend
            .get::<Vec<T>>(ctx.key, &self.name)?
            .cloned()
            .unwrap_or_default())
    }

    /// Removes the current key's list.
    pub fn clear(&self, ctx: &mut KeyedContext<'_>) {
        ctx.backend.remove(ctx.key, &self.name);
    }
}

/// A map per key.
#[derive(Debug, Clone)]
pub struct MapState<K, V> {
    name: String,
    _t: PhantomData<fn() -> (K, V)>,
}

impl<K: StateValue + Hash + Eq, V: StateValue> MapState<K, V> {
    /// The state called `name`.
    pub fn new(name: &str) -> Self {
        MapState {
            name: name.to_string(),
            _t: PhantomData,
        }
    }

    /// Sets `key → value` in the current key's map.
    ///
    /// # Errors
    /// Another type under this name, or the state budget would be exceeded.
    pub fn put(&self, ctx: &mut KeyedContext<'_>, key: K, value: V) -> Result<()> {
        let b = (bytes_of(&key) + bytes_of(&value)) as isize;
        ctx.backend.update::<HashMap<K, V>, ()>(
            ctx.key,
            &self.name,
            || (HashMap::new(), std::mem::size_of::<HashMap<K, V>>()),
            |m| match m.insert(key, value) {
                Some(old) => ((), b - (bytes_of(&old) as isize) - std::mem::size_of::<K>() as isize),
                None => ((), b),
            },
        )
    }

    /// The value under `key` in the current key's map.
    ///
    /// # Errors
    /// Another type under this name.
    pub fn get(&self, ctx: &KeyedContext<'_>, key: &K) -> Result<Option<V>> {
        Ok(ctx
            .backend
            .get::<HashMap<K, V>>(ctx.key, &self.name)?
            .and_then(|m| m.get(key).cloned()))
    }

    /// Removes `key` from the current key's map.
    ///
    /// # Errors
    /// Another type under this name.
    pub fn remove(&self, ctx: &mut KeyedContext<'_>, key: &K) -> Result<Option<V>> {
        if ctx.backend.get::<HashMap<K, V>>(ctx.key, &self.name)?.is_none() {
            return Ok(None);
        }
        ctx.backend.update::<HashMap<K, V>, Option<V>>(
            ctx.key,
            &self.name,
            || (HashMap::new(), 0),
            |m| match m.remove_entry(key) {
                Some((k, v)) => {
                    let freed = (bytes_of(&k) + bytes_of(&v)) as isize;
                    (Some(v), -freed)
                }
                None => (None, 0),
            },
        )
    }

    /// All entries of the current key's map (in no particular order).
    ///
    /// # Errors
    /// Another type under this name.
    pub fn entries(&self, ctx: &KeyedContext<'_>) -> Result<Vec<(K, V)>> {
        Ok(ctx
            .backend
            .get::<HashMap<K, V>>(ctx.key, &self.name)?
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    /// Removes the current key's map.
    pub fn clear(&self, ctx: &mut KeyedContext<'_>) {
        ctx.backend.remove(ctx.key, &self.name);
    }
}

type ReduceFn<T> = Arc<dyn Fn(&T, &T) -> T + Send + Sync>;
type CreateFn<Acc> = Arc<dyn Fn() -> Acc + Send + Sync>;
type AddFn<In, Acc> = Arc<dyn Fn(&mut Acc, In) + Send + Sync>;
type ResultFn<Acc, Out> = Arc<dyn Fn(&Acc) -> Out + Send + Sync>;

/// One value per key, combined with each added value by a reduce function.
#[derive(Clone)]
pub struct ReducingState<T> {
    inner: ValueState<T>,
    reduce: ReduceFn<T>,
}

impl<T> std::fmt::Debug for ReducingState<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReducingState({})", self.inner.name)
    }
}

impl<T: StateValue> ReducingState<T> {
    /// The state called `name`, combining values with `reduce`.
    pub fn new(name: &str, reduce: impl Fn(&T, &T) -> T + Send + Sync + 'static) -> Self {
        ReducingState {
            inner: ValueState::new(name),
            reduce: Arc::new(reduce),
        }
    }

    /// Combines `value` into the current key's value.
    ///
    /// # Errors
    /// Another type under this name, or the state budget would be exceeded.
    pub fn add(&self, ctx: &mut KeyedContext<'_>, value: T) -> Result<()> {
        let next = match self.inner.get(ctx)? {
            Some(acc) => (self.reduce)(&acc, &value),
            None => value,
        };
        self.inner.set(ctx, next)
    }

    /// The current key's value.
    ///
    /// # Errors
    /// Another type under this name.
    pub fn get(&self, ctx: &KeyedContext<'_>) -> Result<Option<T>> {
        self.inner.get(ctx)
    }

    /// Removes the current key's value.
    pub fn clear(&self, ctx: &mut KeyedContext<'_>) {
        self.inner.clear(ctx);
    }
}

/// An accumulator per key: inputs are added to it, and the result is computed from it.
#[derive(Clone)]
pub struct AggregatingState<In, Acc, Out> {
    inner: ValueState<Acc>,
    create: CreateFn<Acc>,
    add: AddFn<In, Acc>,
    result: ResultFn<Acc, Out>,
}

impl<In, Acc, Out> std::fmt::Debug for AggregatingState<In, Acc, Out> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AggregatingState({})", self.inner.name)
    }
}

impl<In, Acc: StateValue, Out> AggregatingState<In, Acc, Out> {
    /// The state called `name`: `create` makes an empty accumulator, `add` folds an input
    /// into it, `result` reads the output.
    pub fn new(
        name: &str,
        create: impl Fn() -> Acc + Send + Sync + 'static,
        add: impl Fn(&mut Acc, In) + Send + Sync + 'static,
        result: impl Fn(&Acc) -> Out + Send + Sync + 'static,
    ) -> Self {
        AggregatingState {
            inner: ValueState::new(name),
            create: Arc::new(create),
            add: Arc::new(add),
            result: Arc::new(result),
        }
    }

    /// Adds `input` to the current key's accumulator.
    ///
    /// # Errors
    /// Another type under this name, or the state budget would be exceeded.
    pub fn add(&self, ctx: &mut KeyedContext<'_>, input: In) -> Result<()> {
        let mut acc = match self.inner.get(ctx)? {
            Some(a) => a,
            None => (self.create)(),
        };
        (self.add)(&mut acc, input);
        self.inner.set(ctx, acc)
    }

    /// The current key's result (`None` if nothing was added).
    ///
    /// # Errors
    /// Another type under this name.
    pub fn get(&self, ctx: &KeyedContext<'_>) -> Result<Option<Out>> {
        Ok(self.inner.get(ctx)?.map(|a| (self.result)(&a)))
    }

    /// Removes the current key's accumulator.
    pub fn clear(&self, ctx: &mut KeyedContext<'_>) {
        self.inner.clear(ctx);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn states_are_per_key_and_accounted() {
        let mut b = KeyedStateBackend::new(8, 10_000);
        let v: ValueState<i64> = ValueState::new("v");
        let m: MapState<String, i64> = MapState::new("m");
        let r = ReducingState::new("r", |a: &i64, b: &i64| a.max(b).to_owned());
        let agg = AggregatingState::new(
            "a",
            || (0i64, 0i64),
            |acc: &mut (i64, i64), x: i64| {
                acc.0 += x;
                acc.1 += 1
            },
            |acc| acc.0 as f64 / acc.1 as f64,
        );
        for (key, x) in [(&b"a"[..], 1), (b"b", 10), (b"a", 3)] {
            let mut ctx = b.context(key, None, 0);
            let old = v.get(&ctx).unwrap().unwrap_or(0);
            v.set(&mut ctx, old + x).unwrap();
            m.put(&mut ctx, format!("x{x}"), x).unwrap();
            r.add(&mut ctx, x).unwrap();
            agg.add(&mut ctx, x).unwrap();
        }
        let ctx = b.context(b"a", None, 0);
        assert_eq!(v.get(&ctx).unwrap(), Some(4));
        assert_eq!(r.get(&ctx).unwrap(), Some(3));
        assert_eq!(agg.get(&ctx).unwrap(), Some(2.0));
        assert_eq!(m.entries(&ctx).unwrap().len(), 2);
        let used = b.used_bytes();
        assert!(used > 0);
        let mut ctx = b.context(b"a", None, 0);
        v.clear(&mut ctx);
        m.clear(&mut ctx);
        r.clear(&mut ctx);
        agg.clear(&mut ctx);
        assert!(b.used_bytes() < used);
        assert_eq!(b.num_keys(), 1);
    }

    #[test]
    fn budget_is_enforced_with_a_clear_error() {
        let mut b = KeyedStateBackend::new(8, 200);
        let l: ListState<String> = ListState::new("l");
        let mut ctx = b.context(b"k", None, 0);
        let err = (0..100)
            .map(|i| l.add(&mut ctx, format!("value number {i}")))
            .find_map(Result::err)
            .unwrap();
        assert!(err.to_string().contains("budget"), "{err}");
    }

    #[test]
    fn wrong_type_is_an_error_and_timers_fire_in_order() {
        let mut b = KeyedStateBackend::new(8, 10_000);
        let mut ctx = b.context(b"k", None, 0);
        ValueState::<i64>::new("x").set(&mut ctx, 1).unwrap();
        assert!(ValueState::<String>::new("x").get(&ctx).is_err());
        ctx.register_event_time_timer(20).unwrap();
        ctx.register_event_time_timer(10).unwrap();
        ctx.register_event_time_timer(10).unwrap();
        ctx.register_processing_time_timer(5).unwrap();
        assert_eq!(b.num_timers(TimeDomain::EventTime), 2);
        assert_eq!(
            b.pop_due_timer(TimeDomain::EventTime, 10),
            None,
            "watermark 10 does not pass 10"
        );
        assert_eq!(b.pop_due_timer(TimeDomain::EventTime, 21).map(|t| t.0), Some(10));
        assert_eq!(b.pop_due_timer(TimeDomain::EventTime, 21).map(|t| t.0), Some(20));
        assert_eq!(b.pop_due_timer(TimeDomain::ProcessingTime, 5).map(|t| t.0), Some(5));
    }
}
