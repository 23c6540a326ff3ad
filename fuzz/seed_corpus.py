#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/ (seed-*.bin files):
the examples, and the hostile classes of issue 10 (nested-dict .npy headers, zero and huge
dimensions, byte-order marks, duplicate keys, device paths, cycles, deep nesting, ...).
Inputs the fuzzers keep are added beside them by hand (see docs/fuzzing.md)."""
import glob
import json
import os
import struct

ROOT = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(ROOT)


def put(target, name, data):
    d = os.path.join(ROOT, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# --- pages -----------------------------------------------------------------------------------
for p in sorted(glob.glob(os.path.join(REPO, "examples", "*.bspage.json"))):
    text = open(p, "rb").read()
    if len(text) <= 64 * 1024:
        put("page_file", os.path.basename(p), text)
minimal = open(os.path.join(REPO, "examples", "minimal.bspage.json"), "rb").read()
put("page_file", "bom.json", b"\xef\xbb\xbf" + minimal)
put("page_file", "duplicate_key.json", '{"format": "blockspace.page", "format": "x", "version": 1, "blocks": [], "wires": []}')
put("page_file", "empty", b"")
put("page_file", "null.json", "null")
put("page_file", "deep_arrays.json", "[" * 5000 + "]" * 5000)
put("page_file", "deep_objects.json", '{"a":' * 3000 + "1" + "}" * 3000)
page = json.loads(minimal)
page_dev = json.loads(minimal)
for b in page_dev["blocks"]:
    if b["type"] == "Input":
        b["attrs"] = {"mode": "npy", "path": "/dev/zero"}
        break
put("page_file", "npy_dev_zero.json", json.dumps(page_dev))
cyc = {"format": "blockspace.page", "version": 1, "name": "cycle", "next_block_id": 3,
       "blocks": [{"id": 1, "type": "Abs", "name": "a", "pos": [0, 0], "attrs": {}},
                  {"id": 2, "type": "Abs", "name": "b", "pos": [0, 0], "attrs": {}}],
       "wires": [{"from": {"block": 1, "port": "y"}, "to": {"block": 2, "port": "x"}},
                 {"from": {"block": 2, "port": "y"}, "to": {"block": 1, "port": "x"}}]}
put("page_file", "cycle.json", json.dumps(cyc))
big = json.loads(minimal)
for b in big["blocks"]:
    if b["type"] == "Input":
        b["attrs"]["shape"] = [4611686018427387904, 4, 0]
put("page_file", "huge_shape.json", json.dumps(big))
put("page_file", "huge_number.json", minimal.decode().replace('"version": 1', '"version": 1e400', 1))

# --- .npy files ------------------------------------------------------------------------------
def npy(header, data=b"", version=1):
    h = header.encode("latin1")
    pad = 64 - ((10 if version == 1 else 12) + len(h) + 1) % 64
    h = h + b" " * pad + b"\n"
    if version == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + data
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<I", len(h)) + h + data


put("npy_file", "f32_2x3.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", struct.pack("<6f", *range(6))))
put("npy_file", "i64_be.npy", npy("{'descr': '>i8', 'fortran_order': False, 'shape': (3,), }", struct.pack(">3q", 1, -2, 2**62)))
put("npy_file", "f64_fortran.npy", npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }", struct.pack("<4d", 1, 2, 3, 4)))
put("npy_file", "i32_scalar.npy", npy("{'descr': '<i4', 'fortran_order': False, 'shape': (), }", struct.pack("<i", 7)))
put("npy_file", "v3.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", struct.pack("<f", 1.5), version=3))
put("npy_file", "zero_and_huge.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 9223372036854775807, 9223372036854775807), }"))
put("npy_file", "overflow.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }"))
nested = "{'descr': " + "{'a': " * 40 + "1" + "}" * 40 + ", 'fortran_order': False, 'shape': (1,), }"
put("npy_file", "nested_dict.npy", npy(nested))
put("npy_file", "pickle.npy", npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", b"\x80\x04N."))
put("npy_file", "truncated.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100,), }", b"\x00" * 10))
put("npy_file", "header_len_huge.npy", b"\x93NUMPY\x02\x00\xff\xff\xff\x7f{")
put("npy_file", "extra_key.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", b"\x00" * 4))
put("npy_file", "not_npy", b"PK\x03\x04 zip file")

# --- conformance files -------------------------------------------------------------------------
confs = sorted(glob.glob(os.path.join(REPO, "..", "shared", "conformance", "*.json")) +
               glob.glob(os.path.join(REPO, "..", "shared", "conformance", "ops", "*.json")))
small = [c for c in confs if os.path.getsize(c) <= 48 * 1024][:4]
for c in small:
    put("conformance_file", os.path.basename(c), open(c, "rb").read())
if confs:
    doc = json.load(open(min(confs, key=os.path.getsize)))
    doc["cases"] = doc.get("cases", [])[:1]
    one = json.dumps(doc)
    put("conformance_file", "one_case.json", one)
    put("conformance_file", "one_case_bom.json", b"\xef\xbb\xbf" + one.encode())
    put("conformance_file", "one_case_dup.json", one.replace("{", '{"cases": [], ', 1))
put("conformance_file", "no_cases.json", '{"cases": 3}')
put("conformance_file", "nan.json", '{"cases": [{"op": "Abs", "inputs": {"x": {"dtype": "float32", "shape": [1], "values": [NaN]}}}]}')
put("conformance_file", "deep.json", '{"cases": ' + "[" * 4000 + "]" * 4000 + "}")

# --- op parameters (see crates/blockspace_graph/src/fuzzing/op_params.rs for the decoding) ----
def i(v):  # a small int as Bytes::int decodes it (b % 12 - 3)
    return v + 3


bp = bytes([0, 0, 5, i(1), i(4), i(4), i(4), i(2), 5, 2, 2, 2, 2, 3, 5, 1, 4, 4, 4, 3])
put("op_params", "backprop_input.bin", bp)
put("op_params", "backprop_input_m0.bin", bytes([0, 0, 5, i(1), i(8), i(8), i(8), i(2), 5, 8, 8, 8, 2, 0, 5, 1, 8, 8, 8, 0]))
put("op_params", "backprop_input_huge.bin", bytes([0, 0, 5, 0xFD, i(8), 0xFD, i(8), i(2), 5, 0xFE, 2, 2, 2, 3, 5, 1, 4, 4, 4, 3]))
put("op_params", "conv3d.bin", bytes([1, 0, 5, 1, 4, 4, 4, 2, 5, 2, 2, 2, 2, 3]))
put("op_params", "conv3d_strides.bin", bytes([1, 4, 5, i(1), i(2), i(0), i(2), i(1), 5, 1, 4, 4, 4, 2, 5, 2, 2, 2, 2, 3]))
put("op_params", "filter.bin", bytes([2, 1, 5, i(2), i(2), i(2), i(2), i(3), 5, 1, 4, 4, 4, 2, 5, 1, 3, 3, 3, 3]))
put("op_params", "filter_zero_batch.bin", bytes([2, 0, 5, i(2), i(2), i(2), i(2), i(3), 5, 0, 4, 4, 4, 2, 5, 0, 4, 4, 4, 3]))
put("op_params", "reduce.bin", bytes([3, 3, 2, 3, 4, 2, i(0), i(-1), 1, 1]))
put("op_params", "reduce_empty.bin", bytes([3, 2, 0, 5, 1, i(1), 0, 0]))
put("op_params", "binary.bin", bytes([4, 2, 2, 3, 1, 3, 2]))
put("op_params", "binary_huge.bin", bytes([4, 2, 0xFE, 0xFE, 2, 0xFE, 0, 0]))

# --- commands (see crates/blockspace_graph/src/fuzzing/commands.rs) ------------------------------
put("commands", "add_each.bin", bytes([0, 0, 0, 1, 2, 0, 0, 1, 3, 0, 0, 2, 4, 0]))
put("commands", "connect_cycle.bin", bytes([2, 1, 0, 2, 0, 2, 2, 0, 1, 0, 2, 3, 0, 1, 1]))
nan = struct.pack("<I", 0x7FC00000)
inf = struct.pack("<f", float("inf"))
put("commands", "move_nan.bin", bytes([4, 1, 1, 1]) + nan + inf)
put("commands", "add_nan.bin", bytes([0, 0, 1]) + nan + nan + bytes([0]))
put("commands", "set_attrs.bin", bytes([5, 1, 0, 3, 5]) + b"fill!" + bytes([5, 1, 2, 1]) + struct.pack("<d", float("nan")) + bytes([5, 2, 3, 4, 5, 0xFF]) + struct.pack("<Q", 2**63 - 1))
put("commands", "rename.bin", bytes([6, 1, 6]) + b"a/../b" + bytes([6, 2, 3]) + b"\xff\xfe\x00")
put("commands", "batch.bin", bytes([7, 3, 1, 1, 2, 1, 0, 2, 0, 6, 2, 2]) + b"zz")
put("commands", "remove_all.bin", bytes([1, 1, 1, 2, 1, 3, 1, 4, 1, 5, 1, 6, 1, 7, 1, 8, 1, 9, 1, 10, 1, 11]))
