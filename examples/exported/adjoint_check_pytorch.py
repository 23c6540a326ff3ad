#!/usr/bin/env python3
"""Blockspace page "adjoint_check", exported for PyTorch (torch.nn.functional; tensors keep TensorFlow's layouts, NDHWC or NCDHW, and filters [KD, KH, KW, IC, OC]).

Run:  python THIS.py [--output DIR [--force]] [--compare DIR]
  --output DIR   writes one .npy per block output (the file names of
                 `blockspace run PAGE --output DIR`) and prints each block's shape and dtype;
                 each file is written to a temporary file and renamed, existing files are
                 kept unless --force, this script's input files never replaced
  --compare DIR  compares every output with the .npy files of another run (e.g. Blockspace's)
                 and prints the max absolute and relative error per block; exit 1 beyond
                 tolerance

Larger inputs are read from the folder adjoint_check_pytorch_inputs beside this script.
"""

import argparse
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

INPUTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "adjoint_check_pytorch_inputs")


def _load(name):
    return np.load(os.path.join(INPUTS, name))


def _to_numpy(t):
    return t.detach().cpu().numpy()


def _pt_to_ncdhw(x, data_format):
    return x.permute(0, 4, 1, 2, 3) if data_format == "NDHWC" else x


def _pt_from_ncdhw(x, data_format):
    return (x.permute(0, 2, 3, 4, 1) if data_format == "NDHWC" else x).contiguous()


def _pt_weight(f):
    """A TensorFlow filter [KD, KH, KW, IC, OC] as a PyTorch weight [OC, IC, KD, KH, KW]."""
    return f.permute(4, 3, 0, 1, 2)


def _pt_pad_list(pads):
    """[[before, after]] for D, H, W as F.pad's list, which starts with the last dimension."""
    return [amount for before_after in reversed(pads) for amount in before_after]


def _pt_conv3d(x, f, strides, pads, dilations, data_format):
    """TensorFlow's Conv3D: TensorFlow's (asymmetric) padding written out, then F.conv3d."""
    x = F.pad(_pt_to_ncdhw(x, data_format), _pt_pad_list(pads))
    y = F.conv3d(x, _pt_weight(f), stride=strides, dilation=dilations)
    return _pt_from_ncdhw(y, data_format)


def _pt_conv3d_backprop_input(input_sizes, f, dy, strides, pads, dilations, data_format):
    """TensorFlow's Conv3DBackpropInputV2: the unpadded F.conv_transpose3d, then per spatial dim
    the positions [before, before + size) (F.pad crops with negative amounts; positions no
    window reaches get zeros)."""
    full = F.conv_transpose3d(_pt_to_ncdhw(dy, data_format), _pt_weight(f), stride=strides,
                              dilation=dilations)
    spatial = input_sizes[1:4] if data_format == "NDHWC" else input_sizes[2:5]
    amounts = []
    for axis in (2, 1, 0):
        before = pads[axis][0]
        amounts += [-before, spatial[axis] + before - full.shape[2 + axis]]
    return _pt_from_ncdhw(F.pad(full, amounts), data_format)


def _pt_conv3d_backprop_filter(x, filter_sizes, dy, strides, pads, dilations, data_format):
    """TensorFlow's Conv3DBackpropFilterV2: PyTorch's weight gradient on the padded input,
    permuted back to [KD, KH, KW, IC, OC]."""
    x = F.pad(_pt_to_ncdhw(x, data_format), _pt_pad_list(pads))
    kd, kh, kw, ic, oc = filter_sizes
    g = torch.nn.grad.conv3d_weight(x, [oc, ic, kd, kh, kw], _pt_to_ncdhw(dy, data_format),
                                    stride=strides, dilation=dilations)
    return g.permute(2, 3, 4, 1, 0).contiguous()


