//! Pure, deterministic, column-wise generation of Nexmark events.
//!
//! Event `n` (0, 1, 2, …) is a person, an auction or a bid by `n mod 50` (with the default
//! proportions 1:3:46: 0 → person, 1..=3 → auction, 4..=49 → bid); its event time is
//! `base_time + floor(n · 1000 / rate)` ms. Ids follow from `n` alone, as in the reference
//! generator (Apache Beam's and Flink's nexmark `GeneratorConfig`, `PersonGenerator`,
//! `AuctionGenerator`, `BidGenerator`): the person of event `n` has id
//! `1000 + (number of people before n)`, the auction likewise from 1000, so ids are dense and
//! increase with `n`. Bids go with probability `1 - 1/hot_auction_ratio` to the latest "hot"
//! auction (one in 100 auction ids), otherwise to one of the last `num_in_flight_auctions`
//! auctions; bidders and sellers are hot people (one in 100 person ids) with probability
//! `1 - 1/hot_*_ratio`, otherwise one of the last `num_active_people` people. Auctions expire
//! within about twice the event time it takes to open `num_in_flight_auctions` more auctions.
//! Prices are `round(100 · 10^(6u))` for a uniform `u`, i.e. log-uniform from 1.00 to
//! 1,000,000.00 (in cents). Bids come from four hot channels half of the time, otherwise from
//! one of 10,000 `channel-<k>` channels with a URL of their own. Names, cities and states come
//! from small fixed lists; `extra` pads each row towards an average size.
//!
//! # Randomness and parallelism
//!
//! Every random value of a row is drawn from a SplitMix64 generator seeded from
//! `(seed, event number, column)`. So any range of events generates independently of the
//! others and equals the same range cut out of a full run (parallel subtasks split the event
//! range without coordination), and a column that is not projected is not generated at all.
//!
//! # Departures from the reference generator
//!
//! - **Random numbers**: SplitMix64 per (seed, event, column) instead of one
//!   `java.util.Random` per generator, so the concrete values differ from Beam's and Flink's
//!   (the distributions are the same).
//! - **No look-ahead ids**: the reference may pick a bidder or seller up to 10 person ids and
//!   an auction up to 10 auction ids *beyond* the last generated one (`PERSON_ID_LEAD`,
//!   `AUCTION_ID_LEAD`); here every bid's auction and bidder and every auction's seller has
//!   been generated at or before that event, so joins never miss.
//! - **Hot bidder**: the reference's hot bidder is `(last person / 100) · 100 + 1`, which may be
//!   a person not yet generated; here it is capped at the last person.
//! - **Event time**: a constant rate (the reference can also vary it in sine or square
//!   shapes), exact integer arithmetic, and a fixed default base time instead of the wall
//!   clock; no out-of-order event groups.
//! - **`extra` size**: the padding targets `avg_*_byte_size` minus the *average* size of the
//!   row's other fields (not the actual one), so that `extra` does not depend on the other
//!   columns; its length is still uniform within ±20 % of that target.
//! - **Channel URLs** are a pure function of `(seed, channel)` rather than a cache filled from
//!   the shared random stream.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringBuilder, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use super::{NexmarkConfig, NexmarkError, Result};

/// The id of the first person.
pub const FIRST_PERSON_ID: i64 = 1000;
/// The id of the first auction.
pub const FIRST_AUCTION_ID: i64 = 1000;
/// The first auction category.
pub const FIRST_CATEGORY_ID: i64 = 10;
/// The number of auction categories.
pub const NUM_CATEGORIES: u64 = 5;
/// One in this many auctions is hot.
const HOT_AUCTION_RATIO: u64 = 100;
/// One in this many people is a hot seller.
const HOT_SELLER_RATIO: u64 = 100;
/// One in this many people is a hot bidder.
const HOT_BIDDER_RATIO: u64 = 100;
/// `1 - 1/HOT_CHANNELS_RATIO` of the bids come from a hot channel.
const HOT_CHANNELS_RATIO: u64 = 2;
/// The number of ordinary channels.
const CHANNELS_NUMBER: u64 = 10_000;

const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];
const CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
const STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];

