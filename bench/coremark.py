#!/usr/bin/env python3
"""CoreMark on the Teensy 4.0, built by this project, run in our emulator.

Fetches CoreMark's sources (an optional dependency: third_party/manifest.toml,
[coremark]) when they are missing, builds `scons coremark` (code in ITCM,
data and stack in DTCM, -O3, 600 MHz: as the reference figure was measured),
runs build/coremark/coremark.hex in the emulator, checks CoreMark's CRCs and
prints iterations per second at 600 MHz and CoreMark/MHz next to the
reference, with the instructions and cycles of the timed loop (`iterate`).

    python3 bench/coremark.py                   # fetch online if needed, build, run
    python3 bench/coremark.py --mirror DIR      # offline: DIR/coremark is a git repository
    python3 bench/coremark.py --verbose         # the build's lines and CoreMark's report
    python3 bench/coremark.py --json            # the result as JSON

    import coremark; result = coremark.measure(mirror=None)    # from bench/

The run is ITERATIONS (site_scons/teensyml/coremark.py) iterations, far
shorter than CoreMark's 10-second reporting rule: its report says so, and
that is the one complaint the checks accept.
"""
import argparse
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass

import bootstrap  # noqa: F401,E402 (site_scons on sys.path)
from teensyml.paths import ROOT  # noqa: E402

from teensyml import coremark, deps  # noqa: E402
from teensyml.errors import UserError, cli  # noqa: E402
from teensyml.options import OPTIONS_BY_KEY  # noqa: E402
from teensyml.memory_map import CORE_CLOCK_HZ  # noqa: E402
from teensyml.user_cache import user_cache  # noqa: E402

THIRD_PARTY = os.path.join(ROOT, "third_party")
MANIFEST = os.path.join(THIRD_PARTY, "manifest.toml")
HEX = os.path.join(ROOT, coremark.IMAGE + ".hex")
ELF = os.path.join(ROOT, coremark.IMAGE + ".elf")
TIMED_FUNCTION = "iterate"          # what CoreMark times between start_time and stop_time
MAX_SECONDS = 600

# The reference figure (site_scons/teensyml/coremark.py holds its source).
REFERENCE_ITERATIONS_PER_SECOND = coremark.REFERENCE_ITERATIONS_PER_SECOND
REFERENCE_COREMARK_PER_MHZ = coremark.REFERENCE_COREMARK_PER_MHZ
REFERENCE_SOURCE = coremark.REFERENCE_SOURCE


@dataclass
class Result:
    timing: str                    # the emulator's timing model
    iterations: int
    total_ticks: int               # CoreMark's ticks: DWT cycles of the timed run
    iterations_per_second: float   # at 600 MHz
    coremark_per_mhz: float
    timed_instructions: int        # inside iterate(): the timed run
    timed_cycles: int              # the emulator's modelled cycles inside iterate()
    cycles_per_instruction: float  # total_ticks / timed_instructions
    instructions: int              # the whole run, boot to the end of the report
    flash_fetches_timed: int       # instruction fetches from flash inside iterate()
    flash_data_timed: int          # data accesses to flash inside iterate()
    crcs: dict
    compiler_flags: str
    host_seconds: float

    @property
    def versus_reference(self):
        return self.iterations_per_second / REFERENCE_ITERATIONS_PER_SECOND


def fetch(mirror=None, log=print):
    """CoreMark's sources and the board SDK's into third_party/ (a no-op when
    they are at their pinned commits)."""
    manifest = deps.load_manifest(MANIFEST)
    deps.fetch_all(manifest, THIRD_PARTY, mirror=mirror, cache_dir=user_cache("git"),
                   names=list(coremark.NEEDS), log=log)


def build(verbose=False):
    """`scons coremark`; returns the path of the HEX."""
    command = [sys.executable, "-m", "SCons", "-Q", "coremark"]
    if verbose:
        command.append("VERBOSE=1")
        result = subprocess.run(command, cwd=ROOT)
        output = ""
    else:
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        raise UserError(f"`scons coremark` failed (status {result.returncode})"
                        + (f":\n{output}" if output else "; its output is above."))
    return HEX


