#!/usr/bin/env python3
"""How fast the build is: clean, no-op, one edit, a switch, a warm cache.

For the int8 + CMSIS-NN firmware (`scons USE_CMSIS_NN=1`), in one run, with
the wall clock around each command (output captured):

  1. clean build: build/ removed, a new empty CACHE=<tmp> (your cache does
     not help); target < 90 s
  2. no-op: the same command again, best of 3; target < 0.5 s
  3. one kernel edited (a comment line put first in --touch, by default our
     src/cmsis_nn_tuned/arm_convolve_s8.c: every line moves, so the object
     changes and the firmware relinks; the bytes are restored afterwards and
     rebuilt, untimed); target < 4 s
  4. USE_CMSIS_NN switched 1 -> 0, then 0 -> 1 again, with the compile lines
     each printed; the way back must compile nothing
  5. clean build from the now warm cache; target < 15 s
  6. one TFLM kernel recompiled (its object removed, the cache not read):
     the kernels' precompiled header is transient, so this is the cost of a
     kernel compiled without it (docs/build-speed.md)
  7. disk: the bytes in build/ and in the new cache after the clean build
     (one configuration), what the USE_CMSIS_NN=0 configuration adds to
     each, and whether a precompiled header (.gch) was left in either;
     target 50 MB each
  8. with --ninja (default): NINJA=1 builds through build.ninja from a clean
     build/; then `ninja` no-op (target < 0.05 s) and the same edit
     (target < 2 s)
  9. whether build/int8-cmsis_nn/firmware.hex is byte-identical after the
     plain, warm-cache, ninja and CCACHE=1 (CACHE=0) builds
  10. with --peer (default when TFLM's Makefile exists): TFLM's own Makefile
     building its Cortex-M7 + CMSIS-NN library (microlite) in a private copy
     of third_party/tflite-micro, offline: clean, no-op, the same edit

and prints two markdown tables: measurement | ours | ours, ninja | TFLM
Makefile | target, and the disk figures.

    python3 bench/build.py                    # the table on stdout
    python3 bench/build.py --readme           # and into README.md's table
    python3 bench/build.py --quick            # no ninja, no peer
    python3 bench/build.py --mirror DIR       # the peer's missing sources

The peer is made offline: TFLM's download scripts find their downloads/<name>
already filled from third_party (flatbuffers, gemmlowp, ruy, CMSIS_6 as cmsis,
CMSIS-NN as cmsis_nn), an empty downloads/pigweed (microlite does not use it),
and TARGET_TOOLCHAIN_ROOT names the arm-none-eabi-gcc on PATH. What
third_party lacks (TFLM's signal/ library, kissfft, Cortex_DFP's ARMCM7.h)
comes from --mirror DIR, local git repositories DIR/tflite-micro, DIR/kissfft
and DIR/Cortex_DFP, at the commits TFLM's scripts name; without them the peer
is reported unavailable, naming what is missing. Its Makefile also runs
Python with numpy and Pillow each time it is read.

Removes build/ before each clean build and leaves the last build's outputs
(and build.ninja). Every edited file gets its bytes back, even on failure or
interruption, with a new mtime so that ninja and make rebuild it too.
"""
import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import bootstrap  # noqa: F401 (site_scons on sys.path)
import readme_block   # bench/, beside this script
from teensyml import deps, options
from teensyml.build_layout import build_layout
from teensyml.errors import UserError
from teensyml.paths import ROOT

FIRMWARE = ["USE_CMSIS_NN=1"]
TFLM = os.path.join("third_party", "tflite-micro")
KERNEL = "tensorflow/lite/micro/kernels/cmsis_nn/conv.cc"
# Its object in our build: includes the kernels' precompiled header.
KERNEL_OBJECT = os.path.join("build", "obj", "cmsis_nn", "third_party", "tflite-micro",
                             KERNEL[:-len(".cc")] + ".o")
