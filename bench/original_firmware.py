#!/usr/bin/env python3
"""The original project's firmware, built by its own CMake scripts, run in our emulator.

The project this one replaces, dimtass/imxrt1062-tflite-micro-mnist (an optional
dependency: third_party/manifest.toml), published per-layer times for four
configurations (DESIGN.md section 4). This module rebuilds each of them with the
original's source/CMakeLists.txt and the flags of its build.sh (-O3, XIP from
flash, ...), with today's Arm GCC from PATH, runs command `2` (one inference on
its built-in digit) in the emulator and collects the firmware's own per-layer
lines (`<OP>: <ms> msec`, timed with DWT CYCCNT), next to the published figures.

    python3 bench/original_firmware.py --mirror DIR         # all four configurations
    python3 bench/original_firmware.py --config compressed-cmsis_nn --verbose

    import original_firmware as original                    # from bench/
    run = original.measure("uncompressed", mirror=None)
    original.calibration_rows("uncompressed", run)          # (layer, predicted, measured, ratio)

The third-party tree is never edited: it is copied to
build/calibration/original/source/ and the few fixes today's toolchain needs
(FIXES below) are applied to the copy. Each configuration builds in
build/calibration/original/<config>/ (a CMake binary directory, reused: a
rebuild with nothing changed only runs make).
"""
import argparse
import filecmp
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import bootstrap  # noqa: F401,E402 (site_scons on sys.path)
from teensyml.paths import ROOT  # noqa: E402

from teensyml import deps  # noqa: E402
from teensyml.errors import UserError, cli  # noqa: E402
from teensyml.options import OPTIONS_BY_KEY  # noqa: E402
from teensyml.user_cache import user_cache  # noqa: E402

NAME = "imxrt1062-tflite-micro-mnist"
THIRD_PARTY = os.path.join(ROOT, "third_party")
MANIFEST = os.path.join(THIRD_PARTY, "manifest.toml")
ORIGINAL_SOURCE = os.path.join(THIRD_PARTY, NAME, "source")
BUILD_ROOT = os.path.join(ROOT, "build", "calibration", "original")
SOURCE_COPY = os.path.join(BUILD_ROOT, "source")
ELF_IN_BINARY_DIR = os.path.join("flexspi_nor_release", f"{NAME}.elf")
JOBS = 2
MAX_EMULATED_SECONDS = 300
INVOKE = "tflite::MicroInterpreter::Invoke"

# The original's two build switches per configuration (its build.sh variables).
CONFIGS = {
    "uncompressed": {"USE_COMP_MODEL": "OFF", "USE_CMSIS_NN": "OFF"},
    "compressed": {"USE_COMP_MODEL": "ON", "USE_CMSIS_NN": "OFF"},
    "uncompressed-cmsis_nn": {"USE_COMP_MODEL": "OFF", "USE_CMSIS_NN": "ON"},
    "compressed-cmsis_nn": {"USE_COMP_MODEL": "ON", "USE_CMSIS_NN": "ON"},
}
# What build.sh passes besides those (its defaults).
BUILD_SH_FLAGS = {"USE_FSL_DRIVER": "ON", "USE_OVERCLOCKING": "OFF",
                  "CMAKE_BUILD_TYPE": "flexspi_nor_release", "SRC": "src"}

# --- the published figures (DESIGN.md section 4: Teensy 4.0, TF 2.1 micro, code in flash) ---
PUBLISHED_LAYERS = ("DEPTHWISE_CONV_2D", "MAX_POOL_2D", "CONV_2D", "MAX_POOL_2D", "CONV_2D",
                    "FULLY_CONNECTED", "FULLY_CONNECTED", "SOFTMAX")
PUBLISHED_MS = {
    "uncompressed": (6.30, 0.863, 171.40, 0.246, 26.40, 3.00, 0.066, 0.035),
    "compressed": (6.31, 0.858, 165.73, 0.247, 25.58, 0.759, 0.090, 0.037),
    "uncompressed-cmsis_nn": (6.04, 0.826, 156.84, 0.256, 26.60, 3.02, 0.081, 0.033),
    "compressed-cmsis_nn": (6.05, 0.828, 150.84, 0.257, 26.35, 1.81, 0.098, 0.035),
}
PUBLISHED_TOTAL_MS = {"uncompressed": 208.4, "compressed": 199.62,
                      "uncompressed-cmsis_nn": 193.72, "compressed-cmsis_nn": 186.29}
PUBLISHED_TEXT_BYTES = {"uncompressed": 642_300, "compressed-cmsis_nn": 387_108}


