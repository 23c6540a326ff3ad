"""What the peer scripts share: the benchmark shapes of `blockspace bench`, their common
options, the timing loop and the request loop of --serve (for interleaved.py)."""
import argparse
import json
import statistics
import sys
import time

CASES = {
    # name: (input [N, D, H, W, C], filter [KD, KH, KW, C, M], stride, padding)
    "B1": ([1, 16, 16, 16, 8], [3, 3, 3, 8, 16], 1, "SAME"),
    "B2": ([1, 64, 64, 64, 16], [3, 3, 3, 16, 32], 2, "SAME"),
    "B3": ([2, 16, 56, 56, 64], [3, 3, 3, 64, 64], 1, "SAME"),
    "B4": ([1, 64, 64, 64, 32], [4, 4, 4, 32, 64], 2, "SAME"),
    "B5": ([4, 32, 32, 32, 64], [1, 1, 1, 64, 128], 1, "VALID"),
}

OPS = ["Conv3D", "Conv3DBackpropInputV2", "Conv3DBackpropFilterV2"]


def arguments():
    """The options every peer script takes: --dtype, --threads, --runs, --ops, --shapes."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--ops", default=",".join(OPS))
    ap.add_argument("--shapes", default="B1,B2,B3,B4,B5")
    return ap


def timing(fn, runs):
    """Two warm-up calls, then `runs` timed ones: median, min and max seconds."""
    for _ in range(2):
        fn()
    secs = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        secs.append(time.perf_counter() - t)
    return {"median_s": statistics.median(secs), "min_s": min(secs), "max_s": max(secs)}


def serve(lookup, runs):
    """Answers each line `OP CASE` on stdin with the timing of `lookup(op, case)` as one JSON
    line, after printing `ready`."""
    print("ready", flush=True)
    for line in sys.stdin:
        op, case = line.split()
        print(json.dumps(timing(lookup(op, case), runs)), flush=True)
