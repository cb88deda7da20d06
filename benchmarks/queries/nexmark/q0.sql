-- Nexmark q0: pass-through. Measures the cost of reading and shipping the bids.
SELECT auction, bidder, price, date_time, extra FROM bid
