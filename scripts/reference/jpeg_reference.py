#!/usr/bin/env python3
"""Small JPEG fixtures and libjpeg-turbo's decode of them (through Pillow) for ScanIO's reader.

Usage: pip install pillow==13.0.0
       python3 scripts/reference/jpeg_reference.py Tests/ScanIOTests/Fixtures/jpeg

Writes four 13 x 11 JPEGs -- baseline and progressive, gray and colour (4:2:0 and 4:2:2 chroma
subsampling) -- of a deterministic pattern (gradients, a sharp edge, seeded noise; 13 x 11 is
not a multiple of the 8 or 16 pixel MCU, so partial blocks and edge upsampling are exercised),
plus cmyk.jpg (a valid Adobe CMYK JPEG, which ScanIO refuses with a typed error), and
reference.json with, per file, the pixels Pillow decodes in the file's own layout (L or
RGB) and, for colour files, the gray image libjpeg produces itself (Pillow's draft("L") sets
libjpeg's out_color_space to JCS_GRAYSCALE: the luma channel Y, no chroma decoding).
JPEGImageTests (Tests/ScanIOTests) decodes the same files with ScanIO and compares.
"""
import json
import os
import random
import sys

import PIL
from PIL import Image, features

WIDTH, HEIGHT = 13, 11


def pattern(seed):
    rng = random.Random(seed)
    rgb = []
    for y in range(HEIGHT):
        for x in range(WIDTH):
            edge = 200 if x >= 7 else 30
            r = min(255, max(0, edge + rng.randint(-20, 20)))
            g = min(255, max(0, 20 * y + rng.randint(-10, 10)))
            b = min(255, max(0, 255 - 18 * x - 5 * y))
            rgb.append((r, g, b))
    image = Image.new("RGB", (WIDTH, HEIGHT))
    image.putdata(rgb)
    return image


CASES = [
    # name, mode, save options
    ("gray_baseline", "L", {"quality": 90}),
    ("gray_progressive", "L", {"quality": 85, "progressive": True}),
    ("rgb_baseline", "RGB", {"quality": 90, "subsampling": 2}),  # 4:2:0
    ("rgb_progressive", "RGB", {"quality": 85, "progressive": True, "subsampling": 1}),  # 4:2:2
]


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    cases = []
    for index, (name, mode, options) in enumerate(CASES):
        source = pattern(seed=index)
        if mode == "L":
            source = source.convert("L")
        path = os.path.join(out_dir, name + ".jpg")
        source.save(path, "JPEG", **options)
        decoded = Image.open(path)
        decoded.load()
        assert decoded.mode == mode and decoded.size == (WIDTH, HEIGHT), (name, decoded.mode)
        case = {
            "file": name + ".jpg",
            "progressive": bool(options.get("progressive", False)),
            "width": WIDTH,
            "height": HEIGHT,
            "channels": 1 if mode == "L" else 3,
            "pixels": list(decoded.tobytes()),  # interleaved, row-major
        }
        if mode == "RGB":
            luma = Image.open(path)
            luma.draft("L", luma.size)
            luma.load()
            assert luma.mode == "L" and luma.size == (WIDTH, HEIGHT), (name, luma.mode)
            case["gray"] = list(luma.tobytes())
        cases.append(case)
    pattern(seed=len(CASES)).convert("CMYK").save(os.path.join(out_dir, "cmyk.jpg"), "JPEG")
    reference = {
        "generator": "scripts/reference/jpeg_reference.py",
        "pillow": PIL.__version__,
        "libjpeg_turbo": features.version("libjpeg_turbo"),
        "cases": cases,
        "unsupported": ["cmyk.jpg"],
    }
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(reference, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Tests/ScanIOTests/Fixtures/jpeg")
