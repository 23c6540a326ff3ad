# Sourced by the real-window scripts (.ci/screenshots.sh, .ci/autosave_idle.sh): sets up
#   WORK   a temporary folder, removed on exit
#   BIN    this checkout's release `blockspace`, copied into WORK
#   STATE  a private state folder (no recovery offer or recent files from the user's sessions)
# and starts Xvfb on display :$1 (1400×880, Mesa lavapipe through WGPU_BACKEND=vulkan). Set
# APP_PID to the app's process id; the exit trap kills it and Xvfb.
# shellcheck shell=bash
real_window_start() {
    local display_num="$1"
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
    WORK="$(mktemp -d)"
    # Copy the binary at once: a target directory shared with other checkouts may hold another
    # checkout's `blockspace` (cargo does not copy a fresh binary again), so check it is this
    # one's (it takes page paths) and relink when it is not.
    local attempt
    for attempt in 1 2 3; do
        cargo build --release -p blockspace_app --bin blockspace
        cp "$CARGO_TARGET_DIR/release/blockspace" "$WORK/blockspace"
        "$WORK/blockspace" --help | grep -q "PAGES" && break
        [ "$attempt" = 3 ] && { echo "could not get this checkout's blockspace binary" >&2; exit 1; }
        touch crates/blockspace_app/src/main.rs
    done
    BIN="$WORK/blockspace"

    export DISPLAY=":$display_num"
    Xvfb "$DISPLAY" -screen 0 1400x880x24 -nolisten tcp -noreset >/dev/null 2>&1 &
    XVFB_PID=$!
    APP_PID=""
    trap real_window_cleanup EXIT
    sleep 1

    STATE="$WORK/state"
    mkdir -p "$STATE"
    export XDG_STATE_HOME="$STATE" XDG_RUNTIME_DIR="$STATE" WGPU_BACKEND="${WGPU_BACKEND:-vulkan}"
}

real_window_cleanup() {
    if [ -n "$APP_PID" ]; then kill -9 "$APP_PID" 2>/dev/null || true; fi
    kill "$XVFB_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