def emulate(hex_path=HEX, timing=None, max_seconds=MAX_SECONDS, echo=None):
    """Run the image until CoreMark's report ends. Returns (Report checked,
    Result). `echo`: a binary stream for CoreMark's output as it comes."""
    from teensyml.emulator import Machine, ScriptedConsole, load_firmware
    image, symbols = load_firmware(hex_path)
    console = ScriptedConsole(until=coremark.DONE, stream=echo)
    timing_name = timing or "calibrated"
    machine = Machine(image, symbols, console, timing=timing_name)
    timed = machine.add_marker(TIMED_FUNCTION)
    stop = machine.run(max_seconds=max_seconds)
    text = console.text()
    if stop.reason not in ("until", "halt"):
        raise UserError(f"CoreMark did not run to its end in the emulator: {stop.message}."
                        f" Its output so far:\n{text.strip()}")
    report = coremark.check(coremark.parse(text))
    inside = timed.counts()
    flash = inside.by_region()["FLASH"]            # (fetches, data accesses)
    result = Result(
        timing=timing_name, iterations=report.iterations, total_ticks=report.total_ticks,
        iterations_per_second=report.iterations_per_second,
        coremark_per_mhz=report.coremark_per_mhz,
        timed_instructions=inside.instructions, timed_cycles=inside.cycles,
        cycles_per_instruction=report.total_ticks / inside.instructions,
        instructions=machine.counts().instructions,
        flash_fetches_timed=flash[0], flash_data_timed=flash[1] or 0,
        crcs={name: f"0x{getattr(report, name):04x}" for name in
              ("seedcrc", "crclist", "crcmatrix", "crcstate", "crcfinal")},
        compiler_flags=report.compiler_flags, host_seconds=machine.run_seconds)
    return report, result


def measure(mirror=None, verbose=False, timing=None, log=None):
    """Fetch, build, run, check: the Result."""
    log = log or (print if verbose else (lambda _text: None))
    fetch(mirror, log=log)
    hex_path = build(verbose)
    echo = sys.stdout.buffer if verbose else None
    if echo:
        sys.stdout.flush()
    return emulate(hex_path, timing, echo=echo)[1]


def summary(result):
    ratio = result.versus_reference
    return "\n".join([
        f"CoreMark in the emulator (timing: {result.timing}): "
        f"{result.iterations_per_second:,.2f} iterations/s at {CORE_CLOCK_HZ / 1e6:g} MHz, "
        f"{result.coremark_per_mhz:.2f} CoreMark/MHz",
        f"  reference {REFERENCE_ITERATIONS_PER_SECOND:,.2f} iterations/s = "
        f"{REFERENCE_COREMARK_PER_MHZ:.2f} CoreMark/MHz ({REFERENCE_SOURCE}); "
        f"emulated / reference = {ratio:.3f}",
        f"  {result.iterations} iterations: {result.total_ticks:,} ticks (DWT cycles), "
        f"{result.timed_instructions:,} instructions in {TIMED_FUNCTION}() "
        f"({result.timed_instructions / result.iterations:,.0f} an iteration), "
        f"{result.cycles_per_instruction:.3f} cycles/instruction; "
        f"{result.instructions:,} instructions in the whole run",
        f"  CRCs validated ({', '.join(f'{k} {v}' for k, v in result.crcs.items())}); "
        f"flash inside the timed run: {result.flash_fetches_timed} fetches, "
        f"{result.flash_data_timed} data accesses; {result.host_seconds:.1f} s emulated",
    ])


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", metavar="DIR",
                        help="offline: DIR/coremark (and DIR/<name> of the SDK's sources "
                             "when missing) are git repositories")
    timing = OPTIONS_BY_KEY["TIMING"]
    parser.add_argument("--timing", choices=timing.choices, default=timing.default,
                        help="the emulator's timing model (default: calibrated)")
    parser.add_argument("--verbose", action="store_true",
                        help="the fetch and build output and CoreMark's report")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    verbose = args.verbose or os.environ.get("VERBOSE", "") not in ("", "0")
    result = measure(args.mirror, verbose=verbose, timing=args.timing)
    if args.json:
        print(json.dumps({**asdict(result), "versus_reference": result.versus_reference,
                          "reference_iterations_per_second": REFERENCE_ITERATIONS_PER_SECOND,
                          "reference_coremark_per_mhz": REFERENCE_COREMARK_PER_MHZ,
                          "reference_source": REFERENCE_SOURCE}, indent=2))
    else:
        print(summary(result))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:          # piped into a reader that stopped (| head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
