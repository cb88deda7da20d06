#!/usr/bin/env bash
# Checks that every Nexmark query gives the same rows streaming from the generator as in batch
# mode over the same events read from Parquet (default: 1,000,000 events at 10,000 per second
# of event time, so 100 s of event time and many window firings).
#
# Usage: benchmarks/scripts/nexmark_stream_vs_batch.sh [RILL_BINARY] [EVENTS] [RATE]
set -euo pipefail
rill=${1:-target/release/rill}
events=${2:-1000000}
rate=${3:-10000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$rill" bench nexmark gen --events "$events" --rate "$rate" --out "$work/data" >/dev/null
status=0
for q in q0 q1 q2 q3 q5 q7 q8; do
    "$rill" bench nexmark run --query "$q" --events "$events" --rate "$rate" --output "$work/s_$q.csv" >/dev/null 2>&1
    "$rill" bench nexmark run --query "$q" --data "$work/data" --mode batch --output "$work/b_$q.csv" >/dev/null 2>&1
    s=$(tail -n +2 "$work/s_$q.csv" | sort | md5sum)
    b=$(tail -n +2 "$work/b_$q.csv" | sort | md5sum)
    rows=$(( $(wc -l < "$work/s_$q.csv") - 1 ))
    if [ "$s" = "$b" ]; then
        echo "$q: $rows rows, streaming == batch"
    else
        echo "$q: streaming and batch differ"
        status=1
    fi
done
exit $status
