#!/usr/bin/env python3
"""Blockspace page "adjoint_check", exported for TensorFlow (eager, tf.raw_ops with the page's attributes).

Run:  python THIS.py [--output DIR [--force]] [--compare DIR]
  --output DIR   writes one .npy per block output (the file names of
                 `blockspace run PAGE --output DIR`) and prints each block's shape and dtype;
                 each file is written to a temporary file and renamed, existing files are
                 kept unless --force, this script's input files never replaced
  --compare DIR  compares every output with the .npy files of another run (e.g. Blockspace's)
                 and prints the max absolute and relative error per block; exit 1 beyond
                 tolerance

Larger inputs are read from the folder adjoint_check_tensorflow_inputs beside this script.
"""

import argparse
import os
import sys
import tempfile

import numpy as np
import tensorflow as tf

INPUTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "adjoint_check_tensorflow_inputs")


def _load(name):
    return np.load(os.path.join(INPUTS, name))


def _to_numpy(t):
    return t.numpy()


def compute():
    """Computes every block in dependency order; returns (block name, output file name, value,
    names of the blocks it reads) per output."""
    # --- x: Input (mode "normal", dtype "float64", shape [1, 7, 6, 5, 3], mean 0, std 1, seed 1) -> float64 [1, 7, 6, 5, 3]
    x = tf.constant(_load("x.npy"))
    # --- filter: Input (mode "normal", dtype "float64", shape [3, 3, 3, 3, 4], mean 0, std 1, seed 2) -> float64 [3, 3, 3, 3, 4]
    filter = tf.constant(_load("filter.npy"))
    # --- dy: Input (mode "normal", dtype "float64", shape [1, 4, 3, 3, 4], mean 0, std 1, seed 3) -> float64 [1, 4, 3, 3, 4]
    dy = tf.constant(_load("dy.npy"))
    # --- x_sizes: Input (mode "literal", dtype "int32", shape [], values "1, 7, 6, 5, 3") -> int32 [5]
    x_sizes = tf.constant(np.array([1, 7, 6, 5, 3], dtype=np.int32))
    # --- filter_sizes: Input (mode "literal", dtype "int32", shape [], values "3, 3, 3, 3, 4") -> int32 [5]
    filter_sizes = tf.constant(np.array([3, 3, 3, 3, 4], dtype=np.int32))
    # --- all_axes: Input (mode "literal", dtype "int32", shape [], values "0, 1, 2, 3, 4") -> int32 [5]
    all_axes = tf.constant(np.array([0, 1, 2, 3, 4], dtype=np.int32))
    # --- y: Conv3D (strides [1, 2, 2, 2, 1], padding "SAME", data_format "NDHWC", dilations [1, 1, 1, 1, 1]) -> float64 [1, 4, 3, 3, 4]
    y = tf.raw_ops.Conv3D(input=x, filter=filter, strides=[1, 2, 2, 2, 1], padding="SAME", data_format="NDHWC", dilations=[1, 1, 1, 1, 1])
    # --- dx: Conv3DBackpropInputV2 (strides [1, 2, 2, 2, 1], padding "SAME", data_format "NDHWC", dilations [1, 1, 1, 1, 1]) -> float64 [1, 7, 6, 5, 3]
    dx = tf.raw_ops.Conv3DBackpropInputV2(input_sizes=x_sizes, filter=filter, out_backprop=dy, strides=[1, 2, 2, 2, 1], padding="SAME", data_format="NDHWC", dilations=[1, 1, 1, 1, 1])
    # --- dfilter: Conv3DBackpropFilterV2 (strides [1, 2, 2, 2, 1], padding "SAME", data_format "NDHWC", dilations [1, 1, 1, 1, 1]) -> float64 [3, 3, 3, 3, 4]
    dfilter = tf.raw_ops.Conv3DBackpropFilterV2(input=x, filter_sizes=filter_sizes, out_backprop=dy, strides=[1, 2, 2, 2, 1], padding="SAME", data_format="NDHWC", dilations=[1, 1, 1, 1, 1])
    # --- y.dy_product: Mul -> float64 [1, 4, 3, 3, 4]
    y_dy_product = tf.raw_ops.Mul(x=y, y=dy)
    # --- y.dy: Sum (keep_dims false) -> float64 []
    y_dy = tf.raw_ops.Sum(input=y_dy_product, axis=all_axes, keep_dims=False)
    # --- x.dx_product: Mul -> float64 [1, 7, 6, 5, 3]
    x_dx_product = tf.raw_ops.Mul(x=x, y=dx)
    # --- x.dx: Sum (keep_dims false) -> float64 []
    x_dx = tf.raw_ops.Sum(input=x_dx_product, axis=all_axes, keep_dims=False)
    # --- filter.dfilter_product: Mul -> float64 [3, 3, 3, 3, 4]
    filter_dfilter_product = tf.raw_ops.Mul(x=filter, y=dfilter)
    # --- filter.dfilter: Sum (keep_dims false) -> float64 []
    filter_dfilter = tf.raw_ops.Sum(input=filter_dfilter_product, axis=all_axes, keep_dims=False)
    # --- gap_input_signed: Sub -> float64 []
    gap_input_signed = tf.raw_ops.Sub(x=y_dy, y=x_dx)
    # --- gap_input: Abs -> float64 []
    gap_input = tf.raw_ops.Abs(x=gap_input_signed)
    # --- gap_filter_signed: Sub -> float64 []
    gap_filter_signed = tf.raw_ops.Sub(x=y_dy, y=filter_dfilter)
    # --- gap_filter: Abs -> float64 []
    gap_filter = tf.raw_ops.Abs(x=gap_filter_signed)
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
