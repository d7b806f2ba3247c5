#!/usr/bin/env python3
"""Where the time goes: build and emulate every configuration that matters.

For float32/int8 x reference/CMSIS-NN kernels x ITCM=none/kernels/all (the
arena in DTCM, the weights in flash), plus int8 + CMSIS-NN with the weights
in DTCM and in OCRAM: build with scons, run command `2` (the built-in digit)
in the emulator under the calibrated timing model (caches, FlexSPI, the
dual-issue core: bench/calibration.py says how well it predicts a board), and
print one markdown table:

  instructions inside MicroInterpreter::Invoke, modelled cycles and
  milliseconds at 600 MHz, the share of those instructions fetched from
  flash, where the cycles went (instruction fetch and data stalls), the
  two largest layers, the image's FLASH/ITCM/DTCM/OCRAM bytes, and the change
  in cycles against ITCM=none.

It also checks that placement never changes results: every placement of a
model and kernel set must print the same ten outputs as its ITCM=none build.

    python3 bench/firmware.py                 # the table on stdout
    python3 bench/firmware.py --readme        # and into README.md's table

Needs third_party (scons deps). Placements of one configuration share their
objects, so the twelve builds cost four compiles.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import bootstrap  # noqa: F401,E402 (site_scons on sys.path)
from teensyml.paths import ROOT  # noqa: E402

from teensyml import console_protocol, options  # noqa: E402
from teensyml.build_layout import build_layout  # noqa: E402

import readme_block  # noqa: E402 (bench/, beside this script)

INVOKE = "tflite::MicroInterpreter::Invoke"
MACS = 2_794_240          # the MNIST CNN, batch 1 (DESIGN.md section 3)


def configurations():
    for model in ("int8", "float32"):
        for cmsis_nn in ("0", "1"):
            for itcm in ("none", "kernels", "all"):
                yield {"MODEL": model, "USE_CMSIS_NN": cmsis_nn, "ITCM": itcm}
    yield {"MODEL": "int8", "USE_CMSIS_NN": "1", "ITCM": "kernels", "MODEL_MEM": "dtcm"}
    yield {"MODEL": "int8", "USE_CMSIS_NN": "1", "ITCM": "kernels", "MODEL_MEM": "ocram"}
    # CMSIS-NN's own files instead of ours (src/cmsis_nn_tuned/): what they gain.
    yield {"MODEL": "int8", "USE_CMSIS_NN": "1", "ITCM": "kernels", "TUNED_KERNELS": "0"}


def build(settings):
    arguments = [f"{key}={value}" for key, value in settings.items()]
    subprocess.run([sys.executable, "-m", "SCons", "-Q", *arguments], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return str(build_layout(options.resolve(settings)).link)


def emulate(variant_dir):
    with tempfile.NamedTemporaryFile(suffix=".json") as stats:
        result = subprocess.run(
            [sys.executable, os.path.join(ROOT, "tools", "emulate.py"),
             os.path.join(variant_dir, "firmware.hex"), "--headless", "--send", "2",
             "--until", r"predicted: \d", "--max-seconds", "120", "--timing", "calibrated",
             "--between", INVOKE, "--stats-json", stats.name],
            capture_output=True, text=True, check=True)
        counters = json.load(open(stats.name))
    between = next(value for key, value in counters["between"].items() if key.startswith(INVOKE))
    return console_protocol.parse_result(result.stdout), between, counters["host_seconds"]


def region_bytes(variant_dir):
    with open(os.path.join(variant_dir, "firmware.size.json")) as stream:
        regions = json.load(stream)["regions"]
    return {name: regions[name]["used"] for name in ("FLASH", "ITCM", "DTCM", "OCRAM")}


# The seed's firmware text bytes (DESIGN.md section 4): its uncompressed model
# without CMSIS-NN, its compressed (int8) model with CMSIS-NN.
SEED_TEXT = {("float32", "0"): 642_300, ("int8", "1"): 387_108}
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4


def berkeley_sizes(elf_path):
    """text, data and bss as `arm-none-eabi-size` counts them: allocated
    sections that are code or read-only, written with contents, written
    without."""
    from elftools.elf.elffile import ELFFile
    sizes = {"text": 0, "data": 0, "bss": 0}
    with open(elf_path, "rb") as stream:
        for section in ELFFile(stream).iter_sections():
            flags = section["sh_flags"]
            if not flags & SHF_ALLOC:
                continue
            if flags & SHF_EXECINSTR or not flags & SHF_WRITE:
                sizes["text"] += section["sh_size"]
            elif section["sh_type"] == "SHT_NOBITS":
                sizes["bss"] += section["sh_size"]
            else:
                sizes["data"] += section["sh_size"]
    return sizes


def label(settings):
    kernels = "CMSIS-NN" if settings["USE_CMSIS_NN"] == "1" else "reference"
    text = f"{settings['MODEL']} {kernels} ITCM={settings['ITCM']}"
    return text + "".join(f" {key}={settings[key]}" for key in ("MODEL_MEM", "TUNED_KERNELS")
                          if key in settings)


def measure(log):
    rows, baseline, reference_outputs = [], {}, {}
    for settings in configurations():
        log(f"bench: {label(settings)}")
        variant_dir = build(settings)
        result, between, host = emulate(variant_dir)
        key = (settings["MODEL"], settings["USE_CMSIS_NN"])
        reference_outputs.setdefault(key, result.outputs)
        if result.outputs != reference_outputs[key]:
            raise SystemExit(f"placement changed the results of {label(settings)}: "
                             f"{result.outputs} != {reference_outputs[key]}")
        cycles = between["cycles"]
        baseline.setdefault(key, cycles)
        flash_share = between["fetches"]["FLASH"] / between["instructions"]
        rows.append({"configuration": label(settings), "settings": settings,
                     "instructions": between["instructions"],
                     "cycles": cycles, "flash_share": flash_share, "layers": result.layers,
                     "calibrated": between["calibrated"],
                     "bytes": region_bytes(variant_dir),
                     "sizes": berkeley_sizes(os.path.join(variant_dir, "firmware.elf")),
                     "change": cycles / baseline[key] - 1.0, "host": host})
    return rows


def table(rows):
    lines = ["| configuration | instructions (per MAC) | cycles (per MAC) | ms @600 MHz "
             "| flash fetches | fetch / data stall cycles | largest layers (cycles) "
             "| FLASH / ITCM / DTCM / OCRAM bytes | vs ITCM=none |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        largest = sorted(row["layers"], key=lambda layer: -layer.cycles)[:2]
        layers = ", ".join(f"{layer.index} {layer.op} {layer.cycles:,}" for layer in largest)
        sizes = " / ".join(f"{row['bytes'][name]:,}" for name in ("FLASH", "ITCM", "DTCM", "OCRAM"))
        stalls = row["calibrated"]
        lines.append(f"| {row['configuration']} | {row['instructions']:,} "
                     f"({row['instructions'] / MACS:.2f}) | {row['cycles']:,} "
                     f"({row['cycles'] / MACS:.2f}) "
                     f"| {row['cycles'] / 600e3:.2f} | {100 * row['flash_share']:.2f}% "
                     f"| {stalls['fetch_stall']:,} / {stalls['data_stall']:,} "
                     f"| {layers} | {sizes} | {100 * row['change']:+.1f}% |")
    return "\n".join(lines)


def layer_table(rows):
    """Milliseconds per layer of the int8 CMSIS-NN builds, the seed's way."""
    chosen = [row for row in rows if row["settings"]["MODEL"] == "int8"
              and row["settings"]["USE_CMSIS_NN"] == "1" and row["settings"]["ITCM"] != "all"]
    lines = ["| layer | " + " | ".join(row["configuration"].replace("int8 CMSIS-NN ", "")
                                      for row in chosen) + " |",
             "|---|" + "---|" * len(chosen)]
    for index, layer in enumerate(chosen[0]["layers"]):
        cells = " | ".join(f"{row['layers'][index].cycles / 600e3:.3f}" for row in chosen)
        lines.append(f"| {layer.index} {layer.op} | {cells} |")
    lines.append("| total (ms) | " + " | ".join(f"{row['cycles'] / 600e3:.2f}"
                                                for row in chosen) + " |")
    return "\n".join(lines)