/// Average byte sizes of the fields other than `extra`, counted as the reference counts them
/// (8 per number, the length of strings): what `extra` pads up from.
const PERSON_NOMINAL_BYTES: u64 = 8 + 11 + 13 + 19 + 7 + 2;
const AUCTION_NOMINAL_BYTES: u64 = 8 + 11 + 51 + 5 * 8;
const BID_NOMINAL_BYTES: u64 = 4 * 8;

/// Random streams: one per generated column (and helper), so columns are independent.
mod stream {
    pub const PERSON_NAME: u64 = 1;
    pub const PERSON_EMAIL: u64 = 2;
    pub const PERSON_CARD: u64 = 3;
    pub const PERSON_CITY: u64 = 4;
    pub const PERSON_STATE: u64 = 5;
    pub const PERSON_EXTRA: u64 = 6;
    pub const AUCTION_NAME: u64 = 11;
    pub const AUCTION_DESC: u64 = 12;
    pub const AUCTION_INITIAL: u64 = 13;
    pub const AUCTION_RESERVE: u64 = 14;
    pub const AUCTION_EXPIRES: u64 = 15;
    pub const AUCTION_SELLER: u64 = 16;
    pub const AUCTION_CATEGORY: u64 = 17;
    pub const AUCTION_EXTRA: u64 = 18;
    pub const BID_AUCTION: u64 = 21;
    pub const BID_BIDDER: u64 = 22;
    pub const BID_PRICE: u64 = 23;
    pub const BID_CHANNEL: u64 = 24;
    pub const BID_EXTRA: u64 = 25;
    pub const CHANNEL_URL: u64 = 31;
    pub const HOT_CHANNEL_URL: u64 = 32;
}

/// The kind of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A new person.
    Person,
    /// A new auction.
    Auction,
    /// A bid on an auction.
    Bid,
}

/// The `[start, end)` offsets of `kind` within one cycle of `total_proportion()` events.
fn kind_offsets(config: &NexmarkConfig, kind: EventKind) -> (u64, u64) {
    let p = config.person_proportion;
    let a = config.auction_proportion;
    match kind {
        EventKind::Person => (0, p),
        EventKind::Auction => (p, p + a),
        EventKind::Bid => (p + a, config.total_proportion()),
    }
}

/// The kind of event `event`.
///
/// ```
/// use rill_benchmarks::nexmark::{event_kind, EventKind, NexmarkConfig};
///
/// let c = NexmarkConfig::default();
/// assert_eq!(event_kind(&c, 0), EventKind::Person);
/// assert_eq!(event_kind(&c, 3), EventKind::Auction);
/// assert_eq!(event_kind(&c, 4), EventKind::Bid);
/// assert_eq!(event_kind(&c, 50), EventKind::Person);
/// ```
pub fn event_kind(config: &NexmarkConfig, event: u64) -> EventKind {
    let offset = event % config.total_proportion().max(1);
    if offset < config.person_proportion {
        EventKind::Person
    } else if offset < config.person_proportion + config.auction_proportion {
        EventKind::Auction
    } else {
        EventKind::Bid
    }
}

/// The number of events of `kind` before event `end`.
fn kind_count_before(config: &NexmarkConfig, kind: EventKind, end: u64) -> u64 {
    let total = config.total_proportion().max(1);
    let (lo, hi) = kind_offsets(config, kind);
    (end / total) * (hi - lo) + (end % total).clamp(lo, hi) - lo
}

/// The number of events of `kind` among events `first..last`.
///
/// ```
/// use rill_benchmarks::nexmark::{events_of_kind, EventKind, NexmarkConfig};
///
/// let c = NexmarkConfig::default();
/// assert_eq!(events_of_kind(&c, EventKind::Bid, 0, 100), 92);
/// assert_eq!(events_of_kind(&c, EventKind::Auction, 0, 3), 2);
/// ```
pub fn events_of_kind(config: &NexmarkConfig, kind: EventKind, first: u64, last: u64) -> u64 {
    kind_count_before(config, kind, last).saturating_sub(kind_count_before(config, kind, first.min(last)))
}

