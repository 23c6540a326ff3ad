#!/usr/bin/env python3
"""Times PyTorch's CPU kernels for the three 3-D convolution ops on the B1-B5 shapes of
`blockspace bench`, NCDHW and channels_last_3d, for a same-machine comparison.

    python3 crates/blockspace_kernels/benches/peers/torch_peers.py [--dtype float32] [--threads 2] [--runs 9] [--ops Conv3D,...] [--serve LAYOUT]

Padding is TensorFlow's SAME/VALID (explicit F.pad), as in shared/docs/framework-equivalents.md.
Prints one JSON object: median, min and max seconds per op, layout and case. With --serve
ncdhw|channels_last_3d it stays up and times the `OP CASE` requests read from stdin (one JSON
line each), for interleaved.py. Needs `pip install torch`.
"""
import json

from common import CASES, arguments, serve, timing


def pads(i, k, s, padding):
    if padding == "VALID":
        return 0, 0
    out = -(-i // s)
    total = max((out - 1) * s + k - i, 0)
    return total // 2, total - total // 2


LAYOUTS = ["ncdhw", "channels_last_3d"]


def build(dtype, shapes, ops, layouts):
    """The PyTorch call of each `(op, case, layout)` for `ops`, on random operands made once."""
    import torch
    import torch.nn.functional as F

    dt = getattr(torch, dtype)
    g = torch.Generator().manual_seed(0)
    calls = {}
    for name in shapes:
        xs, fs, s, padding = CASES[name]
        n, d, h, w, c = xs
        p = [pads(xs[1 + i], fs[i], s, padding) for i in range(3)]
        x = torch.rand(n, c, d, h, w, generator=g, dtype=dt) * 2 - 1
        wt = torch.rand(fs[4], fs[3], fs[0], fs[1], fs[2], generator=g, dtype=dt) * 2 - 1
        flat = [p[2][0], p[2][1], p[1][0], p[1][1], p[0][0], p[0][1]]
        for layout in layouts:
            mf = torch.channels_last_3d if layout != "ncdhw" else torch.contiguous_format
            xp = F.pad(x, flat).contiguous(memory_format=mf)
            wl = wt.contiguous(memory_format=mf)
            y = F.conv3d(xp, wl, stride=s)
            dy = (torch.rand(y.shape, generator=g, dtype=dt) * 2 - 1).contiguous(memory_format=mf)
            each = {
                "Conv3D": lambda xp=xp, wl=wl, s=s: F.conv3d(xp, wl, stride=s),
                "Conv3DBackpropFilterV2": lambda xp=xp, wl=wl, dy=dy, s=s:
                    torch.nn.grad.conv3d_weight(xp, wl.shape, dy, stride=s),
                "Conv3DBackpropInputV2": lambda dy=dy, wl=wl, s=s: F.conv_transpose3d(dy, wl, stride=s),
            }
            for op, fn in each.items():
                if op in ops:
                    calls[(op, name, layout)] = torch.no_grad()(fn)
    return calls


def main():
    ap = arguments()
    ap.add_argument("--serve", choices=LAYOUTS, help="time requests read from stdin, in this layout")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    shapes = args.shapes.split(",")
    calls = build(args.dtype, shapes, args.ops.split(","), [args.serve] if args.serve else LAYOUTS)
    if args.serve:
        serve(lambda op, case: calls[(op, case, args.serve)], args.runs)
        return
    out = {"torch": torch.__version__, "dtype": args.dtype, "threads": args.threads, "results": []}
    for (op, name, layout), fn in calls.items():
        out["results"].append({"op": op, "layout": layout, "case": name, **timing(fn, args.runs)})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
