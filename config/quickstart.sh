#!/usr/bin/env bash
# The README's first command: sets up and runs brandpulse on a fresh machine
# with the shipped example config and catalog. Safe to run again: nothing is
# doubled (migrations, brands, sources and catalog are all upserts).
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
bp analyze "The Kestrel X2 battery died after one day and support never answered."
bp analyze-pending