# Our convolution kernel (TUNED_KERNELS=1): the build refuses an edited
# third-party tree, so the edit loop is measured on our own code; the peer
# edits CMSIS-NN's file of the same name.
TUNED = os.path.join("src", "cmsis_nn_tuned")
DEFAULT_TOUCH = os.path.join(TUNED, "arm_convolve_s8.c")
TOUCH_LINE = b"// bench/build.py edit\n"
COMPILE_LINE = re.compile(r"^  (CC|CXX) ", re.M)
CACHE_LINE = re.compile(r"^Retrieved `.*' from cache", re.M)
NO_OP_RUNS = 3
MB = 1_000_000
DISK_LIMIT = 50 * MB
GCH_MAGIC = b"gpch"          # the first bytes of a GCC precompiled header

MAKE_DIR = "tensorflow/lite/micro/tools/make"
PEER_MAKE = ["make", "-f", f"{MAKE_DIR}/Makefile", "TARGET=cortex_m_generic",
             "TARGET_ARCH=cortex-m7+fp", "OPTIMIZED_KERNEL_DIR=cmsis_nn"]
# TFLM's downloads/<name> that third_party holds (flatbuffers already carries
# TFLM's flatbuffers.patch: scons deps applies it).
PEER_DOWNLOADS = {"flatbuffers": "flatbuffers", "gemmlowp": "gemmlowp", "ruy": "ruy",
                  "cmsis": "CMSIS_6", "cmsis_nn": "CMSIS-NN"}
# Paths of the TFLM repository microlite needs beyond the manifest's paths.
PEER_TFLM_PATHS = ("signal", "third_party/kissfft")

ROWS = (  # key, measurement, targets: (column, text, limit in seconds)
    ("clean", "clean build", [("ours", "< 90 s", 90.0)]),
    ("noop", f"no-op (best of {NO_OP_RUNS})", [("ours", "< 0.5 s", 0.5),
                                                ("ninja", "ninja < 0.05 s", 0.05)]),
    ("touch", "touch one kernel + relink", [("ours", "< 4 s", 4.0),
                                            ("ninja", "ninja < 2 s", 2.0)]),
    ("switch_off", "switch USE_CMSIS_NN 1->0", []),
    ("switch_on", "switch USE_CMSIS_NN 0->1 again", [("ours", "compiles nothing", None)]),
    ("warm", "clean build, warm cache", [("ours", "< 15 s", 15.0)]),
    ("kernel", "recompile one TFLM kernel (its object removed)", []),
)
HEX_BUILDS = ("plain", "cache", "ccache", "ninja")


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


class Unavailable(Exception):
    """A figure this build or machine cannot give; the message says why."""


# --- Running and timing commands --------------------------------------------------
class Run:
    def __init__(self, seconds, output, returncode):
        self.seconds, self.output, self.returncode = seconds, output, returncode

    @property
    def compiles(self):
        return len(COMPILE_LINE.findall(self.output))

    @property
    def retrieved(self):
        return len(CACHE_LINE.findall(self.output))


def run(command, cwd, allow_failure=False):
    start = time.monotonic()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.monotonic() - start
    output = result.stdout + result.stderr
    finished = Run(seconds, output, result.returncode)
    if result.returncode and not allow_failure:
        abort(command, cwd, finished)
    return finished


def abort(command, cwd, finished):
    tail = "\n".join(finished.output.splitlines()[-40:])
    raise SystemExit(f"bench: `{' '.join(command)}` failed (exit {finished.returncode}) "
                     f"in {cwd}; its last lines:\n{tail}")


def scons(root, arguments, allow_failure=False):
    return run([sys.executable, "-m", "SCons", "-Q", *arguments], root, allow_failure)


def best_of(runs, command):
    return min(command().seconds for _ in range(runs))


@contextlib.contextmanager
def edited(path):
    """`path` with a comment line first: a real edit (the debug line table of
    the object changes, so the archive and the firmware are rebuilt too). Its
    bytes come back afterwards, whatever happens; the new mtime makes every
    build tool see the change back."""
    with open(path, "rb") as stream:
        original = stream.read()
    try:
        with open(path, "wb") as stream:
            stream.write(TOUCH_LINE + original)
        yield
    finally:
        with open(path, "wb") as stream:
            stream.write(original)


def tree_bytes(path):
    return sum(os.path.getsize(os.path.join(directory, name))
               for directory, _, files in os.walk(path) for name in files)


