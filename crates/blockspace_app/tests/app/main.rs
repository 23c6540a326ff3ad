//! The app's tests, in one binary with one shared harness ([`harness`]):
//!
//! | module | what |
//! |---|---|
//! | `editing`, `clipboard`, `files`, `runs`, `tabs`, `export` | the real app driven as a user would (UI tests: add blocks through the search menu, wire them by dragging pins, set attributes in the inspector, run, read the viewer's statistics, undo, save, reopen and compare) |
//! | `inspector_numbers` | numbers typed into the inspector: whole numbers exact (`Int`), decimals `Float`, bad text refused with its error, the drag handle |
//! | `crash_safety` | SIGKILL at random moments of `run --output` (the real binary) and of recovery writes: every file old or new, whole; a read-only folder on save |
//! | `memory_budget` | `--memory-limit` of `run` and `check` through the real binary |
//! | `revisions` | moving blocks re-checks and re-runs nothing (counted); an edit checks and runs once |
//! | `run_output` | `blockspace run --output` through the real binary: links, name collisions, `--force`, the page's own files |
//! | `ui_viewer` | the volume viewer widget (planes, montage, projection, colours, compare, pin), with an image snapshot |
//! | `viewer_app` | the viewer in the app: a new user's path through `examples/unet_upsample` |
//! | `frame_scenario` | the 200-block pan/zoom/drag scenario, functionally (its timing: `cargo bench -p blockspace_app --bench frame_time`) |
//! | `demo_page` | the embedded demo page, and its generator (ignored) |
//! | `debug_render` | PNG renders for looking at the UI (ignored) |
//!
//! ```sh
//! WGPU_BACKEND=vulkan cargo test --release -p blockspace_app --test app
//! ```

mod clipboard;
mod crash_safety;
mod debug_render;
mod demo_page;
mod editing;
mod export;
mod files;
mod frame_scenario;
mod harness;
mod inspector_numbers;
mod memory_budget;
mod revisions;
mod run_output;
mod runs;
mod tabs;
mod ui_viewer;
mod viewer_app;
