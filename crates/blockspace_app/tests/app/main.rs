//! The app's tests, in one binary with one shared harness ([`harness`]):
//!
//! | module | what |
//! |---|---|
//! | `ui_app` | the real app driven as a user would (egui_kittest) |
//! | `ui_viewer` | the tensor viewer widget, with an image snapshot |
//! | `frame_scenario` | the 200-block pan/zoom/drag scenario, functionally (its timing: `cargo bench -p blockspace_app --bench frame_time`) |
//! | `demo_page` | the embedded demo page, and its generator (ignored) |
//! | `debug_render` | PNG renders for looking at the UI (ignored) |
//!
//! ```sh
//! WGPU_BACKEND=vulkan cargo test --release -p blockspace_app --test app
//! ```

mod debug_render;
mod demo_page;
mod frame_scenario;
mod harness;
mod ui_app;
mod ui_viewer;