def compute():
    """Computes every block in dependency order; returns (block name, output file name, value,
    names of the blocks it reads) per output."""
    # --- x: Input (mode "normal", dtype "float64", shape [1, 7, 6, 5, 3], mean 0, std 1, seed 1) -> float64 [1, 7, 6, 5, 3]
    x = torch.from_numpy(_load("x.npy"))
    # --- filter: Input (mode "normal", dtype "float64", shape [3, 3, 3, 3, 4], mean 0, std 1, seed 2) -> float64 [3, 3, 3, 3, 4]
    filter = torch.from_numpy(_load("filter.npy"))
    # --- dy: Input (mode "normal", dtype "float64", shape [1, 4, 3, 3, 4], mean 0, std 1, seed 3) -> float64 [1, 4, 3, 3, 4]
    dy = torch.from_numpy(_load("dy.npy"))
    # --- x_sizes: Input (mode "literal", dtype "int32", shape [], values "1, 7, 6, 5, 3") -> int32 [5]
    x_sizes = torch.from_numpy(np.array([1, 7, 6, 5, 3], dtype=np.int32))
    # --- filter_sizes: Input (mode "literal", dtype "int32", shape [], values "3, 3, 3, 3, 4") -> int32 [5]
    filter_sizes = torch.from_numpy(np.array([3, 3, 3, 3, 4], dtype=np.int32))
    # --- all_axes: Input (mode "literal", dtype "int32", shape [], values "0, 1, 2, 3, 4") -> int32 [5]
    all_axes = torch.from_numpy(np.array([0, 1, 2, 3, 4], dtype=np.int32))
    # --- y: Conv3D (strides [1, 2, 2, 2, 1], padding "SAME", data_format "NDHWC", dilations [1, 1, 1, 1, 1]) -> float64 [1, 4, 3, 3, 4]
    # TensorFlow's SAME padding per spatial dim, [before, after] = [[1, 1], [0, 1], [1, 1]].
    y = _pt_conv3d(x, filter, strides=[2, 2, 2], pads=[[1, 1], [0, 1], [1, 1]], dilations=[1, 1, 1], data_format="NDHWC")
    # --- dx: Conv3DBackpropInputV2 (strides [1, 2, 2, 2, 1], padding "SAME", data_format "NDHWC", dilations [1, 1, 1, 1, 1]) -> float64 [1, 7, 6, 5, 3]
    # TensorFlow's SAME padding per spatial dim, [before, after] = [[1, 1], [0, 1], [1, 1]].
    dx = _pt_conv3d_backprop_input([1, 7, 6, 5, 3], filter, dy, strides=[2, 2, 2], pads=[[1, 1], [0, 1], [1, 1]], dilations=[1, 1, 1], data_format="NDHWC")
    # --- dfilter: Conv3DBackpropFilterV2 (strides [1, 2, 2, 2, 1], padding "SAME", data_format "NDHWC", dilations [1, 1, 1, 1, 1]) -> float64 [3, 3, 3, 3, 4]
    # TensorFlow's SAME padding per spatial dim, [before, after] = [[1, 1], [0, 1], [1, 1]].
    dfilter = _pt_conv3d_backprop_filter(x, [3, 3, 3, 3, 4], dy, strides=[2, 2, 2], pads=[[1, 1], [0, 1], [1, 1]], dilations=[1, 1, 1], data_format="NDHWC")
    # --- y.dy_product: Mul -> float64 [1, 4, 3, 3, 4]
    y_dy_product = torch.mul(y, dy)
    # --- y.dy: Sum (keep_dims false) -> float64 []
    y_dy = torch.sum(y_dy_product, dim=[0, 1, 2, 3, 4], keepdim=False)
    # --- x.dx_product: Mul -> float64 [1, 7, 6, 5, 3]
    x_dx_product = torch.mul(x, dx)
    # --- x.dx: Sum (keep_dims false) -> float64 []
    x_dx = torch.sum(x_dx_product, dim=[0, 1, 2, 3, 4], keepdim=False)
    # --- filter.dfilter_product: Mul -> float64 [3, 3, 3, 3, 4]
    filter_dfilter_product = torch.mul(filter, dfilter)
    # --- filter.dfilter: Sum (keep_dims false) -> float64 []
    filter_dfilter = torch.sum(filter_dfilter_product, dim=[0, 1, 2, 3, 4], keepdim=False)
    # --- gap_input_signed: Sub -> float64 []
    gap_input_signed = torch.sub(y_dy, x_dx)
    # --- gap_input: Abs -> float64 []
    gap_input = torch.abs(gap_input_signed)
    # --- gap_filter_signed: Sub -> float64 []
    gap_filter_signed = torch.sub(y_dy, filter_dfilter)
    # --- gap_filter: Abs -> float64 []
    gap_filter = torch.abs(gap_filter_signed)
    return [
        ("x", "x.npy", x, []),
        ("filter", "filter.npy", filter, []),
        ("dy", "dy.npy", dy, []),
        ("x_sizes", "x_sizes.npy", x_sizes, []),
        ("filter_sizes", "filter_sizes.npy", filter_sizes, []),
        ("all_axes", "all_axes.npy", all_axes, []),
        ("y", "y.npy", y, ["x", "filter"]),
        ("dx", "dx.npy", dx, ["x_sizes", "filter", "dy"]),
        ("dfilter", "dfilter.npy", dfilter, ["x", "filter_sizes", "dy"]),
        ("y.dy_product", "y.dy_product.npy", y_dy_product, ["y", "dy"]),
        ("y.dy", "y.dy.npy", y_dy, ["y.dy_product", "all_axes"]),
        ("x.dx_product", "x.dx_product.npy", x_dx_product, ["x", "dx"]),
        ("x.dx", "x.dx.npy", x_dx, ["x.dx_product", "all_axes"]),
        ("filter.dfilter_product", "filter.dfilter_product.npy", filter_dfilter_product, ["filter", "dfilter"]),
        ("filter.dfilter", "filter.dfilter.npy", filter_dfilter, ["filter.dfilter_product", "all_axes"]),
        ("gap_input_signed", "gap_input_signed.npy", gap_input_signed, ["y.dy", "x.dx"]),
        ("gap_input", "gap_input.npy", gap_input, ["gap_input_signed"]),
        ("gap_filter_signed", "gap_filter_signed.npy", gap_filter_signed, ["y.dy", "filter.dfilter"]),
        ("gap_filter", "gap_filter.npy", gap_filter, ["gap_filter_signed"]),
    ]


