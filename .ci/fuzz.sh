#!/usr/bin/env bash
# Coverage-guided fuzzing of every fuzz target (cargo-afl on stable Rust), briefly:
#
#   .ci/fuzz.sh [SECONDS_PER_TARGET]      (default 25; FUZZ_TARGETS="npy_file commands" picks)
#
# Installs cargo-afl when missing (once: about a minute, then AFL++'s runtime is built), builds
# fuzz/ with AFL instrumentation into $CARGO_TARGET_DIR/afl, then runs each target from its
# committed corpus fuzz/corpus/<target>/ for SECONDS_PER_TARGET with a 1 s hang limit. Fails
# when a target crashed or hung, and names the input files (copy them into the corpus as
# regression tests once fixed; see docs/fuzzing.md). The fuzzers' output stays in
# $FUZZ_OUT (default target/fuzz-out) for a look.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-25}"
targets=(${FUZZ_TARGETS:-page_file npy_file conformance_file op_params commands})

if ! command -v cargo-afl >/dev/null 2>&1; then
    cargo install cargo-afl --locked --version 0.18.2
fi
# Builds AFL++'s runtime for this toolchain once; later calls say it is built already.
cargo afl config --build >/dev/null 2>&1 || true

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/afl"
(cd fuzz && cargo afl build --release --locked)

export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
out="${FUZZ_OUT:-$PWD/target/fuzz-out}"
rm -rf "$out"
mkdir -p "$out/tmp"
# The harness's scratch folders go here too, so a target stopped mid-input leaves nothing in /tmp.
export TMPDIR="$out/tmp"
failed=0
stat() { grep -E "^$1 " "$2" | sed 's/.*: //'; }
for t in "${targets[@]}"; do
    if ! cargo afl fuzz -V "$secs" -t 1000 -i "fuzz/corpus/$t" -o "$out/$t" \
        "$CARGO_TARGET_DIR/release/$t" >"$out/$t.log" 2>&1; then
        tail -40 "$out/$t.log" >&2
        echo "fuzz: $t did not run" >&2
        exit 1
    fi
    s="$out/$t/default/fuzzer_stats"
    printf '%-18s %10s execs  corpus %5s  crashes %s  hangs %s\n' "$t" \
        "$(stat execs_done "$s")" "$(stat corpus_count "$s")" \
        "$(stat saved_crashes "$s")" "$(stat saved_hangs "$s")"
    for kind in crashes hangs; do
        for f in "$out/$t/default/$kind"/id:*; do
            [ -e "$f" ] || continue
            echo "fuzz: $t: $kind input $f" >&2
            failed=1
        done
    done
done
exit "$failed"
