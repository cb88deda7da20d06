//! [`NexmarkConfig`]: the knobs of the Nexmark generator, with the reference generator's
//! defaults (Apache Beam's and Flink's nexmark `GeneratorConfig`), where it has them.

use super::{NexmarkError, Result};

/// 2015-07-15T00:00:00Z in milliseconds since the epoch: the default base time, so that
/// generated data is the same on every run.
pub const DEFAULT_BASE_TIME_MS: i64 = 1_436_918_400_000;

/// The generator's configuration.
///
/// Event `n` (counting from 0) is a person, an auction or a bid by `n mod (p + a + b)` with
/// the proportions `p : a : b` (default 1 : 3 : 46, so `n mod 50`: 0 → person, 1..=3 →
/// auction, 4..=49 → bid), and happens at event time
/// `base_time_ms + floor(n · 1000 / first_event_rate)` milliseconds.
///
/// ```
/// use rill_benchmarks::nexmark::NexmarkConfig;
///
/// let config = NexmarkConfig { events: Some(1_000_000), seed: 7, ..NexmarkConfig::default() };
/// config.validate()?;
/// assert_eq!(config.total_proportion(), 50);
/// # Ok::<(), rill_benchmarks::nexmark::NexmarkError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NexmarkConfig {
    /// The number of events (of all three kinds); `None` generates forever.
    pub events: Option<u64>,
    /// Events per second of *event time*: the spacing of consecutive events' timestamps is
    /// `1 / first_event_rate` seconds. Default 10,000,000, the rate of Flink's nexmark
    /// workloads (`tps`), so 10,000 events share each millisecond; Beam's default is 10,000.
    /// The reference generator can vary the rate over time (sine and square shapes); this
    /// one keeps it constant.
    pub first_event_rate: u64,
    /// The event time of event 0, milliseconds since the epoch. Default
    /// [`DEFAULT_BASE_TIME_MS`] (the reference uses the wall clock at start, which is not
    /// deterministic).
    pub base_time_ms: i64,
    /// People per `total_proportion()` events. Default 1.
    pub person_proportion: u64,
    /// Auctions per `total_proportion()` events. Default 3.
    pub auction_proportion: u64,
    /// Bids per `total_proportion()` events. Default 46.
    pub bid_proportion: u64,
    /// Bidders and sellers that are not hot are drawn from the last this many people.
    /// Default 1,000.
    pub num_active_people: u64,
    /// Bids that are not on a hot auction go to one of the last this many auctions.
    /// Default 100.
    pub num_in_flight_auctions: u64,
    /// `1 - 1/hot_auction_ratio` of the bids go to a hot auction (one in 100 auctions is
    /// hot). Default 2.
    pub hot_auction_ratio: u64,
    /// `1 - 1/hot_seller_ratio` of the auctions have a hot seller (one in 100 people).
    /// Default 4.
    pub hot_seller_ratio: u64,
    /// `1 - 1/hot_bidder_ratio` of the bids have a hot bidder (one in 100 people). Default 4.
    pub hot_bidder_ratio: u64,
    /// The average size in bytes of a person, which its `extra` column pads to. Default 200.
    pub avg_person_byte_size: u64,
    /// The average size in bytes of an auction, which its `extra` column pads to. Default 500.
    pub avg_auction_byte_size: u64,
    /// The average size in bytes of a bid, which its `extra` column pads to. Default 100.
    pub avg_bid_byte_size: u64,
    /// The seed of all random choices. Default 0.
    pub seed: u64,
    /// A limit on the events per second of *wall-clock* time that a source produces (over
    /// all its subtasks); `None` produces as fast as possible. Only the source uses it.
    pub rate_limit: Option<u64>,
}

impl Default for NexmarkConfig {
    fn default() -> Self {
        NexmarkConfig {
            events: None,
            first_event_rate: 10_000_000,
            base_time_ms: DEFAULT_BASE_TIME_MS,
            person_proportion: 1,
            auction_proportion: 3,
            bid_proportion: 46,
            num_active_people: 1_000,
            num_in_flight_auctions: 100,
            hot_auction_ratio: 2,
            hot_seller_ratio: 4,
            hot_bidder_ratio: 4,
            avg_person_byte_size: 200,
            avg_auction_byte_size: 500,
            avg_bid_byte_size: 100,
            seed: 0,
            rate_limit: None,
        }
    }
}

impl NexmarkConfig {
    /// The default configuration with `events` events.
    ///
    /// ```
    /// let c = rill_benchmarks::nexmark::NexmarkConfig::bounded(500);
    /// assert_eq!(c.events, Some(500));
    /// ```
    pub fn bounded(events: u64) -> Self {
        NexmarkConfig {
            events: Some(events),
            ..NexmarkConfig::default()
        }
    }

    /// The length of one cycle of event kinds: `person + auction + bid` proportions.
    pub fn total_proportion(&self) -> u64 {
        self.person_proportion
            .saturating_add(self.auction_proportion)
            .saturating_add(self.bid_proportion)
    }

    /// Checks that every value is in range.
    ///
    /// # Errors
    /// [`NexmarkError::InvalidConfig`] naming the first field out of range: a zero rate,
    /// proportion, ratio, number of active people or in-flight auctions, or a zero rate limit.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("first_event_rate", self.first_event_rate),
            ("person_proportion", self.person_proportion),
            ("auction_proportion", self.auction_proportion),
            ("bid_proportion", self.bid_proportion),
            ("num_active_people", self.num_active_people),
            ("num_in_flight_auctions", self.num_in_flight_auctions),
            ("hot_auction_ratio", self.hot_auction_ratio),
            ("hot_seller_ratio", self.hot_seller_ratio),
            ("hot_bidder_ratio", self.hot_bidder_ratio),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(NexmarkError::InvalidConfig {
                    field,
                    message: "must be positive".into(),
                });
            }
        }
        if self.total_proportion() > u64::from(u32::MAX) {
            return Err(NexmarkError::InvalidConfig {
                field: "bid_proportion",
                message: format!("the proportions add up to {}, more than 2^32", self.total_proportion()),
            });
        }
        if self.rate_limit == Some(0) {
            return Err(NexmarkError::InvalidConfig {
                field: "rate_limit",
                message: "must be positive (use None for no limit)".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_zero_values_are_not() {
        assert!(NexmarkConfig::default().validate().is_ok());
        let bad = NexmarkConfig {
            hot_bidder_ratio: 0,
            ..NexmarkConfig::default()
        };
        let e = bad.validate().err();
        assert!(
            matches!(
                e,
                Some(NexmarkError::InvalidConfig {
                    field: "hot_bidder_ratio",
                    ..
                })
            ),
            "{e:?}"
        );
        let bad = NexmarkConfig {
            rate_limit: Some(0),
            ..NexmarkConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
