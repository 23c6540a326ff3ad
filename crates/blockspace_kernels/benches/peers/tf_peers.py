#!/usr/bin/env python3
"""Times TensorFlow's CPU kernels for Conv3D, Conv3DBackpropInputV2 and Conv3DBackpropFilterV2
on the B1-B5 shapes of `blockspace bench`, for a same-machine comparison.

    python3 crates/blockspace_kernels/benches/peers/tf_peers.py [--dtype float32|float64] [--threads 2] [--runs 9] [--ops Conv3D,...] [--serve]

Set TF_ENABLE_ONEDNN_OPTS=0 or =1 in the environment to pick TensorFlow's Eigen or oneDNN
kernels (its default depends on the CPU). Prints one JSON object: median, min and max seconds
per op and case. With --serve it stays up and times the `OP CASE` requests read from stdin
(one JSON line each), for interleaved.py. Needs `pip install tensorflow-cpu`.
"""
import json
import os

from common import CASES, arguments, serve, timing


def build(dtype, shapes, ops):
    """The TensorFlow call of each `(op, case)`, on random operands made once."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    calls = {}
    for name in shapes:
        xs, fs, s, pad = CASES[name]
        strides = [1, s, s, s, 1]
        x = tf.constant(rng.uniform(-1, 1, xs).astype(dtype))
        f = tf.constant(rng.uniform(-1, 1, fs).astype(dtype))
        y = tf.raw_ops.Conv3D(input=x, filter=f, strides=strides, padding=pad)
        dy = tf.constant(rng.uniform(-1, 1, y.shape).astype(dtype))
        each = {
            "Conv3D": lambda x=x, f=f, strides=strides, pad=pad: tf.raw_ops.Conv3D(
                input=x, filter=f, strides=strides, padding=pad),
            "Conv3DBackpropInputV2": lambda xs=xs, f=f, dy=dy, strides=strides, pad=pad:
                tf.raw_ops.Conv3DBackpropInputV2(
                    input_sizes=tf.constant(xs, tf.int32), filter=f, out_backprop=dy,
                    strides=strides, padding=pad),
            "Conv3DBackpropFilterV2": lambda x=x, fs=fs, dy=dy, strides=strides, pad=pad:
                tf.raw_ops.Conv3DBackpropFilterV2(
                    input=x, filter_sizes=tf.constant(fs, tf.int32), out_backprop=dy,
                    strides=strides, padding=pad),
        }
        for op in ops:
            calls[(op, name)] = lambda fn=each[op]: fn().numpy()
    return calls


def main():
    ap = arguments()
    ap.add_argument("--serve", action="store_true", help="time requests read from stdin")
    args = ap.parse_args()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    shapes, ops = args.shapes.split(","), args.ops.split(",")
    calls = build(args.dtype, shapes, ops)
    if args.serve:
        serve(lambda op, case: calls[(op, case)], args.runs)
        return
    out = {"tensorflow": tf.__version__, "dtype": args.dtype, "threads": args.threads,
           "onednn_env": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"), "results": []}
    for name in shapes:
        for op in ops:
            out["results"].append({"op": op, "case": name, **timing(calls[(op, name)], args.runs)})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
