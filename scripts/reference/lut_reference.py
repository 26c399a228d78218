#!/usr/bin/env python3
"""Reference values for ScanIO's Modality LUT Sequence and VOI LUT Sequence handling.

Usage: pip install pydicom==3.0.2 numpy
       python3 scripts/reference/lut_reference.py > Tests/ScanIOTests/Fixtures/lut_reference.json

Each case is a small image (stored values) with one LUT item. The script builds the dataset
with pydicom (LUT Data as OW, explicit VR little endian, as ScanIO's writer stores it) and
records pydicom's `apply_modality_lut` output -- or, for VOI cases, `apply_voi_lut` applied
to the rescaled values -- next to the inputs. LookupTableTests writes the same image with
DCMTK, decodes it with ScanIO and compares with these values and with the closed form
(clamp(value - firstMapped, 0, count - 1) indexes the table).
"""
import json
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian


def dataset(stored, bits_stored, signed, lut, sequence, rescale=None):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.Rows, ds.Columns = 1, len(stored)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits_stored, bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
    item = Dataset()
    count = len(lut["entries"])
    first = lut["firstMapped"]
    item.add_new(0x00283002, "SS" if first < 0 else "US",
                 [count if count < 65536 else 0, first, lut["bits"]])
    item.add_new(0x00283006, "OW", np.asarray(lut["entries"], dtype="<u2").tobytes())
    setattr(ds, sequence, Sequence([item]))
    return ds


def case(name, kind, stored, bits_stored, signed, lut, rescale=None):
    arr = np.asarray(stored, dtype=np.int16 if signed else np.uint16)
    if kind == "modality":
        ds = dataset(stored, bits_stored, signed, lut, "ModalityLUTSequence")
        values = apply_modality_lut(arr, ds)
    else:
        ds = dataset(stored, bits_stored, signed, lut, "VOILUTSequence", rescale)
        modality = apply_modality_lut(arr, ds)
        # pydicom indexes the VOI LUT with the integer part of the modality values.
        values = apply_voi_lut(np.floor(modality).astype(np.int32), ds)
    return {
        "name": name, "kind": kind, "stored": [int(v) for v in stored],
        "bitsStored": bits_stored, "signed": signed,
        "rescale": list(rescale) if rescale else None, "lut": lut,
        "expected": [float(v) for v in np.asarray(values).reshape(-1)],
    }


def main():
    cases = [
        # Unsigned 16-bit: values below, inside and above the 64-entry table.
        case("modality-unsigned", "modality", [90 + 4 * i for i in range(32)], 16, False,
             {"firstMapped": 100, "bits": 16, "entries": [1000 + 37 * k for k in range(64)]}),
        # Signed 12-bit stored values, negative first mapped value (SS descriptor); pydicom
        # only handles 8- or 16-bit Modality LUT entries.
        case("modality-signed-12", "modality", [-60 + 7 * i for i in range(24)], 12, True,
             {"firstMapped": -20, "bits": 16,
              "entries": [(k * k * 7) % 65536 for k in range(100)]}),
        # VOI LUT on CT-like rescaled values: HU = stored - 1024.5, table from -1100 HU.
        case("voi-ct", "voi", [0, 10, 50, 76, 77, 100, 200, 300, 330, 331, 400, 4095], 12, False,
             {"firstMapped": -1100, "bits": 12, "entries": [16 * k for k in range(256)]},
             rescale=(1.0, -1024.5)),
    ]
    json.dump({"generator": "scripts/reference/lut_reference.py", "pydicom": pydicom.__version__,
               "cases": cases}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
