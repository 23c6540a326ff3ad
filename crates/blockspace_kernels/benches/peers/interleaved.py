#!/usr/bin/env python3
"""Blockspace against TensorFlow and PyTorch in the same run, interleaved case by case.

    python3 crates/blockspace_kernels/benches/peers/interleaved.py --blockspace target/release/blockspace \\
        [--rounds 6] [--shapes B1,B2,B3,B4,B5] [--op Conv3DBackpropInputV2] [--dtype float32] \\
        [--threads 2] [--runs 11] [--peers tf-onednn,torch-cl] [--python PYTHON]

On a shared or noisy machine, timings drift by more than the differences being measured, and
contenders timed minutes apart see different machines. So every peer stays up as its own
process (tf_peers.py / torch_peers.py --serve, operands made once), and each round times, case
by case, `blockspace bench` and then every peer, back to back, each the median of `--runs`
calls after two warm-ups. The summary gives, per case, each contender's best and median round,
and the median over rounds of ours / fastest peer in that round: the ratio that the machine's
drift cancels out of, and the machine's fused multiply-add peak as `blockspace bench` measured
it in each round (it falls when a neighbour shares the cores; a neighbour's load on the shared
cache and memory does not show in it). Peers: tf-onednn and tf-eigen (TF_ENABLE_ONEDNN_OPTS=1 / 0),
torch-cl (channels_last_3d) and torch-ncdhw. `--python` is the interpreter that has them
(default: this one).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = {
    "tf-onednn": (["tf_peers.py", "--serve"], {"TF_ENABLE_ONEDNN_OPTS": "1"}),
    "tf-eigen": (["tf_peers.py", "--serve"], {"TF_ENABLE_ONEDNN_OPTS": "0"}),
    "torch-cl": (["torch_peers.py", "--serve", "channels_last_3d"], {}),
    "torch-ncdhw": (["torch_peers.py", "--serve", "ncdhw"], {}),
}


class Peer:
    """A peer process answering `OP CASE` lines with its timing."""

    def __init__(self, name, args):
        script, env = PEERS[name]
        cmd = [args.python, os.path.join(HERE, script[0]), *script[1:], "--ops", args.op,
               "--dtype", args.dtype, "--threads", str(args.threads), "--runs", str(args.runs),
               "--shapes", args.shapes]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env}
        self.name = name
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=env)
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            sys.exit(f"peer {name} did not start (`{' '.join(cmd)}` printed {line!r}); "
                     f"check that {args.python} has its framework installed")

    def time(self, op, case):
        self.proc.stdin.write(f"{op} {case}\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def ours(args, case):
    """`blockspace bench` on one case: its median, min and max seconds."""
    dtype = {"float32": "f32", "float64": "f64"}[args.dtype]
    cmd = [args.blockspace, "bench", "--json", "--op", args.op, "--shapes", case, "--dtype", dtype,
           "--threads", str(args.threads), "--runs", str(args.runs)]
    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    (c,) = out["cases"]
    return {**{k: c[k] for k in ("median_s", "min_s", "max_s")}, "peak": out["fma_peak_gflops"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--blockspace", required=True, help="the blockspace binary")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--shapes", default="B1,B2,B3,B4,B5")
    ap.add_argument("--op", default="Conv3DBackpropInputV2",
                    choices=["Conv3D", "Conv3DBackpropInputV2", "Conv3DBackpropFilterV2"])
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--peers", default="tf-onednn,torch-cl")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--gap", type=float, default=0.3, help="idle seconds between contenders")
    args = ap.parse_args()
    names = args.peers.split(",")
    unknown = [n for n in names if n not in PEERS]
    if unknown:
        sys.exit(f"unknown peer(s) {unknown}; choose from {sorted(PEERS)}")
    peers = [Peer(n, args) for n in names]
    shapes = args.shapes.split(",")
    who = ["blockspace", *names]
    rounds = {case: [] for case in shapes}
    print(f"{args.op}, {args.dtype}, {args.threads} thread(s), {args.rounds} rounds, "
          f"median of {args.runs} runs per contender per round", flush=True)
    for r in range(args.rounds):
        for case in shapes:
            row = {"blockspace": ours(args, case)}
            for p in peers:
                time.sleep(args.gap)
                row[p.name] = p.time(args.op, case)
            time.sleep(args.gap)
            rounds[case].append(row)
            best = min(row[n]["median_s"] for n in names)
            cells = " ".join(f"{k}={v['median_s']:.5f}" for k, v in row.items())
            print(f"round {r + 1} {case}: {cells}  ours/fastest {row['blockspace']['median_s'] / best:.3f}"
                  f"  (FMA peak {row['blockspace']['peak']:.0f} GFLOP/s)", flush=True)
    for p in peers:
        p.close()
    print()
    print("| case | " + " | ".join(f"{w} best / median s" for w in who)
          + " | ours / fastest peer, median over rounds | rounds ≤ 2/3 | FMA peak GFLOP/s, min / max |")
    print("|---|" + "---:|" * (len(who) + 3))
    for case in shapes:
        rows = rounds[case]
        cells = []
        for w in who:
            meds = [row[w]["median_s"] for row in rows]
            cells.append(f"{min(meds):.5f} / {statistics.median(meds):.5f}")
        ratios = [row["blockspace"]["median_s"] / min(row[n]["median_s"] for n in names)
                  for row in rows]
        within = sum(q <= 2 / 3 for q in ratios)
        peaks = [row["blockspace"]["peak"] for row in rows]
        print(f"| {case} | " + " | ".join(cells)
              + f" | {statistics.median(ratios):.3f} | {within} of {len(rows)} | {min(peaks):.0f} / {max(peaks):.0f} |")


if __name__ == "__main__":
    main()
