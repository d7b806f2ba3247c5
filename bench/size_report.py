#!/usr/bin/env python3
"""How long the size report takes (target: under 2 s on the real firmware).

    bench/size_report.py [ELF]
    bench/size_report.py --readme      # and README.md's example: the report of
                                       # `scons size-report USE_CMSIS_NN=1`

Without an ELF it takes the newest build/<variant>/**/firmware.elf, else the
CI fixture (`scons fixture`). Prints the best and median of several runs of:
the full report as `scons size-report` makes it (text and json), the part
the link guard adds to every link (measure, attribute, write the json), and
the link guard as a process after a link (Python start-up included), with
and without the report.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import bootstrap  # noqa: F401,E402 (site_scons on sys.path)
import readme_block  # noqa: E402 (bench/, beside this script)
from teensyml.paths import ROOT  # noqa: E402

from teensyml import options, size_report  # noqa: E402
from teensyml.image import region_usage  # noqa: E402
from teensyml.build_layout import build_layout  # noqa: E402

RUNS = 5


def newest_elf():
    found = []
    for directory, _, files in os.walk(os.path.join(ROOT, "build")):
        if "firmware.elf" in files:
            found.append(os.path.join(directory, "firmware.elf"))
    if found:
        return max(found, key=os.path.getmtime)
    fixture = str(build_layout(options.resolve({})).fixture["elf"])
    return fixture if os.path.exists(fixture) else None


def timed(function, runs=RUNS):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def per_link(elf, map_path, scratch):
    usage = region_usage.measure(elf)
    attribution = size_report.attribute(usage, map_path)
    region_usage.check(elf, usage, attribution)
    size_report.write_build_json(size_report.from_usage(usage, map_path,
                                                        attribution=attribution), scratch)


def guard_process(elf, map_path):
    """The guard after a link (`true` stands in for the linker); without a map
    it checks and prints the summary line only, as before the size report."""
    command = [sys.executable, "-m", "teensyml.image.link_guard", "--elf", elf, "--", "true",
               "-o", elf] + ([f"-Wl,-Map={map_path}"] if map_path else [])
    subprocess.run(command, check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "site_scons")})


README_CONFIGURATION = {"USE_CMSIS_NN": "1"}
README_STOP = "Largest symbols"      # the README leaves the symbol lists out


def readme_example():
    """The report of README_CONFIGURATION's firmware (built first), up to the
    symbol lists, as a markdown code block."""
    subprocess.run([sys.executable, "-m", "SCons", "-Q"] +
                   [f"{key}={value}" for key, value in README_CONFIGURATION.items()],
                   cwd=ROOT, check=True, capture_output=True)
    elf = build_layout(options.resolve(README_CONFIGURATION)).firmware["elf"]
    os.chdir(ROOT)            # the report names the ELF as given: from the top
    text = size_report.render(size_report.build(os.path.relpath(elf, ROOT)), "text")
    return "```\n" + text[:text.index(README_STOP)].rstrip() + "\n```"


def main(argv):
    if argv == ["--readme"]:
        readme = os.path.join(ROOT, "README.md")
        readme_block.replace(readme, "size_report", readme_example())
        print(f"bench: {readme} updated")
        argv = []
    elf = argv[0] if argv else newest_elf()
    if not elf:
        print("No firmware to measure: run `scons` (or `scons fixture`) first.")
        return 1
    map_path = size_report.map_path_of(elf)
    report = size_report.build(elf)
    symbols = sum(r["symbol_count"] for r in report["regions"].values())
    print(f"{os.path.relpath(elf, ROOT)}: ELF {os.path.getsize(elf):,} B, map "
          f"{os.path.getsize(map_path):,} B, {symbols:,} symbols listed across the regions")
    with tempfile.TemporaryDirectory() as scratch:
        copy = shutil.copy(elf, scratch)
        copy_map = shutil.copy(map_path, scratch)
        rows = [
            ("size-report, text", lambda: size_report.render(size_report.build(elf), "text")),
            ("size-report, json", lambda: size_report.render(size_report.build(elf), "json")),
            ("added to every link (in the guard)",
             lambda: per_link(elf, map_path, os.path.join(scratch, "x.elf"))),
            ("link guard process after a link", lambda: guard_process(copy, copy_map)),
            ("  the same without a map (no report)", lambda: guard_process(copy, None)),
        ]
        for label, function in rows:
            best, median = timed(function)
            print(f"  {label:<38} best {best:6.3f} s   median {median:6.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