def gch_files(*paths):
    """The precompiled headers under `paths` (cache entries have no suffix:
    by their first bytes)."""
    found = []
    for path in paths:
        for directory, _, files in os.walk(path):
            for name in files:
                with open(os.path.join(directory, name), "rb") as stream:
                    if stream.read(len(GCH_MAGIC)) == GCH_MAGIC:
                        found.append(os.path.join(directory, name))
    return found


def remove_build(root):
    shutil.rmtree(os.path.join(root, "build"), ignore_errors=True)


def hex_path(root):
    """The HEX of the FIRMWARE configuration, where the build puts it."""
    values = options.resolve(dict(argument.split("=", 1) for argument in FIRMWARE))
    return build_layout(values, os.path.join(root, "build")).firmware["hex"]


def read_hex(root):
    return hex_path(root).read_bytes()


# --- Ours ----------------------------------------------------------------------------
def record(results, key, finished, what):
    """A scons run's seconds and compile counts as the `key` row."""
    results["ours"][key] = finished.seconds
    results["compiles"][key] = finished.compiles
    if key != "noop":
        results["detail"][key] = counts(finished)
    log(f"{what}: {seconds(finished.seconds)} s {counts(finished)}")


def measure_ours(root, touch, ninja, results):
    """Steps 1-9 into `results` (see the module's docstring)."""
    notes, hexes = results["notes"], results["hex"]
    cache_dir = tempfile.mkdtemp(prefix="bench-build-cache-")
    base = FIRMWARE + [f"CACHE={cache_dir}"]
    try:
        log("clean build, empty cache ...")
        remove_build(root)
        record(results, "clean", scons(root, base), "clean build")
        hexes["plain"] = read_hex(root)
        build_dir = os.path.join(root, "build")
        disk = results["disk"]
        disk["clean"] = (tree_bytes(build_dir), tree_bytes(cache_dir))
        disk["gch"] = set(gch_files(build_dir, cache_dir))
        cache_filled = any(files for _, _, files in os.walk(cache_dir))
        if not cache_filled:
            notes.append("CACHE=<new directory> stored nothing: the warm-cache figure is n/a.")

        log("no-op ...")
        noop = min((scons(root, base) for _ in range(NO_OP_RUNS)), key=lambda run: run.seconds)
        record(results, "noop", noop, "no-op")

        log(f"touch {os.path.relpath(touch, root)} ...")
        with edited(touch):
            edit = scons(root, base)
        scons(root, base)  # back to the restored file's objects, untimed
        record(results, "touch", edit, "touch")
        if not edit.compiles:
            notes.append(f"editing {os.path.relpath(touch, root)} compiled nothing: "
                         f"is it part of the USE_CMSIS_NN=1 firmware?")

        log("recompile one TFLM kernel ...")
        os.remove(os.path.join(root, KERNEL_OBJECT))
        record(results, "kernel", scons(root, [*base, "--cache-disable"]), "one TFLM kernel")

        log("switch USE_CMSIS_NN 1->0 ...")
        before = (tree_bytes(build_dir), tree_bytes(cache_dir))
        record(results, "switch_off", scons(root, [*base, "USE_CMSIS_NN=0"]), "switch 1->0")
        disk["second"] = (tree_bytes(build_dir) - before[0], tree_bytes(cache_dir) - before[1])
        disk["gch"] |= set(gch_files(build_dir, cache_dir))
        log("switch USE_CMSIS_NN 0->1 ...")
        record(results, "switch_on", scons(root, base), "switch 0->1")

        if cache_filled:
            log("clean build, warm cache ...")
            remove_build(root)
            record(results, "warm", scons(root, base), "clean build, warm cache")
            hexes["cache"] = read_hex(root)

        if ninja:
            try:
                measure_ninja(root, base, touch, results)
            except Unavailable as reason:
                notes.append(f"ninja figures are n/a: {reason}.")
                log(f"ninja figures are unavailable: {reason}")

        log("clean build with CCACHE=1, no cache ...")
        remove_build(root)
        ccache = scons(root, [*FIRMWARE, "CACHE=0", "CCACHE=1", "VERBOSE=1"])
        log(f"CCACHE=1 build: {seconds(ccache.seconds)} s")
        if re.search(r"(^|[\s/])ccache[\s/]", ccache.output, re.M):
            hexes["ccache"] = read_hex(root)
        else:
            notes.append("CCACHE=1 compiled without ccache: its firmware.hex is n/a.")
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)


