#!/usr/bin/env python3
"""TFLM's own example models on the emulated board: build each with both
kernel sets, run its real inputs (teensyml.model.tflm_examples) through command 4
under the calibrated timing model, compare every output with TFLM's host
runtime, and print one markdown table: cycles and microseconds per inference
(the mean over the inputs), the image's FLASH bytes and the arena used, and
the comparison.

    python3 bench/examples.py                 # the table on stdout
    python3 bench/examples.py --readme        # and into README.md's table

Needs third_party (scons deps).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import bootstrap  # noqa: F401,E402 (site_scons on sys.path)
from teensyml.paths import ROOT  # noqa: E402

import numpy as np  # noqa: E402

from teensyml import memory_map as mm  # noqa: E402
from teensyml import options, run_model  # noqa: E402
from teensyml.model import tflm_examples  # noqa: E402
from teensyml.build_layout import build_layout  # noqa: E402

import readme_block  # noqa: E402 (bench/, beside this script)

THIRD_PARTY = os.path.join(ROOT, "third_party")
KERNEL_SETS = {"reference": "0", "cmsis_nn": "1"}


def build(model_path, cmsis_nn):
    settings = {"MODEL": model_path, "USE_CMSIS_NN": cmsis_nn}
    subprocess.run([sys.executable, "-m", "SCons", "-Q",
                    *(f"{key}={value}" for key, value in settings.items())],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return str(build_layout(options.resolve(settings)).link)


def measure(example, kernels, log):
    model = example.model_path(THIRD_PARTY)
    variant_dir = build(model, KERNEL_SETS[kernels])
    inputs = example.inputs(THIRD_PARTY, os.path.join(ROOT, "models"))
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "inputs.npy")
        np.save(path, inputs)
        settings = run_model.Settings(
            input=path, output="", compare=True, port="", baud=115200, timeout=600.0,
            firmware=os.path.join(variant_dir, "firmware.hex"),
            elf=os.path.join(variant_dir, "firmware.elf"), model=model)
        description, samples, results = run_model.run_on_firmware(settings, sys.stderr)
    comparison = run_model.compare_with_host(model, description, samples,
                                             [outputs for outputs, _ in results])
    with open(os.path.join(variant_dir, "firmware.size.json")) as stream:
        flash = json.load(stream)["regions"]["FLASH"]["used"]
    cycles = [answer.total_cycles for _, answer in results]
    log(f"bench: {example.name} {kernels}: {np.mean(cycles):,.0f} cycles")
    return {"example": example, "kernels": kernels, "cycles": float(np.mean(cycles)),
            "flash": flash, "arena": description.arena_used, "samples": len(samples),
            "comparison": comparison}


def agreement(row):
    comparison = row["comparison"]
    equal = sum(output.equal for output in comparison.outputs)
    total = sum(output.samples for output in comparison.outputs)
    if comparison.agrees:
        return f"equal on {equal}/{total}"
    text = f"differs on {total - equal}/{total} (largest {max(o.largest for o in comparison.outputs):g})"
    return text + ("; a known difference applies" if comparison.known else "; unexplained")


def table(rows):
    lines = ["| example (inputs) | kernels | cycles per inference | µs @600 MHz | FLASH bytes "
             "| arena used | outputs vs TFLM's host runtime |", "|---|---|---:|---:|---:|---:|---|"]
    for row in rows:
        example = row["example"]
        lines.append(f"| {example.name} ({example.inputs_note}) | {row['kernels']} "
                     f"| {row['cycles']:,.0f} | {row['cycles'] / (mm.CORE_CLOCK_HZ / 1e6):,.1f} "
                     f"| {row['flash']:,} | {row['arena']:,} | {agreement(row)} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readme", action="store_true", help="also write README.md's table")
    arguments = parser.parse_args()
    readme = os.path.join(ROOT, "README.md")
    if arguments.readme:
        readme_block.check(readme, "examples")
    rows = [measure(example, kernels, lambda text: print(text, file=sys.stderr))
            for example in tflm_examples.EXAMPLES for kernels in KERNEL_SETS]
    text = table(rows)
    print(text)
    if arguments.readme:
        readme_block.replace(readme, "examples", text)
    return 0 if all(row["comparison"].agrees for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
