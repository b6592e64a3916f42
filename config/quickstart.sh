#!/usr/bin/env bash
# The README's first command: sets up and runs brandpulse on a fresh machine
# with the shipped example config and catalog, then `brandpulse demo`. Safe to
# run again: nothing is doubled (migrations, brands, sources and catalog are
# upserts; posts are deduplicated). Extra arguments go to `demo`
# (e.g. --no-serve, --bind 127.0.0.1:9090).
set -euo pipefail
cd "$(dirname "$0")/.."

bash config/dev-postgres.sh
export BRANDPULSE_DATABASE_URL=postgres://brandpulse:brandpulse@127.0.0.1:5432/brandpulse

echo "==> sentiment model (models/setup.sh)"
bash models/setup.sh
export BRANDPULSE_MODEL_DIR="$PWD/models/brandpulse-sentiment-minilm-v1"

echo "==> building brandpulse (release)"
cargo build --release --locked --quiet
bp() { echo "==> brandpulse $*"; target/release/brandpulse --config config/brandpulse.example.toml "$@"; }

bp check-config
bp migrate
bp catalog import config/catalog.example.csv
bp catalog list
bp analyze "The Kestrel X200 Pro battery died after one day and support never answered."
# The demo: bundled sample sources on 127.0.0.1 (no internet), crawled and read by the
# model, 14 days of digests, a summary, then the dashboard until Ctrl-C.
bp demo "$@"