def published_layers(config):
    """[(layer name, published ms)] of `config`, in the model's order."""
    return list(zip(PUBLISHED_LAYERS, PUBLISHED_MS[config]))


# --- fixes applied to the copy of the original's sources ---------------------------------

@dataclass(frozen=True)
class SourceFix:
    path: str                       # relative to the original's source/ directory
    edit: Callable[[str], str]      # the file's text -> the fixed text
    why: str


def substitute_once(pattern, replacement, text, count=1, flags=re.MULTILINE):
    """re.subn that insists on `count` matches: a fix that no longer matches
    means the pinned sources changed and the fix must be looked at again."""
    fixed, found = re.subn(pattern, replacement, text, flags=flags)
    if found != count:
        raise UserError(f"A fix for the original firmware's sources expected {count} "
                        f"match(es) of /{pattern}/ and found {found}: the pinned sources "
                        f"changed; review FIXES in bench/original_firmware.py.")
    return fixed


def space_linker_script_assignment(script):
    # binutils 2.40's ld reads `ivt_begin=` as one name (`=` may occur in a
    # script's names), so `ivt_begin= ORIGIN(...)` is a syntax error; older ld split it.
    return substitute_once(r"^(\s*ivt_begin)= ", r"\1 = ", script)


def drop_excluded_dsp_tables(cmake_list):
    # arm_common_tables.c (over 4 MB) is not extracted and CommonTables.c #includes
    # it; the firmware links no CMSIS-DSP object at all (see output.map), so the ELF
    # is the same without them.
    return substitute_once(
        r"^\s*\$\{DSP_LIB_DIR\}/Source/CommonTables/(arm_common_tables|CommonTables)\.c\s*\n",
        "", cmake_list, count=2)


def keep_symbols(cmake_lists):
    # -s strips the ELF's symbol table; without it the loaded image is byte for byte
    # the same (checked: identical .hex), and the emulator can name functions in
    # fault reports and count inside MicroInterpreter::Invoke.
    return substitute_once(r"^[ \t]*-s \\\n", "", cmake_lists)


FIXES = (
    SourceFix("MIMXRT1062xxxxx_flexspi_nor.ld", space_linker_script_assignment,
              "binutils 2.40: `ivt_begin=` is one name token, a syntax error"),
    SourceFix("cmake/cmsis_dsp_lib.cmake", drop_excluded_dsp_tables,
              "arm_common_tables.c is not extracted (over 4 MB); nothing links it"),
    SourceFix("CMakeLists.txt", keep_symbols,
              "keep the symbol table (-s); the image is unchanged"),
)


def fixed_text(relative_path, text, fixes=None):
    """`text` of `relative_path` with every fix (default: FIXES) for that file applied."""
    for fix in FIXES if fixes is None else fixes:
        if fix.path == relative_path:
            text = fix.edit(text)
    return text


# --- the source copy -----------------------------------------------------------------------

def same_contents(source, target):
    """True when `target` exists and holds the bytes of `source`."""
    try:
        return filecmp.cmp(source, target, shallow=False)
    except FileNotFoundError:
        return False


def write_if_changed(path, text):
    """Write `text` unless the file already holds it (its time then stays, so make
    rebuilds nothing). Returns True when written."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as stream:
            if stream.read() == text:
                return False
    except FileNotFoundError:
        pass
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as stream:
        stream.write(text)
    return True


def sync_fixed_copy(source_dir, copy_dir, fixes=None):
    """Mirror `source_dir` into `copy_dir` with `fixes` (default: FIXES) applied,
    touching only files that changed. Returns the number of files written."""
    fixes = FIXES if fixes is None else fixes
    unfixed = {fix.path for fix in fixes}
    written = 0
    for directory, _subdirs, files in os.walk(source_dir):
        relative_dir = os.path.relpath(directory, source_dir)
        os.makedirs(os.path.join(copy_dir, relative_dir), exist_ok=True)
        for name in files:
            relative = os.path.normpath(os.path.join(relative_dir, name))
            source, target = os.path.join(source_dir, relative), os.path.join(copy_dir, relative)
            if relative in unfixed:
                unfixed.discard(relative)
                with open(source, encoding="utf-8", errors="surrogateescape") as stream:
                    text = fixed_text(relative, stream.read(), fixes)
                written += write_if_changed(target, text)
            elif not same_contents(source, target):
                # A fresh time, not the source's: git archive dates files by their
                # commit, which may be older than the objects built from the last one.
                shutil.copyfile(source, target)
                written += 1
    if unfixed:
        raise UserError(f"The original firmware's sources have no {', '.join(sorted(unfixed))}"
                        f": review FIXES in bench/original_firmware.py.")
    return written


# --- fetching and building -----------------------------------------------------------------

def fetch(mirror=None, log=print):
    """The original's sources into third_party/ (a no-op when they are there)."""
    manifest = deps.load_manifest(MANIFEST)
    deps.fetch_all(manifest, THIRD_PARTY, mirror=mirror, cache_dir=user_cache("git"),
                   names=[NAME], log=log)


