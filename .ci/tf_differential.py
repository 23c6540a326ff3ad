#!/usr/bin/env python3
"""Fresh random cases for every op, answered by TensorFlow itself, for `blockspace conformance`.

    python .ci/tf_differential.py --seed S --count N --out cases.json
    blockspace conformance cases.json

The cases are made the way `shared/conformance/` was: TensorFlow's stock CPU kernels
(`TF_ENABLE_ONEDNN_OPTS=0`), eager `tf.raw_ops`, small-integer values so every result compares
exactly, TensorFlow's error text for invalid problems (decoration stripped), and NCDHW or
dilated problems derived from an NDHWC, undilated run (valid ones only). About a third of the
convolution cases are broken on purpose (wrong ranks, channels, batch, sizes, attribute
lengths and values, an operand of the other float dtype). Two things the shared cases avoid
are avoided here too:
- `Conv3D` with SAME padding that would be negative (TensorFlow's Eigen kernel shifts the
  window there; the op's definition, which Blockspace follows, clamps the padding at zero);
- `Conv3DBackpropInputV2` with no output channels (TensorFlow's stock kernel then returns
  uninitialised memory, or dies of SIGFPE).
TensorFlow runs in a worker process; a case that kills it is dropped and reported.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

CONV_OPS = ["Conv3DBackpropInputV2", "Conv3D", "Conv3DBackpropFilterV2"]
BINARY = ["AddV2", "Sub", "Mul"]
REDUCE = ["Sum", "Max"]


def out_size(n, k, s, d, padding):
    eff = (k - 1) * d + 1
    if padding == "VALID":
        return (n - eff + s) // s if n - eff + s >= 0 else -1
    return (n + s - 1) // s


def tensor(rng, shape, dtype, lo=-3, hi=3):
    size = int(np.prod(shape)) if len(shape) else 1
    data = rng.integers(lo, hi + 1, size=size).astype(float).tolist()
    return {"shape": list(shape), "dtype": dtype, "data": data}


def conv_case(rng, op):
    dtype = "float64" if rng.random() < 0.25 else "float32"
    n = int(rng.integers(1, 3))
    size = [int(rng.integers(1, 8)) for _ in range(3)]
    k = [int(rng.integers(1, 5)) for _ in range(3)]
    s = [int(rng.integers(1, 4)) for _ in range(3)]
    d = [1, 1, 1]
    if rng.random() < 0.2:
        d = [int(rng.integers(1, 3)) for _ in range(3)]
    padding = "SAME" if rng.random() < 0.5 else "VALID"
    c = int(rng.integers(1, 5))
    m = int(rng.integers(1, 5))
    if rng.random() < 0.1:
        # Wide enough for the Winograd and blocked kernels.
        c, m = int(rng.choice([16, 32, 48, 64])), int(rng.choice([16, 32, 64]))
        n, size = 1, [int(rng.integers(4, 11)) for _ in range(3)]
        k = [int(rng.choice([2, 3, 4]))] * 3
        s = [int(rng.choice([1, 2]))] * 3
    fmt = "NCDHW" if rng.random() < 0.15 else "NDHWC"
    outs = [out_size(size[i], k[i], s[i], d[i], padding) for i in range(3)]
    x_shape = [n] + size + [c]
    f_shape = k + [c, m]
    dy_shape = [n] + [max(o, 1) for o in outs] + [m]
    strides = [1] + s + [1]
    dil = [1] + d + [1]
    sizes_dtype = "int64" if rng.random() < 0.2 else "int32"
    bad = None
    if rng.random() < 0.3 and fmt == "NDHWC" and d == [1, 1, 1]:
        bad = str(rng.choice([
            "dy_channels", "batch", "dy_spatial", "filter_rank", "dy_rank", "x_rank",
            "sizes_len", "sizes_negative", "batch_stride", "zero_stride", "dilation_below_1",
            "c_mismatch", "channel_stride", "filter_zero", "big_dilation_batch",
            "strides_len4", "strides_len6", "dil_len4", "dil_len6", "bad_padding", "bad_format",
            "sizes_rank2", "sizes_huge", "batch_zero", "m_zero", "spatial_zero", "neg_stride",
        ]))
        if bad == "dy_channels":
            dy_shape[4] += 1
        elif bad == "batch":
            dy_shape[0] += 1
        elif bad == "dy_spatial":
            dy_shape[1 + int(rng.integers(0, 3))] += 1
        elif bad == "filter_rank":
            f_shape = f_shape[:4]
        elif bad == "dy_rank":
            dy_shape = dy_shape[:4]
        elif bad == "x_rank":
            x_shape = x_shape[1:]
        elif bad == "sizes_len":
            x_shape = x_shape[:4]
        elif bad == "sizes_negative":
            x_shape[1] = -2
        elif bad == "batch_stride":
            strides[0] = 2
        elif bad == "channel_stride":
            strides[4] = 2
        elif bad == "zero_stride":
            strides[1 + int(rng.integers(0, 3))] = 0
        elif bad == "dilation_below_1":
            dil[1 + int(rng.integers(0, 3))] = int(rng.integers(-1, 1))
        elif bad == "c_mismatch":
            f_shape[3] += 1
        elif bad == "filter_zero":
            f_shape[int(rng.integers(0, 5))] = 0
        elif bad == "big_dilation_batch":
            dil[0] = 2
        elif bad == "strides_len4":
            strides = strides[:4]
        elif bad == "strides_len6":
            strides = strides + [1]
        elif bad == "dil_len4":
            dil = dil[:4]
        elif bad == "dil_len6":
            dil = dil + [1]
        elif bad == "bad_padding":
            padding = str(rng.choice(["EXPLICIT", "same", "FULL"]))
        elif bad == "bad_format":
            fmt = str(rng.choice(["NHWC", "ndhwc", "NCHW"]))
        elif bad == "batch_zero":
            x_shape[0] = 0
            dy_shape[0] = 0
        elif bad == "m_zero" and op != "Conv3DBackpropInputV2":
            # (TensorFlow's stock input gradient returns uninitialised memory for M = 0.)
            f_shape[4] = 0
            dy_shape[4] = 0
        elif bad == "spatial_zero":
            i = int(rng.integers(0, 3))
            x_shape[1 + i] = 0
            o = out_size(0, k[i], s[i], d[i], padding)
            dy_shape[1 + i] = max(o, 0)
        elif bad == "neg_stride":
            strides[1 + int(rng.integers(0, 3))] = -1
    if fmt == "NCDHW" and len(x_shape) == 5:
        perm = lambda v: [v[0], v[4], v[1], v[2], v[3]]  # noqa: E731
        x_shape, dy_shape, strides, dil = perm(x_shape), perm(dy_shape), perm(strides), perm(dil)
    if op == "Conv3D" and padding == "SAME" and len(x_shape) == 5:
        for i in range(3):
            eff = (k[i] - 1) * d[i] + 1
            if (outs[i] - 1) * s[i] + eff < size[i]:
                return None
    attrs = {"strides": strides, "padding": padding, "data_format": fmt, "dilations": dil}
    if bad == "x_rank" and op != "Conv3DBackpropInputV2" and any(v <= 0 for v in x_shape):
        bad = None
    safe = lambda shape: [max(v, 0) for v in shape]  # noqa: E731
    other = "float32" if dtype == "float64" else "float64"  # a mismatched operand
    if op == "Conv3DBackpropInputV2":
        sizes = {"shape": [len(x_shape)], "dtype": sizes_dtype, "data": x_shape}
        if bad == "sizes_rank2":
            sizes = {"shape": [1, len(x_shape)], "dtype": sizes_dtype, "data": x_shape}
        elif bad == "sizes_huge":
            sizes = {"shape": [5], "dtype": "int64", "data": [1, 2**40, 2**40, 1, c]}
        inputs = {
            "input_sizes": sizes,
            "filter": tensor(rng, safe(f_shape), dtype),
            "out_backprop": tensor(rng, safe(dy_shape), dtype if rng.random() < 0.95 else other),
        }
    elif op == "Conv3D":
        inputs = {"input": tensor(rng, safe(x_shape), dtype), "filter": tensor(rng, safe(f_shape), dtype)}
    else:
        inputs = {
            "input": tensor(rng, safe(x_shape), dtype),
            "filter_sizes": {"shape": [1, len(f_shape)] if bad == "sizes_rank2" else [len(f_shape)],
                             "dtype": "int32", "data": f_shape},
            "out_backprop": tensor(rng, safe(dy_shape), dtype),
        }
    return {"op": op, "inputs": inputs, "attrs": attrs, "tags": [bad or "valid", fmt, dtype]}


def broadcast_shapes(rng):
    rank = int(rng.integers(0, 5))
    base = [int(rng.integers(1, 4)) for _ in range(rank)]
    a = list(base)
    b = list(base[int(rng.integers(0, rank + 1)):]) if rank else []
    for shape in (a, b):
        for i in range(len(shape)):
            if rng.random() < 0.3:
                shape[i] = 1
            if rng.random() < 0.05:
                shape[i] = 0
    if rng.random() < 0.15 and a:
        a[int(rng.integers(0, len(a)))] += 1
    if rng.random() < 0.5:
        a, b = b, a
    return a, b


def arith_case(rng):
    dtype = "float64" if rng.random() < 0.3 else "float32"
    op = str(rng.choice(BINARY + REDUCE + ["Abs"]))
    if op in BINARY:
        a, b = broadcast_shapes(rng)
        other = dtype if rng.random() < 0.9 else ("float32" if dtype == "float64" else "float64")
        return {"op": op, "inputs": {"x": tensor(rng, a, dtype), "y": tensor(rng, b, other)}, "attrs": {}}
    if op == "Abs":
        shape = [int(rng.integers(0, 4)) for _ in range(int(rng.integers(0, 5)))]
        return {"op": op, "inputs": {"x": tensor(rng, shape, dtype)}, "attrs": {}}
    rank = int(rng.integers(0, 5))
    shape = [int(rng.integers(0 if rng.random() < 0.1 else 1, 4)) for _ in range(rank)]
    naxes = int(rng.integers(0, rank + 2))
    axes = [int(rng.integers(-rank - 1, rank + 1)) for _ in range(naxes)]
    axis_dtype = "int64" if rng.random() < 0.3 else "int32"
    axis = {"shape": [len(axes)], "dtype": axis_dtype, "data": axes}
    if rng.random() < 0.15 and axes:
        axis = {"shape": [], "dtype": axis_dtype, "data": axes[:1]}
    return {
        "op": op,
        "inputs": {"input": tensor(rng, shape, dtype), "axis": axis},
        "attrs": {"keep_dims": bool(rng.random() < 0.5)},
    }


# ----------------------------------------------------------------------------- worker


def worker():
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import tensorflow as tf

    def arr(t):
        dt = {"float32": np.float32, "float64": np.float64, "int32": np.int32, "int64": np.int64}[t["dtype"]]
        return np.array(t["data"], dtype=dt).reshape(t["shape"])

    def clean(msg):
        if msg.startswith("{{function_node"):
            msg = msg[msg.index("}}") + 2:].lstrip()
        msg = msg.split("\n\t; NodeDef")[0]
        cut = msg.rfind(" [Op:")
        if cut >= 0:
            msg = msg[:cut]
        return msg

    def derivation(case):
        """How TensorFlow's stock kernel is made to answer a case it refuses as given."""
        op, attrs = case["op"], case["attrs"]
        if op not in CONV_OPS:
            return []
        ncdhw = attrs["data_format"] == "NCDHW"
        spatial = attrs["dilations"][2:5] if ncdhw else attrs["dilations"][1:4]
        return (["NCDHW"] if ncdhw else []) + (["dilations"] if any(v > 1 for v in spatial) else [])

    def run(case, derived):
        op, attrs = case["op"], dict(case["attrs"])
        ins = {k: arr(v) for k, v in case["inputs"].items()}
        if "NCDHW" in derived:
            to_l = lambda a: np.transpose(a, (0, 2, 3, 4, 1))  # noqa: E731
            p = lambda v: [v[0], v[2], v[3], v[4], v[1]]  # noqa: E731
            attrs["data_format"] = "NDHWC"
            attrs["strides"], attrs["dilations"] = p(attrs["strides"]), p(attrs["dilations"])
            for key in ("input", "out_backprop"):
                if key in ins:
                    ins[key] = to_l(ins[key])
            if "input_sizes" in ins:
                ins["input_sizes"] = np.array(p(list(ins["input_sizes"])), dtype=ins["input_sizes"].dtype)
        d = attrs["dilations"][1:4] if op in CONV_OPS else [1, 1, 1]  # NDHWC by now
        if "dilations" in derived:
            if op == "Conv3DBackpropFilterV2":
                ks = list(ins["filter_sizes"])
                eff = [(ks[i] - 1) * d[i] + 1 for i in range(3)]
                ins["filter_sizes"] = np.array(eff + ks[3:], dtype=np.int32)
            else:
                f = ins["filter"]
                eff = [(f.shape[i] - 1) * d[i] + 1 for i in range(3)]
                big = np.zeros(eff + list(f.shape[3:]), dtype=f.dtype)
                big[:: d[0], :: d[1], :: d[2]] = f
                ins["filter"] = big
            attrs["dilations"] = [1, 1, 1, 1, 1]
        out = getattr(tf.raw_ops, op)(**{k: tf.constant(v) for k, v in ins.items()}, **attrs).numpy()
        if "dilations" in derived and op == "Conv3DBackpropFilterV2":
            out = out[:: d[0], :: d[1], :: d[2]]
        if "NCDHW" in derived and op != "Conv3DBackpropFilterV2":
            out = np.transpose(out, (0, 4, 1, 2, 3))
        return out

    for line in sys.stdin:
        case = json.loads(line)
        derived = derivation(case)
        try:
            out = run(case, derived)
            dtype = str(out.dtype)
            result = {"expected": {"shape": list(out.shape), "dtype": dtype, "data": out.reshape(-1).tolist()},
                      "compare": {"mode": "exact"}}
            if derived:
                result["derived"] = True
                result["derivation"] = "+".join(derived)
        except Exception as e:  # noqa: BLE001
            if derived:
                # Only valid problems are derived: TensorFlow's text would name the stand-in.
                result = {"skip": "derived case invalid: " + clean(str(e))[:200]}
            else:
                result = {"error": {"class": type(e).__name__, "message": clean(getattr(e, "message", str(e)))}}
        print(json.dumps(result), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--out", required=True)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker()
    rng = np.random.default_rng(args.seed)
    cases, crashed, skipped = [], [], 0
    proc = None
    for i in range(args.count):
        case = None
        while case is None:
            case = conv_case(rng, str(rng.choice(CONV_OPS))) if rng.random() < 0.7 else arith_case(rng)
        case["name"] = f"d{args.seed}_{i:04d}"
        if proc is None:
            proc = subprocess.Popen([sys.executable, __file__, "--worker", "--out", "-"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        proc.stdin.write(json.dumps(case) + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line:
            proc.wait()
            crashed.append((case["name"], proc.returncode, case))
            proc = None
            continue
        result = json.loads(line)
        if "skip" in result:
            skipped += 1
            continue
        case.update(result)
        cases.append(case)
    if proc:
        proc.stdin.close()
        proc.wait()
    json.dump({"meta": {"seed": args.seed, "tensorflow": "stock CPU kernels"}, "cases": cases},
              open(args.out, "w"))
    nerr = sum(1 for c in cases if "error" in c)
    print(f"{len(cases)} cases ({nerr} errors), {skipped} skipped, {len(crashed)} crashed TensorFlow")
    for name, rc, case in crashed:
        print("crash", name, rc, json.dumps({k: case[k] for k in ("op", "attrs")}),
              {k: v["shape"] for k, v in case["inputs"].items()})


if __name__ == "__main__":
    main()