/// The event numbers of `kind` among `first..last`, in order.
pub(crate) fn kind_events(config: &NexmarkConfig, kind: EventKind, first: u64, last: u64) -> Vec<u64> {
    let total = config.total_proportion().max(1);
    let (lo, hi) = kind_offsets(config, kind);
    let mut events = Vec::with_capacity(usize::try_from(events_of_kind(config, kind, first, last)).unwrap_or(0));
    if first >= last {
        return events;
    }
    for epoch in first / total..=(last - 1) / total {
        let base = epoch * total;
        let start = (base + lo).max(first);
        let end = base.saturating_add(hi).min(last);
        events.extend(start..end);
    }
    events
}

/// The 0-based number of the last person generated at or before event `event`.
fn last_base0_person_id(config: &NexmarkConfig, event: u64) -> u64 {
    let total = config.total_proportion().max(1);
    let p = config.person_proportion;
    let offset = (event % total).min(p - 1);
    (event / total) * p + offset
}

/// The 0-based number of the last auction generated at or before event `event`, for an event
/// that is not before the first auction (any auction or bid event).
fn last_base0_auction_id(config: &NexmarkConfig, event: u64) -> u64 {
    let total = config.total_proportion().max(1);
    let p = config.person_proportion;
    let a = config.auction_proportion;
    let epoch = event / total;
    let offset = event % total;
    if offset < p {
        // A person event: the last auction is the last of the previous cycle.
        (epoch * a).saturating_sub(1)
    } else {
        epoch * a + (offset - p).min(a - 1)
    }
}

/// The event time of event `event`, milliseconds since the epoch:
/// `base_time_ms + floor(event · 1000 / first_event_rate)`.
///
/// ```
/// use rill_benchmarks::nexmark::generator::event_timestamp_ms;
/// use rill_benchmarks::nexmark::NexmarkConfig;
///
/// let c = NexmarkConfig { first_event_rate: 1_000, base_time_ms: 0, ..NexmarkConfig::default() };
/// assert_eq!(event_timestamp_ms(&c, 0), 0);
/// assert_eq!(event_timestamp_ms(&c, 1_500), 1_500);
/// ```
pub fn event_timestamp_ms(config: &NexmarkConfig, event: u64) -> i64 {
    let offset = u128::from(event) * 1000 / u128::from(config.first_event_rate.max(1));
    config
        .base_time_ms
        .saturating_add(i64::try_from(offset).unwrap_or(i64::MAX))
}

/// SplitMix64's output function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// A SplitMix64 generator for one (seed, event, stream).
#[derive(Debug, Clone, Copy)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64, event: u64, stream: u64) -> Self {
        let s = mix(seed ^ 0x6A09_E667_F3BC_C908);
        let e = mix(event.wrapping_mul(GOLDEN_GAMMA) ^ s);
        Rng(mix(e ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03)))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN_GAMMA);
        mix(self.0)
    }

    /// Uniform in `0..n` (0 when `n` is 0), by multiply-shift.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A list element.
    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len() as u64) as usize]
    }
}

/// A price in cents: `round(100 · 10^(6u))`, 100 to 100,000,000.
fn next_price(rng: &mut Rng) -> i64 {
    (10f64.powf(rng.unit() * 6.0) * 100.0).round() as i64
}

/// Appends a string of 3 to `max_len - 1` lowercase letters, about one in 13 of them a
/// `space` instead.
fn push_string(rng: &mut Rng, max_len: u64, space: char, buf: &mut String) {
    let len = 3 + rng.below(max_len.saturating_sub(3).max(1));
    for _ in 0..len {
        let x = rng.below(13 * 26) as u8;
        buf.push(if x < 26 { space } else { (b'a' + x % 26) as char });
    }
}

/// Appends the `extra` padding: about `avg - nominal` lowercase letters (uniform within ±20 %),
/// eight letters per random draw.
fn push_extra(rng: &mut Rng, nominal: u64, avg: u64, buf: &mut String) {
    if nominal >= avg {
        return;
    }
    let desired = avg - nominal;
    let delta = (desired as f64 * 0.2).round() as u64;
    let len = desired - delta + if delta == 0 { 0 } else { rng.below(2 * delta) };
    let mut left = len;
    while left > 0 {
        let word = rng.next_u64().to_le_bytes();
        for &b in word.iter().take(left.min(8) as usize) {
            buf.push((b'a' + ((u32::from(b) * 26) >> 8) as u8) as char);
        }
        left = left.saturating_sub(8);
    }
}

