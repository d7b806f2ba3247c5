"""The kernels' transient precompiled header (docs/build-speed.md).

GCC's .gch of the TFLM headers is a dump of the compiler's heap: about
330 MB per configuration, and it cannot be made small. It is only an
accelerator (the objects are the same byte for byte with or without it),
so it is not a build output: it is built when a build is about to compile
the kernels, used by them, and deleted when the build ends. SCons tracks a
small stamp instead, whose signature is the .gch's (the command, the
header, the third-party stamps); the stamp's action builds the .gch.

    python -m teensyml.pch build HEADER STAMP [INPUT ...] -- <PCH command>
    python -m teensyml.pch prepare HEADER OBJECT [INPUT ...] -- <PCH command>
    remove(HEADER)          # at the end of the build

`build` (the stamp's action) builds HEADER.gch unless a valid one is there,
then writes STAMP. `prepare` runs before each compile that includes HEADER:
it leaves a valid .gch for the compiler, removes one built from other
inputs, and otherwise lets the object compile without one, unless this
build has already compiled MISSES_BEFORE_BUILDING objects without it: then
it builds it (a build that recompiles one or two kernels is quicker
without). The <PCH command> has no -o: the .gch is written under a
temporary name and renamed, so GCC never reads a partial one. Which inputs
a .gch was built from is in HEADER.gch.key, written after the rename.

Beside HEADER, while a build runs: HEADER.gch, .gch.key, .gch.misses (the
objects compiled without it), .gch.lock (kept, empty). Plain Python, tested
without SCons.
"""
import contextlib
import fcntl
import glob
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from .atomic_file import write_text

# A kernel compiles in about 3.7 s without the .gch and 1.7 s with it;
# building it takes 10-12 s, while the other core compiles about three
# kernels without: on 2 cores it pays from about a dozen kernels (8 kernels
# with it built after 4 took more CPU time than all 8 without).
MISSES_BEFORE_BUILDING = 8
SUFFIXES = (".gch", ".gch.key", ".gch.misses")


class Paths:
    """The files of one precompiled header, beside the header."""

    def __init__(self, header):
        self.header = header
        self.gch = header + ".gch"
        self.key = self.gch + ".key"
        self.misses = self.gch + ".misses"
        self.lock = self.gch + ".lock"

    def temporaries(self):
        """What an interrupted build left: a .gch or key being written."""
        return glob.glob(glob.escape(self.gch) + ".*.tmp")


def key(command, inputs):
    """What a .gch depends on: the exact command (flags, compiler path), the
    compiler binary, and the contents of `inputs` (the header and the
    stamps standing for the third-party headers)."""
    digest = hashlib.sha256()
    compiler = shutil.which(command[0]) or command[0]
    stat = os.stat(compiler)
    digest.update(json.dumps([list(command), stat.st_size, stat.st_mtime_ns]).encode())
    for path in inputs:
        with open(path, "rb") as stream:
            digest.update(hashlib.sha256(stream.read()).digest())
    return digest.hexdigest()


def is_valid(paths, expected):
    try:
        with open(paths.key) as stream:
            recorded = stream.read().strip()
    except OSError:
        return False
    return recorded == expected and os.path.isfile(paths.gch)