def find_ninja():
    """The ninja binary of the PyPI package (not a pyenv shim, which costs
    0.1 s a run), else the one on PATH."""
    try:
        import ninja
        candidate = os.path.join(ninja.BIN_DIR, "ninja")
        if os.access(candidate, os.X_OK):
            return candidate
    except ImportError:
        pass
    found = shutil.which("ninja")
    if not found:
        raise Unavailable("no ninja executable (pip install ninja)")
    return found


def measure_ninja(root, base, touch, results):
    ninja_results, hexes = results["ninja"], results["hex"]
    ninja_file = os.path.join(root, "build.ninja")
    ninja = [find_ninja(), "-f", ninja_file]
    log("ninja: clean build through NINJA=1 ...")
    remove_build(root)
    started = time.time()
    generate = scons(root, [*base, "NINJA=1"])
    if not os.path.isfile(ninja_file) or os.path.getmtime(ninja_file) < started - 1:
        raise Unavailable("NINJA=1 wrote no build.ninja at the repository root")
    clean = generate.seconds
    if not hex_path(root).is_file():
        clean += run(ninja, root).seconds
    ninja_results["clean"] = clean
    hexes["ninja"] = read_hex(root)
    log(f"ninja clean build: {clean:.1f} s; no-op ...")
    ninja_results["noop"] = best_of(NO_OP_RUNS, lambda: run(ninja, root))
    log(f"ninja no-op: {ninja_results['noop']:.3f} s; touch ...")
    with edited(touch):
        edit = run(ninja, root)
    run(ninja, root)  # back to the restored file's objects, untimed
    ninja_results["touch"] = edit.seconds
    steps = re.findall(r"^\[\d+/(\d+)\]", edit.output, re.M)
    results["ninja_touch_steps"] = int(steps[-1]) if steps else None
    log(f"ninja touch: {edit.seconds:.2f} s")


# --- The peer: TFLM's own Makefile ---------------------------------------------------
def manifest_commit(root, name):
    manifest = deps.load_manifest(os.path.join(root, "third_party", "manifest.toml"))
    return next(dep.commit for dep in manifest if dep.name == name)


def read(path):
    with open(path) as stream:
        return stream.read()


def git_extract(repository, revision, paths, destination):
    """`paths` of `repository` at `revision` into `destination` (no network)."""
    git_dir = deps.git_dir_of(repository)
    if git_dir is None:
        raise Unavailable(f"{repository} is not a git repository")
    try:
        deps.extract(git_dir, revision, paths, destination)
    except UserError as error:
        raise Unavailable(f"{repository} has no {revision} ({error})") from None