/// Appends the base URL of a channel: `https://www.nexmark.com/<a>/<b>/<c>/item.htm?query=1`.
fn push_base_url(rng: &mut Rng, buf: &mut String) {
    buf.push_str("https://www.nexmark.com/");
    for _ in 0..3 {
        push_string(rng, 5, '_', buf);
        buf.push('/');
    }
    buf.push_str("item.htm?query=1");
}

/// Appends `value` as decimal digits, zero-padded to `width`.
fn push_padded(value: u64, width: usize, buf: &mut String) {
    let mut digits = [b'0'; 20];
    let mut v = value;
    let mut n = 0;
    while v > 0 || n == 0 {
        digits[n] = b'0' + (v % 10) as u8;
        v /= 10;
        n += 1;
    }
    for _ in n..width {
        buf.push('0');
    }
    for &d in digits[..n].iter().rev() {
        buf.push(d as char);
    }
}

/// A random person id (0-based) among the last `num_active_people` at event `event`.
fn next_base0_person_id(config: &NexmarkConfig, event: u64, rng: &mut Rng) -> u64 {
    let people = last_base0_person_id(config, event) + 1;
    let active = people.min(config.num_active_people);
    people - active + rng.below(active)
}

/// A random auction id (0-based) among the last `num_in_flight_auctions` at event `event`.
fn next_base0_auction_id(config: &NexmarkConfig, event: u64, rng: &mut Rng) -> u64 {
    let max = last_base0_auction_id(config, event);
    let min = max.saturating_sub(config.num_in_flight_auctions);
    min + rng.below(max - min + 1)
}

/// The schema of the `person` table.
pub fn person_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("email_address", DataType::Utf8, false),
        Field::new("credit_card", DataType::Utf8, false),
        Field::new("city", DataType::Utf8, false),
        Field::new("state", DataType::Utf8, false),
        Field::new("date_time", timestamp_type(), false),
        Field::new("extra", DataType::Utf8, false),
    ]))
}

/// The schema of the `auction` table.
pub fn auction_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("item_name", DataType::Utf8, false),
        Field::new("description", DataType::Utf8, false),
        Field::new("initial_bid", DataType::Int64, false),
        Field::new("reserve", DataType::Int64, false),
        Field::new("date_time", timestamp_type(), false),
        Field::new("expires", timestamp_type(), false),
        Field::new("seller", DataType::Int64, false),
        Field::new("category", DataType::Int64, false),
        Field::new("extra", DataType::Utf8, false),
    ]))
}

/// The schema of the `bid` table.
pub fn bid_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("auction", DataType::Int64, false),
        Field::new("bidder", DataType::Int64, false),
        Field::new("price", DataType::Int64, false),
        Field::new("channel", DataType::Utf8, false),
        Field::new("url", DataType::Utf8, false),
        Field::new("date_time", timestamp_type(), false),
        Field::new("extra", DataType::Utf8, false),
    ]))
}

fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, None)
}

/// Generates the events of `kind` in `first..last` as a batch of the `projection` columns of
/// `schema`; `column(c, events)` builds column `c` for the event numbers `events`.
fn generate(
    config: &NexmarkConfig,
    kind: EventKind,
    table: &'static str,
    schema: SchemaRef,
    (first, last): (u64, u64),
    projection: &[usize],
    column: impl Fn(usize, &[u64]) -> ArrayRef,
) -> Result<RecordBatch> {
    config.validate()?;
    if first > last {
        return Err(NexmarkError::BadRange { first, last });
    }
    let columns = schema.fields().len();
    if let Some(&index) = projection.iter().find(|&&i| i >= columns) {
        return Err(NexmarkError::BadProjection { table, index, columns });
    }
    let arrow_err = |source| NexmarkError::Arrow { table, source };
    let projected = Arc::new(schema.project(projection).map_err(arrow_err)?);
    let events = kind_events(config, kind, first, last);
    let arrays: Vec<ArrayRef> = projection.iter().map(|&c| column(c, &events)).collect();
    let options = RecordBatchOptions::new().with_row_count(Some(events.len()));
    RecordBatch::try_new_with_options(projected, arrays, &options).map_err(arrow_err)
}