@contextlib.contextmanager
def locked(paths, wait=True):
    """The .gch's lock (for building or removing it): yields False when
    `wait` is off and another process holds it."""
    with open(paths.lock, "a") as stream:
        try:
            fcntl.flock(stream, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(stream, fcntl.LOCK_UN)


def _discard(paths):
    """The .gch and its key (the key first: a .gch without one is never
    used)."""
    for path in (paths.key, paths.gch):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _compile(paths, command, expected, announce):
    """Build the .gch (the lock held): into a temporary file, renamed when
    GCC succeeded; the key after it. Returns GCC's status."""
    _discard(paths)
    announce(command)
    handle, temporary = tempfile.mkstemp(prefix=os.path.basename(paths.gch) + ".",
                                         suffix=".tmp", dir=os.path.dirname(paths.gch) or ".")
    os.close(handle)
    try:
        status = subprocess.call([*command, "-o", temporary])
        if status == 0:
            os.replace(temporary, paths.gch)
            write_text(paths.key, expected + "\n")
        return status
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def build(paths, command, inputs, announce):
    """The .gch for `command`, unless a valid one is there (the stamp's
    action). Returns GCC's status."""
    expected = key(command, inputs)
    with locked(paths):
        if is_valid(paths, expected):
            return 0
        return _compile(paths, command, expected, announce)


def prepare(paths, command, inputs, target, announce, misses_before=MISSES_BEFORE_BUILDING):
    """Before `target` compiles with -include header: 'use' (a valid .gch
    is there), 'built' (built now), or 'without' (none: the compiler reads
    the header itself)."""
    expected = key(command, inputs)
    if is_valid(paths, expected):
        return "use"
    with open(paths.misses, "a") as stream:      # one short append: atomic
        stream.write(target + "\n")
    with open(paths.misses) as stream:
        misses = len(set(stream.read().splitlines()))
    # Past the threshold, build it, unless another process is (then this
    # object compiles without rather than wait). A stale .gch must go before
    # the compiler starts, so that case waits for the lock.
    stale = os.path.exists(paths.gch)
    if misses <= misses_before and not stale:
        return "without"
    with locked(paths, wait=stale) as held:
        if not held:
            return "without"
        if is_valid(paths, expected):
            return "use"
        if misses <= misses_before:
            _discard(paths)
            return "without"
        return "built" if _compile(paths, command, expected, announce) == 0 else "without"


def remove(header):
    """The end of a build: the .gch, its key, the misses and what an
    interrupted build left; not while another process holds the lock."""
    paths = Paths(header)
    if not any(os.path.exists(paths.header + suffix) for suffix in SUFFIXES) \
            and not paths.temporaries():
        return
    with locked(paths, wait=False) as held:
        if held:
            for path in [paths.key, paths.gch, paths.misses, *paths.temporaries()]:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)


# --- command line ------------------------------------------------------------------
USAGE = ("usage: python -m teensyml.pch build|prepare HEADER OUTPUT [INPUT ...] [--verbose] "
         "-- <PCH command without -o>")


def _announcer(paths, verbose):
    def announce(command):
        print(" ".join([*command, "-o", paths.gch]) if verbose else f"  PCH  {paths.gch}",
              flush=True)
    return announce


def _stop_on_sigterm():
    """SIGTERM and SIGHUP end this process through its finally blocks (as
    Ctrl-C does), so no temporary .gch is left."""
    def stop(signum, frame):
        raise SystemExit(128 + signum)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)


def main(argv=None):
    """build: OUTPUT is the stamp to write; prepare: the object about to
    compile. INPUTs: what the .gch depends on besides the header."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--" not in argv:
        print(USAGE, file=sys.stderr)
        return 2
    split = argv.index("--")
    words, command = argv[:split], argv[split + 1:]
    verbose = "--verbose" in words
    words = [word for word in words if word != "--verbose"]
    if len(words) < 3 or words[0] not in ("build", "prepare") or not command:
        print(USAGE, file=sys.stderr)
        return 2
    mode, header, output, inputs = words[0], words[1], words[2], words[3:]
    _stop_on_sigterm()
    paths = Paths(header)
    announce = _announcer(paths, verbose)
    try:
        if mode == "prepare":
            prepare(paths, command, [header, *inputs], output, announce)
            return 0        # without a .gch the compile is still right
        status = build(paths, command, [header, *inputs], announce)
        if status == 0:
            write_text(output, f"{os.path.basename(paths.gch)}: built from the header, the "
                               f"flags and the third-party stamps\n")
        return status
    except KeyboardInterrupt:
        return 128 + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