def toolchain_prefix():
    """The directory above the bin/ of arm-none-eabi-gcc on PATH (the original's
    cmake/armgcc.cmake wants TOOLCHAIN_DIR with bin/arm-none-eabi-gcc inside)."""
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        raise UserError("arm-none-eabi-gcc is not on PATH: the original firmware builds with "
                        "it (./setup.sh installs Debian's gcc-arm-none-eabi).")
    return os.path.dirname(os.path.dirname(gcc))


def require_tools(*names):
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        raise UserError(f"{' and '.join(missing)} not found on PATH: the original firmware's "
                        f"own build needs them (Debian: apt-get install cmake make).")


def path_independent_flags(copy_dir):
    # TFLM's error macros embed __FILE__: without the map the strings, and so the
    # weights' addresses after them, would depend on where this checkout lives.
    return f"-fmacro-prefix-map={copy_dir}/=source/"


def configure_command(config, copy_dir=SOURCE_COPY):
    switches = {**BUILD_SH_FLAGS, **CONFIGS[config], "TOOLCHAIN_DIR": toolchain_prefix(),
                "CMAKE_TOOLCHAIN_FILE": os.path.join(copy_dir, "cmake", "armgcc.cmake"),
                "CMAKE_C_FLAGS": path_independent_flags(copy_dir),
                "CMAKE_CXX_FLAGS": path_independent_flags(copy_dir)}
    return (["cmake", copy_dir, "-G", "Unix Makefiles"]
            + [f"-D{key}={value}" for key, value in switches.items()])


def make_command(jobs=JOBS):
    return ["make", f"-j{jobs}", "--no-print-directory"]


def run_logged(command, cwd, log_path, verbose):
    """Run `command`; its output goes to `log_path` (and the terminal when
    verbose). A failure is a UserError with the command and the log's tail."""
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        if verbose:
            process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, errors="replace")
            for line in process.stdout:
                sys.stdout.write(line)
                log.write(line)
            status = process.wait()
        else:
            status = subprocess.run(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT
                                    ).returncode
    if status != 0:
        raise UserError(f"The original firmware's build failed: `{' '.join(command)}` "
                        f"(in {os.path.relpath(cwd, ROOT)}) exited with status {status}. "
                        f"From {os.path.relpath(log_path, ROOT)}:\n"
                        + log_tail(log_path))


ERROR_LINE = re.compile(r"error:|Error:|CMake Error|undefined reference|No such file")


def log_tail(path, errors=10, tail=6):
    """The first `errors` error lines of the log (warnings drown them in its
    tail), then its last `tail` lines."""
    with open(path, encoding="utf-8", errors="replace") as stream:
        lines = stream.read().splitlines()
    first_errors = [line for line in lines if ERROR_LINE.search(line)][:errors]
    last = [line for line in lines[-tail:] if line not in first_errors]
    return "\n".join(first_errors + (["..."] if first_errors and last else []) + last)


CONFIGURED_WITH = "configured-with.txt"     # the cmake command of the binary directory


def needs_configure(binary_dir, configure):
    """No Makefile yet, or the last cmake ran with other arguments (later
    CMakeLists changes make re-runs cmake by itself)."""
    try:
        with open(os.path.join(binary_dir, CONFIGURED_WITH), encoding="utf-8") as stream:
            same = stream.read() == "\n".join(configure)
    except FileNotFoundError:
        same = False
    return not (same and os.path.isfile(os.path.join(binary_dir, "Makefile")))