/// A string column: `fill(event, buf)` writes each row's value into a reused buffer.
fn string_column(events: &[u64], bytes_per_row: usize, mut fill: impl FnMut(u64, &mut String)) -> ArrayRef {
    let mut builder = StringBuilder::with_capacity(events.len(), events.len() * bytes_per_row);
    let mut buf = String::with_capacity(4 * bytes_per_row);
    for &event in events {
        buf.clear();
        fill(event, &mut buf);
        builder.append_value(&buf);
    }
    Arc::new(builder.finish())
}

fn int_column(events: &[u64], f: impl Fn(u64) -> i64) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(events.iter().map(|&e| f(e))))
}

fn time_column(events: &[u64], f: impl Fn(u64) -> i64) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from_iter_values(
        events.iter().map(|&e| f(e)),
    ))
}

/// The people among events `first..last`, with only the `projection` columns of
/// [`person_schema`], in event order.
///
/// # Errors
/// An invalid configuration, `first > last`, or a projection index out of range.
///
/// # Examples
/// ```
/// use arrow::array::AsArray;
/// use arrow::datatypes::Int64Type;
/// use rill_benchmarks::nexmark::{generate_persons, NexmarkConfig};
///
/// let people = generate_persons(&NexmarkConfig::default(), 0, 150, &[0, 1])?;
/// let ids = people.column(0).as_primitive::<Int64Type>();
/// assert_eq!(ids.values().to_vec(), vec![1000, 1001, 1002]);
/// # Ok::<(), rill_benchmarks::nexmark::NexmarkError>(())
/// ```
pub fn generate_persons(config: &NexmarkConfig, first: u64, last: u64, projection: &[usize]) -> Result<RecordBatch> {
    let seed = config.seed;
    let extra_avg = config.avg_person_byte_size;
    generate(
        config,
        EventKind::Person,
        "person",
        person_schema(),
        (first, last),
        projection,
        |c, events| match c {
            0 => int_column(events, |e| FIRST_PERSON_ID + last_base0_person_id(config, e) as i64),
            1 => string_column(events, 12, |e, buf| {
                let mut rng = Rng::new(seed, e, stream::PERSON_NAME);
                buf.push_str(rng.pick(&FIRST_NAMES));
                buf.push(' ');
                buf.push_str(rng.pick(&LAST_NAMES));
            }),
            2 => string_column(events, 14, |e, buf| {
                let mut rng = Rng::new(seed, e, stream::PERSON_EMAIL);
                push_string(&mut rng, 7, ' ', buf);
                buf.push('@');
                push_string(&mut rng, 5, ' ', buf);
                buf.push_str(".com");
            }),
            3 => string_column(events, 19, |e, buf| {
                let mut rng = Rng::new(seed, e, stream::PERSON_CARD);
                for group in 0..4 {
                    if group > 0 {
                        buf.push(' ');
                    }
                    push_padded(rng.below(10_000), 4, buf);
                }
            }),
            4 => string_column(events, 8, |e, buf| {
                buf.push_str(Rng::new(seed, e, stream::PERSON_CITY).pick(&CITIES));
            }),
            5 => string_column(events, 2, |e, buf| {
                buf.push_str(Rng::new(seed, e, stream::PERSON_STATE).pick(&STATES));
            }),
            6 => time_column(events, |e| event_timestamp_ms(config, e)),
            _ => string_column(
                events,
                extra_avg.saturating_sub(PERSON_NOMINAL_BYTES) as usize,
                |e, buf| {
                    let mut rng = Rng::new(seed, e, stream::PERSON_EXTRA);
                    push_extra(&mut rng, PERSON_NOMINAL_BYTES, extra_avg, buf);
                },
            ),
        },
    )
}

