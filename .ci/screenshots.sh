#!/usr/bin/env bash
# Starts the real release binary in a virtual X display (Xvfb + Mesa lavapipe, no GPU needed),
# opens the demo page and each examples/*.bspage.json, and takes a screenshot of each window.
#
#   .ci/screenshots.sh [OUT_DIR]      (default OUT_DIR: target/screenshots)
#
# Installs what it needs when missing (Debian/Ubuntu, needs root or sudo). The current demo
# screenshot for the README and the user guide is copied to docs/screenshot.png when
# UPDATE_DOCS=1.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT_DIR="${1:-target/screenshots}"
mkdir -p "$OUT_DIR"
need=()
for tool in Xvfb:xvfb import:imagemagick xdotool:xdotool; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool##*:}")
done
[ -e /usr/share/vulkan/icd.d/lvp_icd.x86_64.json ] || [ -e /usr/share/vulkan/icd.d/lvp_icd.json ] || need+=(mesa-vulkan-drivers libvulkan1)
if [ "${#need[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq xvfb mesa-vulkan-drivers libvulkan1 \
        libgl1-mesa-dri libegl1 libxkbcommon-x11-0 imagemagick xdotool >/dev/null
fi

# shellcheck source=.ci/real_window.sh
. .ci/real_window.sh
real_window_start "${DISPLAY_NUM:-97}"

shoot() { # name, then the app's arguments
    local name="$1"; shift
    "$BIN" "$@" >"$OUT_DIR/$name.log" 2>&1 &
    APP_PID=$!
    # Wait until the window shows this page: the app sets the title "<page> — Blockspace" in its
    # first frame (a bare "Blockspace" window has not drawn yet), then let it evaluate and settle.
    # xdotool matches the title's bytes, so the em dash (three bytes in UTF-8) is matched as `.+`:
    # a literal "—" in the pattern never matches, and every shot waited the loop's full minute.
    for _ in $(seq 1 120); do
        xdotool search --name "^$name( \*)? .+ Blockspace\$" >/dev/null 2>&1 && break
        sleep 0.5
    done
    sleep "${SETTLE_SECONDS:-6}"
    if ! kill -0 "$APP_PID" 2>/dev/null; then
        echo "blockspace exited early for $name; log:" >&2
        cat "$OUT_DIR/$name.log" >&2
        exit 1
    fi
    # Move the pointer out of the way so no tooltip covers the page.
    xdotool mousemove 1399 879 || true
    sleep 0.5
    import -window root "$OUT_DIR/$name.png"
    echo "screenshot: $OUT_DIR/$name.png"
    kill "$APP_PID" 2>/dev/null || true
    wait "$APP_PID" 2>/dev/null || true
    APP_PID=""
}

shoot demo
shopt -s nullglob
for page in examples/*.bspage.json; do
    shoot "$(basename "$page" .bspage.json)" "$page"
done

# The result viewer popped out into its own window, on examples/unet_upsample (its output block
# is selected when the page opens). "Pop out" sits at the right of the Result heading: at
# (1343, 379) in the 1400×880 window (the inspector starts at 36 % of the side panel).
shoot_viewer() {
    "$BIN" examples/unet_upsample.bspage.json >"$OUT_DIR/viewer.log" 2>&1 &
    APP_PID=$!
    for _ in $(seq 1 120); do
        xdotool search --name "^unet_upsample( \*)? .+ Blockspace\$" >/dev/null 2>&1 && break
        sleep 0.5
    done
    sleep "${SETTLE_SECONDS:-6}"
    xdotool mousemove 1343 379 mousedown 1 sleep 0.2 mouseup 1 || true
    local win=""
    for _ in $(seq 1 20); do
        win="$(xdotool search --name "result viewer" 2>/dev/null | head -1 || true)"
        [ -n "$win" ] && break
        sleep 0.5
    done
    if [ -z "$win" ]; then
        echo "the viewer window did not open (did the layout move the Pop out button?)" >&2
        exit 1
    fi
    xdotool mousemove 1399 879 || true
    sleep 2
    import -window "$win" "$OUT_DIR/viewer.png"
    echo "screenshot: $OUT_DIR/viewer.png"
    kill "$APP_PID" 2>/dev/null || true
    wait "$APP_PID" 2>/dev/null || true
    APP_PID=""
}
shoot_viewer

if [ "${UPDATE_DOCS:-0}" = 1 ]; then
    cp "$OUT_DIR/demo.png" docs/screenshot.png
    cp "$OUT_DIR/viewer.png" docs/viewer.png
    echo "updated docs/screenshot.png and docs/viewer.png"
fi
