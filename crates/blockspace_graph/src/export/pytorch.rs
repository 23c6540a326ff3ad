//! The PyTorch parts of exported scripts: `torch` tensors, TensorFlow's layouts kept.

use super::Target;

/// PyTorch.
pub(crate) struct PyTorch;

impl Target for PyTorch {
    fn imports(&self) -> &'static str {
        "import torch\nimport torch.nn.functional as F\n"
    }
    fn glue(&self) -> &'static str {
        "def _to_numpy(t):\n    return t.detach().cpu().numpy()\n"
    }
    fn tensor_of(&self, np_expr: &str) -> String {
        format!("torch.from_numpy({np_expr})")
    }
    fn flavour(&self) -> &'static str {
        "PyTorch (torch.nn.functional; tensors keep TensorFlow's layouts, NDHWC or NCDHW, and \
         filters [KD, KH, KW, IC, OC])"
    }
}