/// The initial bid of the auction of event `event`.
fn initial_bid(seed: u64, event: u64) -> i64 {
    next_price(&mut Rng::new(seed, event, stream::AUCTION_INITIAL))
}

/// The auctions among events `first..last`, with only the `projection` columns of
/// [`auction_schema`], in event order.
///
/// # Errors
/// An invalid configuration, `first > last`, or a projection index out of range.
///
/// # Examples
/// ```
/// use arrow::array::AsArray;
/// use arrow::datatypes::Int64Type;
/// use rill_benchmarks::nexmark::{generate_auctions, NexmarkConfig};
///
/// let auctions = generate_auctions(&NexmarkConfig::default(), 0, 100, &[0, 7])?;
/// let ids = auctions.column(0).as_primitive::<Int64Type>();
/// assert_eq!(ids.values().to_vec(), (1000..1006).collect::<Vec<i64>>());
/// # Ok::<(), rill_benchmarks::nexmark::NexmarkError>(())
/// ```
pub fn generate_auctions(config: &NexmarkConfig, first: u64, last: u64, projection: &[usize]) -> Result<RecordBatch> {
    let seed = config.seed;
    let extra_avg = config.avg_auction_byte_size;
    // Events it takes to open `num_in_flight_auctions` auctions: the expiry horizon.
    let horizon_events =
        config.num_in_flight_auctions.saturating_mul(config.total_proportion()) / config.auction_proportion.max(1);
    generate(
        config,
        EventKind::Auction,
        "auction",
        auction_schema(),
        (first, last),
        projection,
        |c, events| match c {
            0 => int_column(events, |e| FIRST_AUCTION_ID + last_base0_auction_id(config, e) as i64),
            1 => string_column(events, 11, |e, buf| {
                push_string(&mut Rng::new(seed, e, stream::AUCTION_NAME), 20, ' ', buf);
            }),
            2 => string_column(events, 51, |e, buf| {
                push_string(&mut Rng::new(seed, e, stream::AUCTION_DESC), 100, ' ', buf);
            }),
            3 => int_column(events, |e| initial_bid(seed, e)),
            4 => int_column(events, |e| {
                initial_bid(seed, e) + next_price(&mut Rng::new(seed, e, stream::AUCTION_RESERVE))
            }),
            5 => time_column(events, |e| event_timestamp_ms(config, e)),
            6 => time_column(events, |e| {
                let now = event_timestamp_ms(config, e);
                let horizon = event_timestamp_ms(config, e.saturating_add(horizon_events)).saturating_sub(now);
                let length = 1 + Rng::new(seed, e, stream::AUCTION_EXPIRES).below((horizon.max(0) as u64 * 2).max(1));
                now.saturating_add(length as i64)
            }),
            7 => int_column(events, |e| {
                let mut rng = Rng::new(seed, e, stream::AUCTION_SELLER);
                let seller = if rng.below(config.hot_seller_ratio) > 0 {
                    (last_base0_person_id(config, e) / HOT_SELLER_RATIO) * HOT_SELLER_RATIO
                } else {
                    next_base0_person_id(config, e, &mut rng)
                };
                FIRST_PERSON_ID + seller as i64
            }),
            8 => int_column(events, |e| {
                FIRST_CATEGORY_ID + Rng::new(seed, e, stream::AUCTION_CATEGORY).below(NUM_CATEGORIES) as i64
            }),
            _ => string_column(
                events,
                extra_avg.saturating_sub(AUCTION_NOMINAL_BYTES) as usize,
                |e, buf| {
                    let mut rng = Rng::new(seed, e, stream::AUCTION_EXTRA);
                    push_extra(&mut rng, AUCTION_NOMINAL_BYTES, extra_avg, buf);
                },
            ),
        },
    )
}

/// The channel of a bid.
enum Channel {
    /// One of [`HOT_CHANNELS`].
    Hot(usize),
    /// `channel-<k>`.
    Other(u64),
}

fn bid_channel(seed: u64, event: u64) -> Channel {
    let mut rng = Rng::new(seed, event, stream::BID_CHANNEL);
    if rng.below(HOT_CHANNELS_RATIO) > 0 {
        Channel::Hot(rng.below(HOT_CHANNELS.len() as u64) as usize)
    } else {
        Channel::Other(rng.below(CHANNELS_NUMBER))
    }
}

