#!/usr/bin/env bash
# Bounded fuzzing run of brandpulse's parsers (not part of CI).
#
#   bash tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60; TARGETs default to all of them. Builds
# the targets once (cargo-fuzz, nightly, AddressSanitizer; the first build
# takes long), seeds each corpus from ../shared/fixtures and the repository,
# runs each target for at most SECONDS_PER_TARGET, then prints a table.
# Exits non-zero if any target left a crash (or an oom/timeout/leak) artifact
# in tests/fuzz/artifacts/<target>/.
set -uo pipefail

ALL_TARGETS=(feed social_json html brand_matcher normalize config)

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bash tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi
shift $(($# > 0 ? 1 : 0))
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
    if ! printf '%s\n' "${ALL_TARGETS[@]}" | grep -qx -- "$t"; then
        echo "unknown target: $t (targets: ${ALL_TARGETS[*]})" >&2
        exit 2
    fi
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root" || exit 1
fuzz_dir=tests/fuzz
fixtures="$root/../shared/fixtures"
logs="$fuzz_dir/target/fuzz-logs"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked || exit 1
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "the nightly toolchain is needed: rustup toolchain install nightly" >&2
    exit 1
fi

# ---------------------------------------------------------------------------
# Seeds: copied once (cp -n), so the corpus libFuzzer grows is kept.
# ---------------------------------------------------------------------------

# seed TARGET NAME PREFIX_BYTE FILE: FILE's bytes after one selector byte.
seed() {
    local dir="$fuzz_dir/corpus/$1" out
    out="$dir/seed-$2"
    mkdir -p "$dir"
    [ -e "$out" ] && return 0
    { printf "\\x$(printf %02x "$3")"; cat "$4"; } >"$out"
}

# seed_text TARGET NAME TEXT: TEXT as is (printf escapes allowed).
seed_text() {
    local dir="$fuzz_dir/corpus/$1"
    mkdir -p "$dir"
    [ -e "$dir/seed-$2" ] || printf "$3" >"$dir/seed-$2"
}

seed_feed() {
    local f name ct
    for f in "$fixtures"/rss-atom/*; do
        name="$(basename "$f")"
        [ "$name" = README.md ] || [ "$name" = SOURCES.tsv ] && continue
        case "$name" in
            *.json) ct=3 ;;              # application/feed+json
            atom*) ct=2 ;;               # application/atom+xml
            *.gz | *undeclared*) ct=0 ;; # no Content-Type: sniffed
            *) ct=1 ;;                   # application/rss+xml
        esac
        seed feed "$name" "$ct" "$f"
    done
}

seed_social_json() {
    local f name kinds k
    for f in "$fixtures"/social-json/*.json "$fixtures"/social-json/*.html; do
        [ -e "$f" ] || continue
        name="$(basename "$f")"
        # Kind byte: 0 hackernews, 1 mastodon, 2 reddit, 3 lemmy, 4 bluesky.
        case "$name" in
            hackernews-*) kinds=(0) ;;
            mastodon-*) kinds=(1) ;;
            reddit-*) kinds=(2) ;;
            lemmy-*) kinds=(3) ;;
            bluesky-*) kinds=(4) ;;
            *) kinds=(0 1 2 3 4) ;; # other services: wrong-shape bodies for every kind
        esac
        for k in "${kinds[@]}"; do
            seed social_json "$k-$name" "$k" "$f"
        done
    done
    # A Mastodon page with a Link header (bit 0x80: the first line is the header).
    local mastodon="$fixtures/social-json/mastodon-timelines_tag-statuses.json"
    if [ -e "$mastodon" ]; then
        local out="$fuzz_dir/corpus/social_json/seed-link-$(basename "$mastodon")"
        [ -e "$out" ] || {
            printf '\x81<https://mastodon.social/api/v1/timelines/tag/kestrel?max_id=1>; rel="next", <https://mastodon.social/api/v1/timelines/tag/kestrel?min_id=9>; rel="prev"\n'
            cat "$mastodon"
        } >"$out"
    fi
}

seed_html() {
    local f name set
    for f in "$fixtures"/html/*.html; do
        [ -e "$f" ] || continue
        name="$(basename "$f")"
        # Selector set byte (see fuzz_targets/html.rs).
        case "$name" in
            blog-index-multi-author*) set=1 ;;
            forum-xenforo-*) set=2 ;;
            reviews-schema-org-* | comments-reddit-*) set=3 ;;
            *) set=0 ;;
        esac
        seed html "$name" "$set" "$f"
        seed html "legacy-$name" $((set | 0x80)) "$f"
    done
    seed_text html example '\x00<html><head><base href="/forum/"></head><body><article class="topic"><h2><a href="t/1">Kestrel X200 battery</a></h2><div class="post-body"><p>My <b>Kestrel</b> phone &amp; charger</p></div><span class="author">ann</span><time datetime="2026-03-01T10:00:00+01:00">1 March</time></article><article class="topic"><h2><a href="javascript:alert(1)">x</a></h2><div class="post-body">Lumio buds</div><time>March 10, 2017 at 12:20 AM PT</time></article></body></html>'
}

seed_brand_matcher() {
    seed_text brand_matcher en 'My Kestrel X200 phone battery died, but the Kestrel Mobile support was great. #KestrelX200 @kestrelmobile'
    seed_text brand_matcher bird 'Saw an American kestrel and a kestrel nest today; the common  kestrel is a falcon.'
    seed_text brand_matcher cjk '我买了Kestrel手机，红隼手机的电池很好。ルミオのイヤホンと路米欧，欧比斯也不错。'
    seed_text brand_matcher tags '#Lumio_Audio vs #LumioAudio vs @lumio_audio; mail me at x@lumioaudio.com. (Orbix) Orbix'"'"'s @orbixglobal'
    seed_text brand_matcher fold 'STRASSE\tWERK und die Straße  Werk; İstanbul Audİo; ΣΟΦΟΣ ηχείο σοφος σοφοσ; Ⅻ LABS XII labs'
    seed_text brand_matcher lamp 'The Lumio lamp and the lumio book light are not Lumio Audio.\nKestrel\n\nphone'
}

seed_normalize() {
    # Flags: 1 HTML body, 2 hash authors, 4 title, 8 language hint; fields split by 0x1F.
    seed_text normalize html '\x0f<p>My <b>Kestrel</b> X200&nbsp;battery<br>died&#8230;</p><script>x()</script>\x1fRe: Kestrel &amp; Lumio\x1fHTTPS://Example.COM:443/a/../b?utm_source=x&id=3&fbclid=9#frag\x1f @Alice \x1fde-DE'
    seed_text normalize text '\x04  Ｋｅｓｔｒｅｌ　ｘ２００\u200b review\r\n\r\n\r\nphone\t\tbattery\x1f\x1fhttps://x.com/u/status/1?s=20&t=abc\x1fbob'
    seed_text normalize cjk '\x0d<div>小米和红隼手机</div>\x1f\x1fhttp://[::1]:80/?\x1f\x1fzh-Hans'
    local f
    for f in "$fixtures"/html/blog-index-single-author.html "$fixtures"/html/forum-xenforo-thread-de.html; do
        [ -e "$f" ] && seed normalize "$(basename "$f")" 1 "$f"
    done
}

seed_config() {
    local dir="$fuzz_dir/corpus/config" f name
    mkdir -p "$dir"
    [ -e "$dir/seed-brandpulse.example.toml" ] || cp config/brandpulse.example.toml "$dir/seed-brandpulse.example.toml"
    while IFS= read -r -d '' f; do
        name="$(echo "${f#tests/}" | tr '/' '_')"
        [ -e "$dir/seed-$name" ] || cp "$f" "$dir/seed-$name"
    done < <(find tests -path "$fuzz_dir" -prune -o -name '*.toml' -type f -print0)
    seed_text config minimal '[database]\nurl = "postgres://brandpulse@127.0.0.1/brandpulse"\n\n[[brands]]\nname = "Kestrel"\naliases = ["Kestrel", "红隼手机"]\n\n[[sources]]\nname = "forum"\nkind = "html"\nurl = "https://forum.example/"\nschedule = "0 */15 * * * *"\n[sources.params.selectors]\nitem = "article"\ntext = ".body"\n'
}

echo "== seeding corpora under $fuzz_dir/corpus"
for t in "${targets[@]}"; do
    "seed_$t"
done

# ---------------------------------------------------------------------------
# Build once, then run each target for a bounded time.
# ---------------------------------------------------------------------------

echo "== building fuzz targets (nightly, AddressSanitizer): ${targets[*]}"
for t in "${targets[@]}"; do
    cargo +nightly fuzz build --fuzz-dir "$fuzz_dir" "$t" || {
        echo "build of $t failed" >&2
        exit 1
    }
done
# The runs use these binaries directly, not `cargo fuzz run`, so that every
# target runs the code of this one build even if the tree changes meanwhile.
triple="$(rustc +nightly -vV | sed -n 's/^host: //p')"
bin_dir="$fuzz_dir/target/$triple/release"

mkdir -p "$logs"
declare -A execs secs crashes others
for t in "${targets[@]}"; do
    mkdir -p "$fuzz_dir/artifacts/$t"
    echo "== fuzzing $t for ${seconds}s (log: $logs/$t.log)"
    start=$(date +%s)
    # libFuzzer stops itself after -max_total_time; timeout(1) is the backstop
    # (a hung input, the corpus load of a huge corpus).
    ASAN_OPTIONS="detect_odr_violation=0" RUST_BACKTRACE=1 timeout --kill-after=30 $((seconds + 300)) \
        "$bin_dir/$t" -artifact_prefix="$fuzz_dir/artifacts/$t/" \
        -max_total_time="$seconds" -print_final_stats=1 -max_len=65536 -timeout=30 -rss_limit_mb=2048 \
        "$fuzz_dir/corpus/$t" >"$logs/$t.log" 2>&1
    status=$?
    secs[$t]=$(($(date +%s) - start))
    n=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$logs/$t.log" | tail -1 | grep -o '[0-9]*$')
    [ -n "$n" ] || n=$(grep -o '^#[0-9]*' "$logs/$t.log" | tail -1 | tr -d '#')
    execs[$t]=${n:-?}
    crashes[$t]=$(find "$fuzz_dir/artifacts/$t" -maxdepth 1 -type f -name 'crash-*' | wc -l)
    others[$t]=$(find "$fuzz_dir/artifacts/$t" -maxdepth 1 -type f \( -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | wc -l)
    if [ "$status" -ne 0 ]; then
        echo "   $t exited with status $status; last lines of its log:"
        tail -n 25 "$logs/$t.log" | sed 's/^/   | /'
    fi
done

echo
printf '%-14s %8s %14s %8s %22s\n' target seconds executions crashes "oom/timeout/leak"
failed=0
for t in "${targets[@]}"; do
    printf '%-14s %8s %14s %8s %22s\n' "$t" "${secs[$t]}" "${execs[$t]}" "${crashes[$t]}" "${others[$t]}"
    [ "${crashes[$t]}" -gt 0 ] || [ "${others[$t]}" -gt 0 ] && failed=1
done
if [ "$failed" -ne 0 ]; then
    echo
    echo "artifacts found; reproduce one with:"
    echo "  cargo +nightly fuzz run --fuzz-dir $fuzz_dir TARGET $fuzz_dir/artifacts/TARGET/crash-..."
    exit 1
fi
