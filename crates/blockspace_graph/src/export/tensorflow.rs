//! The TensorFlow parts of exported scripts: eager `tf.raw_ops`.

use super::Target;

/// TensorFlow, eager.
pub(crate) struct TensorFlow;

impl Target for TensorFlow {
    fn imports(&self) -> &'static str {
        "import tensorflow as tf\n"
    }
    fn glue(&self) -> &'static str {
        "def _to_numpy(t):\n    return t.numpy()\n"
    }
    fn tensor_of(&self, np_expr: &str) -> String {
        format!("tf.constant({np_expr})")
    }
    fn flavour(&self) -> &'static str {
        "TensorFlow (eager, tf.raw_ops with the page's attributes)"
    }
}