def build(config, verbose=False, jobs=JOBS, progress=print):
    """Build `config` with the original's CMake scripts; returns the ELF's path."""
    require_tools("cmake", "make")
    os.makedirs(BUILD_ROOT, exist_ok=True)
    changed = sync_fixed_copy(ORIGINAL_SOURCE, SOURCE_COPY)
    progress(f"{config}: sources copied with {len(FIXES)} fixes "
             f"({changed} files written) to {os.path.relpath(SOURCE_COPY, ROOT)}")
    binary_dir = os.path.join(BUILD_ROOT, config)
    os.makedirs(binary_dir, exist_ok=True)
    log_path = os.path.join(binary_dir, "build.log")
    open(log_path, "w").close()
    began = time.monotonic()
    configure = configure_command(config)
    if needs_configure(binary_dir, configure):
        progress(f"{config}: cmake ({', '.join(f'{k}={v}' for k, v in CONFIGS[config].items())})")
        run_logged(configure, binary_dir, log_path, verbose)
        write_if_changed(os.path.join(binary_dir, CONFIGURED_WITH), "\n".join(configure))
    run_logged(make_command(jobs), binary_dir, log_path, verbose)
    elf = os.path.join(binary_dir, ELF_IN_BINARY_DIR)
    progress(f"{config}: built {os.path.relpath(elf, ROOT)} in {time.monotonic() - began:.1f} s")
    return elf


def text_bytes(elf):
    """The ELF's text size as arm-none-eabi-size counts it (the published figure's unit)."""
    size = shutil.which("arm-none-eabi-size")
    if size is None:
        return None
    output = subprocess.run([size, "--format=berkeley", elf], capture_output=True,
                            text=True, check=True).stdout
    return int(output.splitlines()[1].split()[0])


# --- the firmware's report ------------------------------------------------------------------

CORE_CLOCK_LINE = re.compile(r"^Program started: (\d+)\s*$")
LAYER_LINE = re.compile(r"^([A-Z][A-Z0-9_]*): (\S+) msec\s*$")
DONE_LINE = re.compile(r"^Done in (\S+) msec")
OUTPUT_LINE = re.compile(r"^Out\[(\d+)\]: (\S+)\s*$")
OUTPUTS = 10
REPORT_END = rb"Out\[9\]: [^\n]*\n"     # main prints ten outputs after "Done in"


@dataclass
class FirmwareReport:
    """What the original firmware printed for one `2` command."""
    core_clock_hz: int              # SystemCoreClock, from "Program started: N"
    layers: list                    # [(operator name, ms)] in order
    total_ms: float                 # "Done in <ms> msec"
    outputs: list                   # the ten softmax outputs


def parse_report(text):
    """The FirmwareReport in the console text `text`; a UserError when a part is missing."""
    clock, layers, total, outputs = None, [], None, []
    for line in text.splitlines():
        line = line.strip()
        if match := CORE_CLOCK_LINE.match(line):
            clock = int(match[1])
        elif match := DONE_LINE.match(line):
            total = float(match[1])
        elif match := LAYER_LINE.match(line):
            layers.append((match[1], float(match[2])))
        elif match := OUTPUT_LINE.match(line):
            outputs.append(float(match[2]))
    missing = [what for what, absent in (("'Program started: N'", clock is None),
                                         ("per-layer lines", not layers),
                                         ("'Done in ... msec'", total is None),
                                         (f"{OUTPUTS} outputs", len(outputs) != OUTPUTS))
               if absent]
    if missing:
        raise UserError(f"The original firmware's output lacks {', '.join(missing)}:\n"
                        + text.strip())
    return FirmwareReport(clock, layers, total, outputs)


# --- running in the emulator ------------------------------------------------------------------

@dataclass
class FirmwareRun:
    config: str
    report: FirmwareReport
    timing: str                     # the emulator's timing model
    invoke_instructions: int = None  # inside MicroInterpreter::Invoke (None: no symbols)
    invoke_cycles: int = None
    text_bytes: int = None
    host_seconds: float = 0.0
    notes: list = field(default_factory=list)   # the emulator's notes (unmodelled registers)


def emulate(elf, config, timing=None, max_seconds=MAX_EMULATED_SECONDS, echo=None):
    """Boot `elf`, send `2`, wait for the ten outputs: the FirmwareRun.
    `echo`: a binary stream for the firmware's output as it comes."""
    from teensyml.emulator import Machine, ScriptedConsole, load_firmware
    image, symbols = load_firmware(elf)
    console = ScriptedConsole(b"2", until=REPORT_END, stream=echo)
    timing_name = timing or "calibrated"
    machine = Machine(image, symbols, console, timing=timing_name)
    invoke = machine.add_marker(INVOKE) if symbols is not None else None
    stop = machine.run(max_seconds=max_seconds)
    if stop.reason != "until":
        raise UserError(emulation_failure(elf, stop, console.text(), machine.notes))
    counts = invoke.counts() if invoke is not None else None
    return FirmwareRun(config=config, report=parse_report(console.text()), timing=timing_name,
                       invoke_instructions=counts.instructions if counts else None,
                       invoke_cycles=counts.cycles if counts else None,
                       host_seconds=machine.run_seconds, notes=list(machine.notes))