def size_table(rows, log):
    """text/data/bss of the four configurations (default placement, the USB
    console), the text of each with the LPUART console (CONSOLE=uart, the
    seed's kind of console: built, not run) and the seed's text."""
    lines = ["| configuration | text | data | bss | text with CONSOLE=uart | the seed's text |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        settings = row["settings"]
        if settings["ITCM"] != "kernels" or set(settings) - {"MODEL", "USE_CMSIS_NN", "ITCM"}:
            continue
        log(f"bench: {label(settings)} CONSOLE=uart (size)")
        uart = berkeley_sizes(os.path.join(build(dict(settings, CONSOLE="uart")),
                                           "firmware.elf"))
        seed = SEED_TEXT.get((settings["MODEL"], settings["USE_CMSIS_NN"]))
        sizes = row["sizes"]
        lines.append(f"| {row['configuration']} | {sizes['text']:,} | {sizes['data']:,} "
                     f"| {sizes['bss']:,} | {uart['text']:,} | {f'{seed:,}' if seed else '—'} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="also update README.md")
    args = parser.parse_args()
    readme = os.path.join(ROOT, "README.md")
    if args.readme:
        readme_block.check(readme, "firmware")
    log = lambda message: print(message, file=sys.stderr)  # noqa: E731
    rows = measure(log)
    text = table(rows) + "\n\nPer layer, int8 with CMSIS-NN, milliseconds at 600 MHz:\n\n" + \
        layer_table(rows) + "\n\nFirmware sizes (bytes, as `arm-none-eabi-size` counts " \
        "them; text includes the model and the code copied to ITCM):\n\n" + \
        size_table(rows, log)
    print(text)
    if args.readme:
        readme_block.replace(readme, "firmware", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
