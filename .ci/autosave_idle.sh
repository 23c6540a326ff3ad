#!/usr/bin/env bash
# Idle autosave, in the real window: start the release binary under Xvfb (Mesa lavapipe) on a
# page with BLOCKSPACE_AUTOSAVE_SECS=2, make the page unsaved with real key presses (xdotool:
# Ctrl+A, Delete), then send nothing at all for a few intervals, kill -9 the process, and check
# that the recovery file holds the edit. Then start the app again, restore through its own
# "Restore unsaved work?" dialog (Tab, Enter), save with Ctrl+S and check the page file on disk.
#
#   .ci/autosave_idle.sh
#
# Needs Xvfb, xdotool, python3 and Mesa's Vulkan driver (.ci/run installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.ci/real_window.sh
. .ci/real_window.sh
real_window_start "${DISPLAY_NUM:-98}"
export BLOCKSPACE_AUTOSAVE_SECS=2
PAGE="$WORK/idle.bspage.json"
cp examples/minimal.bspage.json "$PAGE"

fail() {
    echo "autosave_idle: $*" >&2
    import -window root "${SHOT_ON_FAIL:-/dev/null}" 2>/dev/null || true
    xdotool search --name Blockspace getwindowname %@ >&2 2>/dev/null || true
    echo "--- app log" >&2
    cat "$WORK/app.log" >&2 || true
    exit 1
}

# Waits until a window titled like the regex exists; prints its id.
wait_title() {
    for _ in $(seq 1 120); do
        if id=$(xdotool search --name "$1" 2>/dev/null | head -1) && [ -n "$id" ]; then
            echo "$id"
            return 0
        fi
        sleep 0.5
    done
    return 1
}

blocks_in() { # the number of blocks in a page file
    python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["blocks"]))' "$1"
}

before=$(blocks_in "$PAGE")
[ "$before" -gt 0 ] || fail "the example page has no blocks"

"$BIN" "$PAGE" >"$WORK/app.log" 2>&1 &
APP_PID=$!
WID=$(wait_title '^idle .+ Blockspace$') || fail "the window did not open"
sleep 3 # let it evaluate and settle
xdotool windowfocus --sync "$WID" || true
xdotool mousemove --window "$WID" 700 500 click 1
sleep 0.5
xdotool key --clearmodifiers ctrl+a
sleep 0.3
xdotool key --clearmodifiers Delete
wait_title '^idle \* .+ Blockspace$' >/dev/null || fail "the key presses did not change the page"
# Move the pointer off the window, then send nothing for several intervals.
xdotool mousemove 1399 879
sleep 0.5
rec_dir="$STATE/blockspace/recovery"
rm -f "$rec_dir"/session-*/page-*.bspage.json
sleep 7
kill -9 "$APP_PID"
wait "$APP_PID" 2>/dev/null || true
APP_PID=""

mapfile -t recovered < <(ls "$rec_dir"/session-*/page-*.bspage.json 2>/dev/null)
[ "${#recovered[@]}" -eq 1 ] || fail "expected one recovery file after an idle kill -9, found ${#recovered[@]}"
after=$(blocks_in "${recovered[0]}")
[ "$after" -eq 0 ] || fail "the recovery file has $after blocks, not the edit (0 blocks)"
echo "idle autosave: the recovery file holds the edit (blocks $before -> $after)"

# Restore through the app's own dialog, then save the restored page over the original.
"$BIN" >"$WORK/app.log" 2>&1 &
APP_PID=$!
WID=$(wait_title '^demo .+ Blockspace$') || fail "the second window did not open"
sleep 4 # the restore offer shows once the first frames are drawn
xdotool windowfocus --sync "$WID" || true
xdotool key --clearmodifiers Tab
sleep 0.3
xdotool key --clearmodifiers Return
wait_title '^idle \* .+ Blockspace$' >/dev/null || fail "the restore dialog did not restore the page"
sleep 0.5
xdotool key --clearmodifiers ctrl+s
for _ in $(seq 1 20); do
    [ "$(blocks_in "$PAGE")" -eq 0 ] && break
    sleep 0.5
done
[ "$(blocks_in "$PAGE")" -eq 0 ] || fail "the restored page, saved, does not hold the edit"
echo "restore: the restored page holds the edit and saves to its own file"