OUTPUT_FILES = [
    "x.npy",
    "filter.npy",
    "dy.npy",
    "x_sizes.npy",
    "filter_sizes.npy",
    "all_axes.npy",
    "y.npy",
    "dx.npy",
    "dfilter.npy",
    "y.dy_product.npy",
    "y.dy.npy",
    "x.dx_product.npy",
    "x.dx.npy",
    "filter.dfilter_product.npy",
    "filter.dfilter.npy",
    "gap_input_signed.npy",
    "gap_input.npy",
    "gap_filter_signed.npy",
    "gap_filter.npy",
]


# Tolerance of --compare, per dtype, relative to a block's scale: the largest magnitude among its
# output and every float value upstream of it. float64: the agreement TensorFlow's and Blockspace's
# kernels reach in practice (sums in another order, rounding only). float32: about 170 units in
# the last place (2^-24 = 6e-8) of that scale, room for sums of a few thousand terms in another
# order. Integers must be equal. Judged against the upstream scale, a difference of two nearly
# equal sums is held to the sums' accuracy, not to its own tiny size.
TOLERANCE = {"float32": 1e-5, "float64": 1e-12}


def _max_abs(a):
    finite = a[np.isfinite(a)] if a.dtype.kind == "f" else a
    return float(np.max(np.abs(finite))) if finite.size else 0.0


