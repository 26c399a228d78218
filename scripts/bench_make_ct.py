#!/usr/bin/env python3
"""Writes N uncompressed 512x512 16-bit CT-like DICOM files for `medtransfer bench dicom`
and scripts/bench_pydicom.py (benchmark data only; not used by the tests).

Usage: python3 scripts/bench_make_ct.py OUT_DIR [--count 2000]
"""
import argparse
import os

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[-256:256, -256:256]
    body = (xx**2 / 200**2 + yy**2 / 150**2) < 1
    series = generate_uid()
    for i in range(args.count):
        image = np.where(body, 1024 + 40, 24).astype(np.int32)
        image += rng.normal(0, 20, image.shape).astype(np.int32)
        pixels = np.clip(image, 0, 4095).astype(np.uint16)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.SeriesInstanceUID = series
        ds.Modality = "CT"
        ds.InstanceNumber = i + 1
        ds.Rows, ds.Columns = pixels.shape
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.PixelRepresentation = 0
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.PixelData = pixels.tobytes()
        ds.save_as(os.path.join(args.out, f"ct{i:05d}.dcm"), enforce_file_format=True)


if __name__ == "__main__":
    main()