def prepare_peer(root, copy, mirror, mirrored):
    """Fill the copy's downloads/ so that TFLM's scripts download nothing;
    the list of what could not be had (empty: ready). What came from the
    mirror is appended to `mirrored`."""
    downloads = os.path.join(copy, MAKE_DIR, "downloads")
    os.makedirs(downloads, exist_ok=True)
    missing = []
    for name, source in PEER_DOWNLOADS.items():
        path = os.path.join(root, "third_party", source)
        if os.path.isdir(path):
            shutil.copytree(path, os.path.join(downloads, name), symlinks=True)
        else:
            missing.append(f"downloads/{name}: third_party/{source} (scons deps)")
    # pigweed_download.sh clones pigweed on every read of the Makefile unless
    # the directory exists; microlite uses none of it.
    os.makedirs(os.path.join(downloads, "pigweed"), exist_ok=True)

    def from_mirror(name, revision, paths, destination, what, why):
        repository = os.path.join(mirror, name) if mirror else None
        if not repository or not os.path.isdir(repository):
            missing.append(f"{what} ({why}): {name} at {revision} "
                           f"(give --mirror DIR with a git repository DIR/{name})")
            return False
        try:
            git_extract(repository, revision, paths, destination)
            mirrored.append(f"{what} ({name} {revision[:12]})")
            return True
        except Unavailable as reason:
            missing.append(f"{what} ({why}): {reason}")
            return False

    # microlite includes TFLM's signal library; the manifest extracts only two
    # of its headers.
    if not os.path.isdir(os.path.join(copy, "signal", "src")):
        from_mirror("tflite-micro", manifest_commit(root, "tflite-micro"), PEER_TFLM_PATHS,
                    copy, " and ".join(f"{path}/" for path in PEER_TFLM_PATHS),
                    "TFLM's signal library, part of microlite, and its kissfft.patch")
    # kissfft: the signal library's FFT (third_party_downloads.inc KISSFFT_URL,
    # unpacked, BUILD files deleted, TFLM's kissfft.patch applied).
    tag = pinned(r'KISSFFT_URL\s*:?=\s*"?\S*/refs/tags/([^/"\s]+)\.zip',
                 os.path.join(copy, MAKE_DIR, "third_party_downloads.inc"))
    kissfft = os.path.join(downloads, "kissfft")
    if from_mirror("kissfft", tag, [], kissfft, "downloads/kissfft",
                   "the signal library's FFT, third_party_downloads.inc KISSFFT_URL"):
        patch = os.path.join(copy, "third_party", "kissfft", "kissfft.patch")
        if os.path.isfile(patch):
            with open(patch, "rb") as stream:
                run_input(["patch", "-p1", "-d", kissfft], stream.read())
        else:
            missing.append("third_party/kissfft/kissfft.patch of TFLM, for downloads/kissfft")
    # Cortex_DFP: ARMCM7.h for cortex_m_generic/micro_time.cc (cmsis_download.sh
    # fetches it with CMSIS_6 into downloads/cmsis/Cortex_DFP).
    commit = pinned(r'ZIP_PREFIX="([0-9a-f]{40})"\s*\n\s*CMSIS_DFP_URL',
                    os.path.join(copy, MAKE_DIR, "ext_libs", "cmsis_download.sh"))
    from_mirror("Cortex_DFP", commit, [], os.path.join(downloads, "cmsis", "Cortex_DFP"),
                "downloads/cmsis/Cortex_DFP",
                "ARMCM7.h for cortex_m_generic/micro_time.cc, ext_libs/cmsis_download.sh")
    for directory, _, files in os.walk(downloads):
        for name in files:
            if name.endswith("BUILD"):  # as download_and_extract.sh does
                os.remove(os.path.join(directory, name))
    # generate_cc_arrays.py runs every time the Makefile is read (examples).
    modules = subprocess.run(["python3", "-c", "import numpy, PIL"], capture_output=True)
    if modules.returncode:
        missing.append("Python modules numpy and PIL for python3 on PATH (pip install pillow): "
                       "the Makefile runs tools/generate_cc_arrays.py whenever it is read")
    return missing


def pinned(pattern, path):
    """The version TFLM's download script or list names (`pattern`'s group)."""
    found = re.search(pattern, read(path))
    if not found:
        raise Unavailable(f"no version found in {path} (/{pattern}/): TFLM changed it")
    return found.group(1)


def run_input(command, data):
    result = subprocess.run(command, input=data, capture_output=True)
    if result.returncode:
        raise Unavailable(f"`{' '.join(command)}` failed: "
                          f"{result.stdout.decode(errors='replace')[-500:]}")


def peer_edit(root, touch, copy):
    """The peer's file for our edit of `touch`: CMSIS-NN's namesake of one of
    our tuned files (in the copy's downloads/), else TFLM's conv.cc."""
    if os.path.dirname(os.path.relpath(touch, root)) == TUNED:
        cmsis_nn = os.path.join(copy, MAKE_DIR, "downloads", "cmsis_nn", "Source")
        for directory, _, files in os.walk(cmsis_nn):
            if os.path.basename(touch) in files:
                return os.path.join(directory, os.path.basename(touch))
    return os.path.join(copy, KERNEL)


