#!/usr/bin/env python3
"""How well the calibrated timing model predicts real boards.

Two public calibration points, both run as the boards ran them:
1. CoreMark (bench/coremark.py): our own port, code and data in TCM, -O3;
   the i.MX RT1060 at 600 MHz scores 2440.92 iterations/s (4.07/MHz).
   Target: within 10%.
2. The original project's firmware (bench/original_firmware.py), built from
   its repository by its own CMake scripts, against its published per-layer
   table (DESIGN.md section 4). The model's fitted constants were chosen on
   the two "uncompressed" columns only; the two "compressed" columns are
   held out. Target: the total within 20%, every layer over 1 ms within 30%.

    python3 bench/calibration.py [--mirror DIR]             # print the tables
    python3 bench/calibration.py --mirror DIR --readme      # and into README.md

--mirror DIR: offline, DIR/<name> is a git repository of each optional
dependency (coremark, imxrt1062-tflite-micro-mnist), as for `scons deps`.
"""
import argparse
import os
import sys

import bootstrap  # noqa: F401 (site_scons on sys.path)
import coremark
import original_firmware as original
import readme_block
from teensyml.paths import ROOT

README = os.path.join(ROOT, "README.md")
FITTED_ON = ("uncompressed", "uncompressed-cmsis_nn")
HELD_OUT = ("compressed", "compressed-cmsis_nn")
TOTAL_TOLERANCE, LAYER_TOLERANCE, LAYER_FLOOR_MS = 0.20, 0.30, 1.0
COREMARK_TOLERANCE = 0.10


def layer_verdict(measured, ratio):
    if measured < LAYER_FLOOR_MS:
        return "(under 1 ms)"
    return "ok" if abs(ratio - 1) <= LAYER_TOLERANCE else "MISSED"


def original_table(runs):
    """One markdown table: a row per layer, predicted/measured per column."""
    configs = FITTED_ON + HELD_OUT
    head = ["layer"] + [f"{config}{' (held out)' if config in HELD_OUT else ''}: "
                        f"predicted / measured ms" for config in configs]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows = {config: original.calibration_rows(config, runs[config]) for config in configs}
    misses = []
    for index, (layer, *_rest) in enumerate(rows[configs[0]]):
        cells = [layer]
        for config in configs:
            _, predicted, measured, ratio = rows[config][index]
            tolerance = TOTAL_TOLERANCE if layer == "total" else LAYER_TOLERANCE
            verdict = ("ok" if abs(ratio - 1) <= tolerance else "MISSED") \
                if layer == "total" else layer_verdict(measured, ratio)
            if verdict == "MISSED":
                misses.append(f"{config} {layer}")
            cells.append(f"{predicted:.2f} / {measured:g} = {ratio:.2f} {verdict}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines), misses


def coremark_line(result):
    ratio = result.versus_reference
    verdict = "ok" if abs(ratio - 1) <= COREMARK_TOLERANCE else "MISSED"
    return (f"CoreMark (our port, -O3, TCM, {result.iterations} iterations): "
            f"**{result.coremark_per_mhz:.2f} CoreMark/MHz** predicted "
            f"({result.iterations_per_second:,.0f} iterations/s at 600 MHz, "
            f"{result.cycles_per_instruction:.3f} cycles per instruction) against "
            f"{coremark.REFERENCE_COREMARK_PER_MHZ:.2f} measured ({ratio:.3f}: {verdict}, "
            f"target within {COREMARK_TOLERANCE:.0%}).")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", metavar="DIR", help="offline: local git repositories")
    parser.add_argument("--readme", action="store_true", help="write the tables into "
                        "README.md")
    args = parser.parse_args(argv)
    if args.readme:
        readme_block.check(README, "calibration")
    progress = (lambda text: print(text, file=sys.stderr, flush=True))
    progress("calibration: CoreMark")
    result = coremark.measure(args.mirror, timing="calibrated", log=progress)
    runs = {}
    for config in FITTED_ON + HELD_OUT:
        progress(f"calibration: the original firmware, {config}")
        runs[config] = original.measure(config, args.mirror, timing="calibrated",
                                        progress=progress)
    table, misses = original_table(runs)
    text = "\n".join([coremark_line(result), "", table, "",
                      f"Targets missed: {', '.join(misses) if misses else 'none'}."])
    print(text)
    if args.readme:
        readme_block.replace(README, "calibration", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