/// The URL of ordinary channel `k`: its base URL and, for nine in ten channels, a
/// `&channel_id=` of the bit-reversed channel number.
fn push_channel_url(seed: u64, k: u64, buf: &mut String) {
    let mut rng = Rng::new(seed, k, stream::CHANNEL_URL);
    push_base_url(&mut rng, buf);
    if rng.below(10) > 0 {
        buf.push_str("&channel_id=");
        let id = (k as u32).reverse_bits() as i32;
        push_padded(u64::from(id.unsigned_abs()), 1, buf);
    }
}

/// The bids among events `first..last`, with only the `projection` columns of
/// [`bid_schema`], in event order.
///
/// # Errors
/// An invalid configuration, `first > last`, or a projection index out of range.
///
/// # Examples
/// ```
/// use arrow::array::AsArray;
/// use arrow::datatypes::Int64Type;
/// use rill_benchmarks::nexmark::{generate_bids, NexmarkConfig};
///
/// let bids = generate_bids(&NexmarkConfig::default(), 0, 50, &[2])?;
/// assert_eq!(bids.num_rows(), 46);
/// assert!(bids.column(0).as_primitive::<Int64Type>().values().iter().all(|&p| p > 0));
/// # Ok::<(), rill_benchmarks::nexmark::NexmarkError>(())
/// ```
pub fn generate_bids(config: &NexmarkConfig, first: u64, last: u64, projection: &[usize]) -> Result<RecordBatch> {
    let seed = config.seed;
    let extra_avg = config.avg_bid_byte_size;
    generate(
        config,
        EventKind::Bid,
        "bid",
        bid_schema(),
        (first, last),
        projection,
        |c, events| match c {
            0 => int_column(events, |e| {
                let mut rng = Rng::new(seed, e, stream::BID_AUCTION);
                let auction = if rng.below(config.hot_auction_ratio) > 0 {
                    (last_base0_auction_id(config, e) / HOT_AUCTION_RATIO) * HOT_AUCTION_RATIO
                } else {
                    next_base0_auction_id(config, e, &mut rng)
                };
                FIRST_AUCTION_ID + auction as i64
            }),
            1 => int_column(events, |e| {
                let mut rng = Rng::new(seed, e, stream::BID_BIDDER);
                let last = last_base0_person_id(config, e);
                let bidder = if rng.below(config.hot_bidder_ratio) > 0 {
                    ((last / HOT_BIDDER_RATIO) * HOT_BIDDER_RATIO + 1).min(last)
                } else {
                    next_base0_person_id(config, e, &mut rng)
                };
                FIRST_PERSON_ID + bidder as i64
            }),
            2 => int_column(events, |e| next_price(&mut Rng::new(seed, e, stream::BID_PRICE))),
            3 => string_column(events, 10, |e, buf| match bid_channel(seed, e) {
                Channel::Hot(i) => buf.push_str(HOT_CHANNELS[i]),
                Channel::Other(k) => {
                    buf.push_str("channel-");
                    push_padded(k, 1, buf);
                }
            }),
            4 => {
                let hot_urls: Vec<String> = (0..HOT_CHANNELS.len() as u64)
                    .map(|i| {
                        let mut url = String::new();
                        push_base_url(&mut Rng::new(seed, i, stream::HOT_CHANNEL_URL), &mut url);
                        url
                    })
                    .collect();
                string_column(events, 60, |e, buf| match bid_channel(seed, e) {
                    Channel::Hot(i) => buf.push_str(&hot_urls[i]),
                    Channel::Other(k) => push_channel_url(seed, k, buf),
                })
            }
            5 => time_column(events, |e| event_timestamp_ms(config, e)),
            _ => string_column(
                events,
                extra_avg.saturating_sub(BID_NOMINAL_BYTES) as usize,
                |e, buf| {
                    let mut rng = Rng::new(seed, e, stream::BID_EXTRA);
                    push_extra(&mut rng, BID_NOMINAL_BYTES, extra_avg, buf);
                },
            ),
        },
    )
}