def measure_peer(root, touch, mirror, results):
    """TFLM's Makefile, clean / no-op / one edit, in a private copy of TFLM."""
    compiler = shutil.which("arm-none-eabi-gcc")
    if not compiler:
        raise Unavailable("no arm-none-eabi-gcc on PATH")
    # The toolchain on PATH instead of arm_gcc_download.sh's download.
    command = [*PEER_MAKE, f"TARGET_TOOLCHAIN_ROOT={os.path.dirname(compiler)}/", "-j2",
               "microlite"]
    results["peer_command"] = " ".join(command)
    work = tempfile.mkdtemp(prefix="bench-peer-")
    try:
        log(f"TFLM Makefile: copying {TFLM} to {work} ...")
        copy = os.path.join(work, "tflite-micro")
        shutil.copytree(os.path.join(root, TFLM), copy, symlinks=True)
        missing = prepare_peer(root, copy, mirror, results.setdefault("peer_mirrored", []))
        if missing:
            raise Unavailable("missing offline: " + "; ".join(missing))
        peer = results["peer"]
        log("TFLM Makefile: clean build (minutes) ...")
        clean = run(command, copy)
        peer["clean"] = clean.seconds
        log(f"TFLM Makefile: clean build: {clean.seconds:.1f} s; no-op ...")
        peer["noop"] = best_of(NO_OP_RUNS, lambda: run(command, copy))
        log(f"TFLM Makefile: no-op: {peer['noop']:.2f} s; touch ...")
        with edited(peer_edit(root, touch, copy)):
            peer["touch"] = run(command, copy).seconds
        log(f"TFLM Makefile: touch: {peer['touch']:.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- The table -----------------------------------------------------------------------
def seconds(value):
    if value is None:
        return "n/a"
    return f"{value:.3f}" if value < 0.1 else f"{value:.2f}" if value < 10 else f"{value:.1f}"


def plural(count, word):
    return f"{count} {word}{'' if count == 1 else 's'}"


def counts(finished):
    """(N compiles[, M from cache]) of a scons run."""
    text = plural(finished.compiles, "compile")
    return f"({text}, {finished.retrieved} from cache)" if finished.retrieved else f"({text})"


def verdict(column, limit, results, key, columns_on):
    if not columns_on[column]:
        return "skipped"
    if limit is None:  # compiles nothing
        compiles = results["compiles"].get(key)
        return "n/a" if compiles is None else "met" if compiles == 0 else "missed"
    value = results[column].get(key)
    return "n/a" if value is None else "met" if value < limit else "missed"


def table(results, ninja_on, peer_on):
    columns_on = {"ours": True, "ninja": ninja_on, "peer": peer_on}
    lines = ["| measurement | ours (s) | ours, ninja (s) | TFLM Makefile (s) | target |",
             "|---|---|---|---|---|"]
    for key, name, targets in ROWS:
        cells = [seconds(results["ours"].get(key)) + (f" {results['detail'][key]}"
                                                      if key in results["detail"] else "")]
        for column in ("ninja", "peer"):
            if key not in ("clean", "noop", "touch"):
                cells.append("—")
            else:
                cells.append(seconds(results[column].get(key)) if columns_on[column]
                             else "skipped")
        target = "; ".join(f"{text}: {verdict(column, limit, results, key, columns_on)}"
                           for column, text, limit in targets) or "—"
        lines.append(f"| {name} | {' | '.join(cells)} | {target} |")
    return "\n".join(lines)


def megabytes(value):
    return f"{value / MB:.1f} MB"


def disk_table(disk):
    """Bytes per configuration in build/ and added to the object cache."""
    lines = ["| disk | build directory | added to the object cache | target |",
             "|---|---|---|---|"]
    for key, name in (("clean", "after the clean build (USE_CMSIS_NN=1)"),
                      ("second", "added by a second configuration (USE_CMSIS_NN=0)")):
        if key in disk:
            build, cache = disk[key]
            met = "met" if max(build, cache) <= DISK_LIMIT else "missed"
            lines.append(f"| {name} | {megabytes(build)} | {megabytes(cache)} | "
                         f"<= 50 MB each: {met} |")
    if "gch" in disk:
        left = len(disk["gch"])
        lines.append(f"| precompiled headers (.gch) left after these builds | {left} in "
                     f"build/ or the cache | — | none: {'met' if left == 0 else 'missed'} |")
    return "\n".join(lines)


def identity_line(hexes):
    built = [label for label in HEX_BUILDS if label in hexes]
    absent = [label for label in HEX_BUILDS if label not in hexes]
    if len(built) < 2:
        answer = "n/a"
    elif all(hexes[label] == hexes[built[0]] for label in built):
        answer = "yes"
    else:
        answer = "no (" + ", ".join(f"{label} differs from {built[0]}" for label in built
                                    if hexes[label] != hexes[built[0]]) + ")"
    if absent and len(built) >= 2:
        answer += f" for {'/'.join(built)}"
    return (f"firmware.hex identical across {'/'.join(HEX_BUILDS)}: {answer}"
            + (f" ({', '.join(absent)}: not built)" if absent else ""))


def report(results, ninja_on, peer_on):
    notes = [f"{os.cpu_count()} cores; wall-clock seconds of one run of "
             f"`scons {' '.join(FIRMWARE)} CACHE=<new temporary directory>`; the edit puts "
             f"a comment line first in {results['touch']} (restored afterwards); the "
             f"TFLM kernel recompiled is {KERNEL} (`--cache-disable`).",
             "Disk: the bytes of every file under build/ and in the new CACHE= directory; "
             "the second configuration's are what it adds to both."]
    if "peer_command" in results and results["peer"]:
        notes.append(f"TFLM Makefile: `{results['peer_command']}` in a copy of {TFLM}; "
                     f"offline: downloads/ filled from third_party ("
                     + ", ".join(source if source == name else f"{source} as {name}"
                                 for name, source in PEER_DOWNLOADS.items())
                     + "), "
                     + (", ".join(results["peer_mirrored"]) + " from --mirror, "
                        if results["peer_mirrored"] else "")
                     + "an empty downloads/pigweed, the compiler on PATH.")
    if results.get("ninja_touch_steps") is not None:
        notes.append(f"ninja ran {results['ninja_touch_steps']} steps for the edit.")
    notes += results["notes"]
    return (table(results, ninja_on, peer_on) + "\n\n" + disk_table(results["disk"]) + "\n\n"
            + identity_line(results["hex"]) + "\n\n" + "\n".join(f"- {note}" for note in notes))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=ROOT,
                        help="the repository to measure (default: this script's)")
    parser.add_argument("--touch", default=DEFAULT_TOUCH,
                        help=f"the file the edit measurements change (default {DEFAULT_TOUCH})")
    parser.add_argument("--ninja", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure the NINJA=1 edit loop (default: on)")
    parser.add_argument("--peer", action=argparse.BooleanOptionalAction, default=None,
                        help="also measure TFLM's own Makefile (default: on when it exists)")
    parser.add_argument("--mirror", metavar="DIR",
                        help="local git repositories tflite-micro, kissfft, Cortex_DFP "
                             "for what the peer needs beyond third_party")
    parser.add_argument("--quick", action="store_true", help="skip the ninja and peer figures")
    parser.add_argument("--readme", action="store_true", help="also update README.md")
    args = parser.parse_args()
    root = os.path.abspath(args.root)
    touch = os.path.join(root, args.touch)
    if args.readme:
        readme_block.check(os.path.join(root, "README.md"), "build")
    if not os.path.isfile(touch):
        print(f"bench: --touch {args.touch}: no such file under {root}", file=sys.stderr)
        return 1
    if os.path.relpath(touch, root).startswith("third_party" + os.sep):
        print(f"bench: --touch {args.touch}: the build refuses an edited third-party tree "
              f"(`scons deps` restores it); give a file of ours, such as {DEFAULT_TOUCH}.",
              file=sys.stderr)
        return 1
    ninja_on = args.ninja and not args.quick
    peer_on = not args.quick and (args.peer if args.peer is not None else
                                  os.path.isfile(os.path.join(root, TFLM, MAKE_DIR, "Makefile")))
    # A SIGTERM ends through the finally blocks, which restore edited files.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = {"ours": {}, "ninja": {}, "peer": {}, "notes": [], "hex": {},
               "touch": os.path.relpath(touch, root),
               "detail": {}, "compiles": {}, "disk": {}}
    measure_ours(root, touch, ninja_on, results)
    if peer_on:
        try:
            measure_peer(root, touch, args.mirror, results)
        except Unavailable as reason:
            results["notes"].append(f"TFLM Makefile figures are n/a: {reason}")
            log(f"TFLM Makefile figures are unavailable: {reason}")
    text = report(results, ninja_on, peer_on)
    print(text)
    if args.readme:
        readme_block.replace(os.path.join(root, "README.md"), "build", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
