#!/usr/bin/env python3
"""Reference decode of pydicom 3.0.2's bundled test files for the ScanIO conformance test.

Usage: pip install pydicom==3.0.2 pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle
       python3 scripts/reference/pydicom_reference.py [TEST_FILES_DIR] > \
           Tests/ScanIOTests/Fixtures/pydicom_reference.json

Per file (path relative to the test_files folder): whether pydicom decodes it; the shape of
`pixel_array` (frames first when multi-frame); the transfer syntax; and statistics of the
modality values as float32 -- `apply_modality_lut` for MONOCHROME1/2, `apply_color_lut` for
PALETTE COLOR, the RGB values (pydicom converts YBR to RGB) otherwise -- min, max, mean, and
64 values at evenly spaced positions of the flattened array. Files pydicom cannot read or
decode are recorded with the reason so the test can demand a typed error from ScanIO.
"""
import json
import os
import sys

import numpy as np
import pydicom
from pydicom.pixels import apply_color_lut, apply_modality_lut

LOSSY = {
    "1.2.840.10008.1.2.4.50",  # JPEG baseline
    "1.2.840.10008.1.2.4.51",  # JPEG extended
    "1.2.840.10008.1.2.4.81",  # JPEG-LS near-lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000 (may be lossy)
    "1.2.840.10008.1.2.4.203",  # HTJ2K (may be lossy)
}


def describe(path, root):
    entry = {"file": os.path.relpath(path, root)}
    try:
        ds = pydicom.dcmread(path)
    except Exception as error:  # noqa: BLE001 - any failure is a reference outcome
        entry.update(readable=False, reason=f"{type(error).__name__}: {error}"[:200])
        return entry
    entry["readable"] = True
    tsyntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    entry["transferSyntaxUID"] = str(tsyntax) if tsyntax else None
    entry["lossy"] = str(tsyntax) in LOSSY
    if "PixelData" not in ds:
        entry["pixels"] = False
        return entry
    entry["pixels"] = True
    try:
        arr = ds.pixel_array
        photometric = str(ds.get("PhotometricInterpretation", "")).strip()
        if photometric in ("MONOCHROME1", "MONOCHROME2"):
            values = apply_modality_lut(arr, ds)
        elif photometric == "PALETTE COLOR":
            values = apply_color_lut(arr, ds)
        else:
            values = arr
        values = np.asarray(values).astype(np.float32)
    except Exception as error:  # noqa: BLE001
        entry.update(decoded=False, reason=f"{type(error).__name__}: {error}"[:200])
        return entry
    flat = values.reshape(-1)
    positions = np.linspace(0, flat.size - 1, 64).astype(np.int64)
    entry.update(
        decoded=True,
        photometric=photometric,
        shape=list(values.shape),
        frames=int(ds.get("NumberOfFrames", 1) or 1),
        rescaleSlope=float(ds.get("RescaleSlope", 1) or 1),
        min=float(flat.min()),
        max=float(flat.max()),
        mean=float(flat.astype(np.float64).mean()),
        positions=positions.tolist(),
        samples=[float(v) for v in flat[positions]],
    )
    return entry


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser(
        "~/.cache/medtransfer/pydicom-3.0.2/test_files")
    entries = []
    for folder, _, names in sorted(os.walk(root)):
        for name in sorted(names):
            if name.startswith(".") or name.endswith((".json", ".txt", ".dump", ".icc", ".gz")):
                continue
            entries.append(describe(os.path.join(folder, name), root))
    json.dump(
        {"generator": "scripts/reference/pydicom_reference.py", "pydicom": pydicom.__version__,
         "files": entries}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