def _compare(results, ref_dir):
    """Compares every output with the .npy file of the same name in ref_dir; returns 0 or 1."""
    scales = {}
    failures = 0
    for block, file, value, deps in results:
        path = os.path.join(ref_dir, file)
        kind = value.dtype.kind
        upstream = max([scales.get(d, 0.0) for d in deps], default=0.0)
        scales[block] = max(upstream, _max_abs(value) if kind == "f" else 0.0)
        if not os.path.exists(path):
            print(f"{block:<28} MISSING {path}")
            failures += 1
            continue
        ref = np.load(path)
        if ref.shape != value.shape or ref.dtype != value.dtype:
            print(f"{block:<28} DIFFERS: {ref.dtype} {list(ref.shape)} in {path}, "
                  f"computed {value.dtype} {list(value.shape)}")
            failures += 1
            continue
        if kind != "f":
            wrong = int(np.count_nonzero(ref != value))
            print(f"{block:<28} {'exact' if wrong == 0 else f'{wrong} values differ':<61} "
                  f"{'ok' if wrong == 0 else 'DIFFERS'}")
            failures += wrong > 0
            continue
        a = value.astype(np.float64)
        b = ref.astype(np.float64)
        scale = max(scales[block], _max_abs(b), float(np.finfo(value.dtype).tiny))
        scales[block] = scale
        same_special = np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(
            a[~np.isfinite(a) & ~np.isnan(a)], b[~np.isfinite(b) & ~np.isnan(b)])
        both = np.isfinite(a) & np.isfinite(b)
        err = float(np.max(np.abs(a[both] - b[both]))) if both.any() else 0.0
        if not same_special or not np.array_equal(np.isfinite(a), np.isfinite(b)):
            err = float("inf")
        rel = err / max(_max_abs(b), float(np.finfo(value.dtype).tiny))
        tol = TOLERANCE[str(value.dtype)]
        ok = err <= tol * scale
        print(f"{block:<28} max abs err {err:.3e}  max rel err {rel:.3e}  "
              f"(scale {scale:.3e}, tol {tol:.0e})  {'ok' if ok else 'DIFFERS'}")
        failures += not ok
    print(f"{len(results) - failures} of {len(results)} outputs agree with {ref_dir}")
    return 1 if failures else 0


def _existing_outputs(out_dir):
    """The output files already in out_dir (symbolic links included, even dangling ones)."""
    return [f for f in OUTPUT_FILES if os.path.lexists(os.path.join(out_dir, f))]


def _own_inputs(out_dir):
    """The script's input files an output in out_dir would replace."""
    if not os.path.isdir(INPUTS):
        return []
    own = {os.path.realpath(os.path.join(INPUTS, n)) for n in os.listdir(INPUTS)}
    return [f for f in OUTPUT_FILES if os.path.realpath(os.path.join(out_dir, f)) in own]


def _save_atomically(path, value):
    """Writes value to a temporary file beside path, flushed to disk, then renamed over path: the
    file is the old version or the new one, whole, and a symbolic link at path is replaced, not
    followed."""
    fd, tmp = tempfile.mkstemp(prefix=".blockspace-", suffix=".npy.tmp",
                               dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, value)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _refuse(message):
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", metavar="DIR",
                        help="write one .npy per block output into DIR (the names of "
                             "`blockspace run --output DIR`); existing files are kept unless "
                             "--force")
    parser.add_argument("--force", action="store_true",
                        help="with --output: replace files that already exist in DIR")
    parser.add_argument("--compare", metavar="DIR",
                        help="compare every output with the .npy files in DIR; exit 1 beyond "
                             "tolerance")
    args = parser.parse_args(argv)
    if args.output:
        # Refused before computing anything, as `blockspace run --output` does.
        own = _own_inputs(args.output)
        if own:
            return _refuse(f"--output {args.output} would replace this script's own input "
                           f"files ({', '.join(own[:5])}); choose another folder")
        existing = _existing_outputs(args.output)
        if existing and not args.force:
            shown = ", ".join(existing[:5]) + (f" and {len(existing) - 5} more"
                                               if len(existing) > 5 else "")
            return _refuse(f"{len(existing)} file(s) already exist in {args.output}: {shown}; "
                           f"pass --force to replace them, or choose another folder")
    results = [(block, file, np.asarray(_to_numpy(value), order="C"), deps)
               for block, file, value, deps in compute()]
    for block, _, value, _ in results:
        print(f"{block:<28} {str(list(value.shape)):<22} {value.dtype}")
    if args.output:
        os.makedirs(args.output, exist_ok=True)
        for _, file, value, _ in results:
            _save_atomically(os.path.join(args.output, file), value)
    if args.compare:
        return _compare(results, args.compare)
    return 0


if __name__ == "__main__":
    sys.exit(main())
