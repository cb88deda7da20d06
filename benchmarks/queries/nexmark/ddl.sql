-- The Nexmark tables with their event time, as Flink's Nexmark benchmark declares them
-- (a 4 s bound on out-of-orderness). `rill bench nexmark run` replaces ${person},
-- ${auction} and ${bid} by the connector options: the built-in generator
-- ('connector' = 'nexmark', 'table' = …, 'events' = N) or Parquet files written by
-- `rill bench nexmark gen` ('connector' = 'filesystem', 'path' = …, 'format' = 'parquet').
CREATE TABLE person (
    id BIGINT NOT NULL,
    name VARCHAR NOT NULL,
    email_address VARCHAR NOT NULL,
    credit_card VARCHAR NOT NULL,
    city VARCHAR NOT NULL,
    state VARCHAR NOT NULL,
    date_time TIMESTAMP(3) NOT NULL,
    extra VARCHAR NOT NULL,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (${person});

CREATE TABLE auction (
    id BIGINT NOT NULL,
    item_name VARCHAR NOT NULL,
    description VARCHAR NOT NULL,
    initial_bid BIGINT NOT NULL,
    reserve BIGINT NOT NULL,
    date_time TIMESTAMP(3) NOT NULL,
    expires TIMESTAMP(3) NOT NULL,
    seller BIGINT NOT NULL,
    category BIGINT NOT NULL,
    extra VARCHAR NOT NULL,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (${auction});

CREATE TABLE bid (
    auction BIGINT NOT NULL,
    bidder BIGINT NOT NULL,
    price BIGINT NOT NULL,
    channel VARCHAR NOT NULL,
    url VARCHAR NOT NULL,
    date_time TIMESTAMP(3) NOT NULL,
    extra VARCHAR NOT NULL,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (${bid});
