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