def emulation_failure(elf, stop, text, notes):
    parts = [f"The original firmware ({os.path.relpath(elf, ROOT)}) did not finish its "
             f"inference in the emulator: {stop.message} ({stop.reason})."]
    if stop.crash is not None:
        parts.append(str(stop.crash))
    parts += notes
    parts.append("Its output so far:\n" + (text.strip() or "(nothing)"))
    return "\n".join(parts)


def build_and_run(config, timing=None, verbose=False, jobs=JOBS, progress=print):
    """Build `config` (its sources fetched) and run it: its FirmwareRun."""
    elf = build(config, verbose=verbose, jobs=jobs, progress=progress)
    echo = sys.stdout.buffer if verbose else None
    if echo:
        sys.stdout.flush()
    run = emulate(elf, config, timing, echo=echo)
    run.text_bytes = text_bytes(elf)
    progress(f"{config}: emulated in {run.host_seconds:.1f} s (timing: {run.timing})")
    return run


def measure(config, mirror=None, timing=None, verbose=False, jobs=JOBS, progress=print):
    """Fetch, build and run `config`: its FirmwareRun."""
    fetch(mirror, log=progress)
    return build_and_run(config, timing, verbose, jobs, progress)


# --- predicted (emulated) against measured (published) ---------------------------------

def calibration_rows(config, run):
    """[(layer, predicted ms, measured ms, predicted / measured)]: the emulator's
    figures of `run` (a FirmwareRun or FirmwareReport) against the published
    ones of `config`, layer by layer ("<index> <OP>"), then ("total", ...)."""
    report = getattr(run, "report", run)
    emulated_names = [name for name, _ms in report.layers]
    if emulated_names != list(PUBLISHED_LAYERS):
        raise UserError(f"The firmware ran {emulated_names}; the published figures are of "
                        f"{list(PUBLISHED_LAYERS)}.")
    rows = [(f"{index} {name}", predicted, measured, predicted / measured)
            for index, ((name, predicted), measured)
            in enumerate(zip(report.layers, PUBLISHED_MS[config]))]
    total = PUBLISHED_TOTAL_MS[config]
    rows.append(("total", report.total_ms, total, report.total_ms / total))
    return rows


def markdown_table(config, run):
    lines = ["| layer | emulated ms | published ms | emulated / published |",
             "|---|---|---|---|"]
    lines += [f"| {layer} | {predicted:.3f} | {measured:g} | {ratio:.2f} |"
              for layer, predicted, measured, ratio in calibration_rows(config, run)]
    return "\n".join(lines)


def summary(run):
    switches = " ".join(f"{key}={value}" for key, value in CONFIGS[run.config].items())
    text = f"{run.text_bytes:,} bytes" if run.text_bytes else "unknown"
    published = PUBLISHED_TEXT_BYTES.get(run.config)
    if published:
        text += f" (published {published:,})"
    head = [f"## {run.config} ({switches})",
            f"Program started: {run.report.core_clock_hz} (SystemCoreClock); text {text}; "
            f"timing: {run.timing}"]
    if run.invoke_instructions:
        head.append(f"Invoke: {run.invoke_instructions:,} instructions, "
                    f"{run.invoke_cycles:,} modelled cycles")
    head += [f"emulator: {note}" for note in run.notes]
    return "\n".join(head + ["", markdown_table(run.config, run)])


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", metavar="DIR",
                        help=f"offline: DIR/{NAME} is a git repository of the original")
    parser.add_argument("--config", choices=sorted(CONFIGS), action="append",
                        help="one configuration (repeatable; default: all four)")
    timing = OPTIONS_BY_KEY["TIMING"]
    parser.add_argument("--timing", choices=timing.choices, default=timing.default,
                        help="the emulator's timing model (default: calibrated)")
    parser.add_argument("--jobs", type=int, default=JOBS, help=f"make -j (default {JOBS})")
    parser.add_argument("--verbose", action="store_true",
                        help="the full cmake/make output and the firmware's console")
    args = parser.parse_args(argv)
    verbose = args.verbose or os.environ.get("VERBOSE", "") not in ("", "0")
    fetch(args.mirror)
    for config in args.config or list(CONFIGS):
        run = build_and_run(config, args.timing, verbose=verbose, jobs=args.jobs)
        print(summary(run) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
