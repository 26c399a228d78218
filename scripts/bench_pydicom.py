#!/usr/bin/env python3
"""pydicom baseline for `medtransfer bench dicom`: decode every file under DIR to float32
modality values (all frames) with a pool of worker processes.

Per file: pydicom.dcmread + pixel_array + apply_modality_lut (monochrome) / apply_color_lut
(palette), then .astype(float32). Files pydicom cannot decode are counted as failed and left
out of the rates, like ours.

Usage: python3 scripts/bench_pydicom.py DIR [--workers 2] [--repeats 1]
Prints {"files_per_second": ..., "megabytes_per_second": ..., ...} (MB of float32 values).
Needs: pip install pydicom==3.0.2 pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle
"""
import argparse
import json
import multiprocessing
import os
import time
import warnings


def decode(path):
    import numpy as np
    import pydicom
    from pydicom.pixels import apply_color_lut, apply_modality_lut

    try:
        ds = pydicom.dcmread(path)
        arr = ds.pixel_array
        photometric = str(ds.get("PhotometricInterpretation", "")).strip()
        if photometric in ("MONOCHROME1", "MONOCHROME2"):
            arr = apply_modality_lut(arr, ds)
        elif photometric == "PALETTE COLOR":
            arr = apply_color_lut(arr, ds)
        values = np.asarray(arr, dtype=np.float32)
        return values.nbytes
    except Exception:  # noqa: BLE001 - a failed file is a measured outcome
        return -1


def init():
    warnings.simplefilter("ignore")
    import logging
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    files = sorted(
        os.path.join(folder, name)
        for folder, _, names in os.walk(args.directory)
        for name in names
        if not name.startswith("."))
    with multiprocessing.Pool(args.workers, initializer=init) as pool:
        pool.map(decode, files[: 4 * args.workers])  # warm up imports in every worker
        best = None
        for _ in range(max(args.repeats, 1)):
            start = time.perf_counter()
            sizes = pool.map(decode, files, chunksize=16)
            seconds = time.perf_counter() - start
            if best is None or seconds < best[0]:
                best = (seconds, sizes)
    seconds, sizes = best
    ok = [s for s in sizes if s >= 0]
    print(json.dumps({
        "files_per_second": round(len(ok) / seconds, 3),
        "megabytes_per_second": round(sum(ok) / 1e6 / seconds, 3),
        "files": len(files), "decoded": len(ok), "failed": len(files) - len(ok),
        "seconds": round(seconds, 3), "workers": args.workers}))


if __name__ == "__main__":
    main()
