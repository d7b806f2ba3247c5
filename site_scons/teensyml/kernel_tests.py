"""`scons kernel-tests`: TFLM's kernel unit tests on the emulated board.

Each tensorflow/lite/micro/kernels/*_test.cc of the pinned TFLM tree becomes
an image of its own, built with this project's toolchain, board support and
kernel set, and runs in the emulator. This module holds the logic, plain
Python (tested without SCons or third_party/):

    tests = scan(tflm_root, ops_index)          # every test file, what it needs
    chosen = select(tests, "conv,pooling", model_ops)   # OPS= or the model's ops
    result = parse_output(console_text)         # TFLM's own test output
    result = run_image(hex_path, elf_path)      # in the emulator, with limits
    summary_line(results, not_built, label)

Names: a test file is named by its stem without `_test` (OPS=conv means
kernels/conv_test.cc). A test file covers the operators whose `Register_*`
function it calls (pooling_test: AVERAGE_POOL_2D, MAX_POOL_2D); OPS= empty
selects the test files covering an operator of the model (MODEL=).
"""
import json
import os
import re
from dataclasses import asdict, dataclass, field

from .errors import UserError
from .option_values import CommandSettings
from .options import OPTIONS_BY_KEY

KERNEL_DIR = "tensorflow/lite/micro/kernels"
MAKEFILE_INC = KERNEL_DIR + "/Makefile.inc"
SUFFIX = "_test.cc"
# What TFLM's Makefile archives beside the kernels for its tests
# (tflm.TESTING_SUPPORT): the kernel runner, the test helpers.
TESTING_SUPPORT = ("tensorflow/lite/micro/test_helpers.cc",
                   "tensorflow/lite/micro/test_helper_custom_ops.cc",
                   "tensorflow/lite/micro/fake_micro_context.cc",
                   "tensorflow/lite/micro/mock_micro_graph.cc",
                   KERNEL_DIR + "/kernel_runner.cc")
# Test files this build does not make, with the reason (checked at the pinned
# commit; the README's results table repeats them).
NOT_BUILT = {
    "decompress": "tests TFLM's compressed tensors: the whole file (main() too) is "
                  "under #ifdef USE_TFLM_COMPRESSION, which only TFLM's "
                  "ENABLE_COMPRESSION=yes defines; the firmware's TFLM is built without "
                  "it, as TFLM's Makefile builds by default",
}
ALL = "all"
COMMAND = "kernel-tests"
# Their build type, from the option table (TFLM's tests report through
# MicroPrintf, which BUILD=release compiles out).
BUILD = OPTIONS_BY_KEY["BUILD"].default_for((COMMAND,))
END_MARKERS = ("~~~ALL TESTS PASSED~~~", "~~~SOME TESTS FAILED~~~")
END_PATTERN = rb"~~~(ALL TESTS PASSED|SOME TESTS FAILED)~~~"
# Default limits per test file (MAX_SECONDS= / MAX_INSTRUCTIONS= override).
DEFAULT_MAX_SECONDS = 900.0
DEFAULT_MAX_INSTRUCTIONS = 20_000_000_000

# Headers that declare every kernel (the op resolver's): a test including
# them calls only the kernels of its Register_* calls.
RESOLVER_HEADERS = ("tensorflow/lite/micro/micro_mutable_op_resolver.h",
                    "tensorflow/lite/micro/kernels/micro_ops.h")

_REGISTER = re.compile(r"\b(Register_[A-Z0-9_]+)\s*\(")
_RESOLVER_METHOD = re.compile(r"\.\s*(Add[A-Z]\w*)\s*\(")


@dataclass(frozen=True)
class TestFile:
    name: str                  # "conv": OPS= spells it so
    path: str                  # relative to the TFLM tree
    ops: tuple = ()            # the TFLM operators it tests (OPS= empty: the model's)
    needs: tuple = ()          # the operators whose kernels it calls (ops and more)
    extra_sources: tuple = ()  # relative to the TFLM tree (kernels/Makefile.inc)
    kernel_seeds: tuple = ()   # kernel files its headers select ("lstm_eval.cc")
    not_built: str = ""        # why this build does not make it, if it does not

    @property
    def stem(self):
        return self.name + "_test"


# --- which test files exist, and what they need --------------------------------------

def test_names(tflm_root):
    """The names of the test files in the kernels directory, sorted."""
    try:
        files = os.listdir(os.path.join(tflm_root, KERNEL_DIR))
    except OSError:
        raise UserError(f"{os.path.join(tflm_root, KERNEL_DIR)} is missing: run `scons "
                        f"deps` (MIRROR=<dir> offline).") from None
    return sorted(name[:-len(SUFFIX)] for name in files if name.endswith(SUFFIX))


def extra_sources(makefile_text):
    """{test path: extra source paths} from kernels/Makefile.inc's
    microlite_test calls (paths relative to the tree)."""
    found = {}
    for line in makefile_text.replace("\\\n", " ").splitlines():
        call = line.split("microlite_test", 1)
        if len(call) < 2 or line.lstrip().startswith("#"):
            continue
        fields = call[1].strip().rstrip(")").split(",")
        if len(fields) < 3:
            continue
        paths = [word.replace("$(TENSORFLOW_ROOT)", "") for word in fields[2].split()]
        if paths and paths[0].endswith(SUFFIX):
            found[paths[0]] = tuple(paths[1:])
    return found


def ops_of(text, registers):
    """The operators a test's source `text` covers: those whose Register_*
    function (`registers`: {register: [ops]}) it calls, or a type-specialised
    one of (Register_FULLY_CONNECTED_INT8 covers FULLY_CONNECTED)."""
    ops = set()
    for register in set(_REGISTER.findall(text)):
        if register in registers:
            ops.update(registers[register])
            continue
        base = register
        while "_" in base[len("Register_"):]:
            base = base.rsplit("_", 1)[0]
            if base in registers:
                ops.update(registers[base])
                break
    return tuple(sorted(ops))


def methods_of(text, methods):
    """The operators a test's source `text` adds to an op resolver
    (resolver.AddWhile()); `methods`: {AddXxx: [ops]}."""
    return tuple(sorted({op for method in _RESOLVER_METHOD.findall(text)
                         for op in methods.get(method, ())}))


def scan(tflm_root, ops_index):
    """Every kernel test file of the tree, as TestFiles. `ops_index`:
    {op: {"register": "Register_X", "method": "AddX", "file": "x.cc"}}
    (TflmTree.index["ops"]). A test file tests the operators whose Register_*
    function it calls and those of the kernel file of its name (while_test:
    while.cc); it needs those and the operators it adds to a resolver."""
    from .tflm.tflm_scan import included_kernel_headers
    registers, methods, files = {}, {}, {}
    for op, entry in ops_index.items():
        registers.setdefault(entry["register"], []).append(op)
        methods.setdefault(entry.get("method"), []).append(op)
        files.setdefault(entry.get("file"), []).append(op)
    try:
        with open(os.path.join(tflm_root, MAKEFILE_INC), encoding="utf-8") as stream:
            extras = extra_sources(stream.read())
    except OSError:
        extras = {}
    tests = []
    for name in test_names(tflm_root):
        path = f"{KERNEL_DIR}/{name}{SUFFIX}"
        sources = extras.get(path, ())
        with open(os.path.join(tflm_root, path), encoding="utf-8", errors="replace") as stream:
            text = stream.read()
        missing = [source for source in sources
                   if not os.path.isfile(os.path.join(tflm_root, source))]
        reason = NOT_BUILT.get(name, "")
        if missing and not reason:
            reason = (f"needs {', '.join(missing)}, outside the files `scons deps` "
                      f"extracts (third_party/manifest.toml)")
        present = [source for source in (path, *sources)
                   if os.path.isfile(os.path.join(tflm_root, source))]
        stems = included_kernel_headers(tflm_root, present, RESOLVER_HEADERS)
        own = {os.path.basename(source) for source in sources}
        seeds = [f"{stem}{suffix}" for stem in stems for suffix in (".cc", "_common.cc")]
        ops = sorted(set(ops_of(text, registers)) | set(files.get(f"{name}.cc", ())))
        needs = sorted(set(ops) | set(methods_of(text, methods)))
        tests.append(TestFile(name, path, tuple(ops), tuple(needs), tuple(sources),
                              tuple(seed for seed in seeds if seed not in own), reason))
    return tests


def select(tests, ops_option, model_ops=(), model_name="the model"):
    """The TestFiles to run: OPS= `ops_option` ("all", or comma-separated
    names), or when it is empty those covering an operator of the model."""
    by_name = {test.name: test for test in tests}
    text = (ops_option or "").strip()
    if text == ALL:
        return list(tests)
    if text:
        names = [word.strip() for word in text.split(",") if word.strip()]
        unknown = [name for name in names if name not in by_name]
        if unknown or not names:
            raise UserError(
                f"OPS={ops_option} is not valid: "
                f"{'no test file named ' + ', '.join(unknown) if unknown else 'no name given'}"
                f". Give all, or comma-separated names of TFLM's kernel test files "
                f"(tensorflow/lite/micro/kernels/<name>_test.cc): {', '.join(by_name)}.")
        return [by_name[name] for name in dict.fromkeys(names)]
    wanted = {op.upper() for op in model_ops}
    chosen = [test for test in tests if wanted & set(test.ops)]
    if not chosen:
        raise UserError(f"No kernel test file of TFLM covers an operator of {model_name} "
                        f"({', '.join(sorted(wanted)) or 'none'}); give OPS=all or "
                        f"OPS=<names>: {', '.join(by_name)}.")
    return chosen


def buildable(tests):
    return [test for test in tests if not test.not_built]


def selected_ops(tests):
    """The operators whose kernels the chosen test files call."""
    return sorted({op for test in buildable(tests) for op in test.needs})


def selected_seeds(tests):
    return sorted({seed for test in buildable(tests) for seed in test.kernel_seeds})


# --- TFLM's test output ------------------------------------------------------------------

@dataclass
class FileResult:
    """The result of one test file."""
    name: str
    status: str                     # "passed", "failed" (or "not built")
    passed: int = 0                 # tests passed, as TFLM counted them
    total: int = 0
    tests: list = field(default_factory=list)          # [name, "passed"|"failed"]
    failures: list = field(default_factory=list)       # TFLM's "... failed at" lines
    reason: str = ""                # why it failed, in one line

    def to_json(self):
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text):
        return cls(**json.loads(text))


_COUNT = re.compile(r"^(\d+)/(\d+) tests passed$")            # micro_test.h
_RUN = re.compile(r"^\[ RUN      \] (\S+)$")                    # micro_test_v2.h ...
_OK = re.compile(r"^\[       OK \] (\S+)$")
_FAILED = re.compile(r"^\[  FAILED  \] (\S+)$")
_RAN = re.compile(r"^\[==========\] (\d+) tests ran\.$")
_PASSED = re.compile(r"^\[  PASSED  \] (\d+) tests\.$")
_FAILED_COUNT = re.compile(r"^\[  FAILED  \] (\d+) tests, listed below:$")


def parse_output(name, text, stop_reason=""):
    """A FileResult from the console text of a test image.

    TFLM's kernel tests use micro_test_v2.h (googletest's format): "[ RUN ]
    Suite.Test", the failed expectations ("file:line: Failure" and the
    values), "[ OK ]" or "[ FAILED ]" per test, "[==========] n tests ran.",
    "[ PASSED ] n tests.", then ~~~ALL TESTS PASSED~~~ or the failed tests
    listed. Older ones use micro_test.h: "Testing <name>", "... failed at
    file:line" per failed expectation, "n/m tests passed", then
    ~~~ALL TESTS PASSED~~~ or ~~~SOME TESTS FAILED~~~. Both are read.
    `stop_reason`: why the emulator stopped, when main() did not return
    (crash, limit); then the test running at the time failed."""
    tests, failures = [], []
    status_of = {}                  # test -> "passed" | "failed" | None (running)
    ran = passed_count = count = marker = None
    listing = False
    for raw in text.replace("\r", "\n").split("\n"):
        line = raw.strip()
        if not line:
            continue
        match = None
        if _RAN.match(line):
            ran = int(_RAN.match(line).group(1))
        elif _PASSED.match(line):
            passed_count = int(_PASSED.match(line).group(1))
        elif _FAILED_COUNT.match(line):
            listing = True
        elif (match := _RUN.match(line)) or (not listing and line.startswith("Testing ")
                                              and count is None and ran is None):
            test = match.group(1) if match else line[len("Testing "):]
            tests.append(test)
            status_of[test] = None if match else "passed"
        elif (match := _OK.match(line)) and match.group(1) in status_of:
            status_of[match.group(1)] = "passed"
        elif (match := _FAILED.match(line)) and match.group(1) in status_of:
            status_of[match.group(1)] = "failed"
        elif _COUNT.match(line):
            count = tuple(int(n) for n in _COUNT.match(line).groups())
        elif line in END_MARKERS:
            marker = line
        elif ": Failure" in line or " failed at " in line:
            failures.append(line)
            if tests and status_of[tests[-1]] != "failed" and " failed at " in line:
                status_of[tests[-1]] = "failed"          # micro_test.h
    complete = marker is not None or ran is not None or count is not None
    if not complete and tests and status_of[tests[-1]] in (None, "passed"):
        status_of[tests[-1]] = "failed"                  # stopped inside it
    records = [[test, status_of[test] or "failed"] for test in tests]
    failed = [test for test, status in records if status == "failed"]
    if count:
        passed, total = count
    elif ran is not None:
        passed, total = (passed_count if passed_count is not None else ran - len(failed)), ran
    else:
        passed, total = len(tests) - len(failed), len(tests)
    result = FileResult(name, "failed", passed, total, records, failures)
    if not complete:
        where = f" in test {tests[-1]}" if tests else " before its first test"
        result.reason = (f"{stop_reason or 'main() returned without the tests summary'}"
                         f"{where} ({len(tests)} test(s) started)")
    elif marker == END_MARKERS[0] and passed == total and not failed and not stop_reason:
        result.status = "passed"
    else:
        first = f"; first: {failures[0]}" if failures else ""
        result.reason = (f"{total - passed} of {total} failed: {', '.join(failed) or '?'}"
                         f"{first}")
    return result


# --- running an image --------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings(CommandSettings):
    """What `scons kernel-tests` runs, from resolved options."""
    ops: str                    # OPS=: "all", test file names, or "" (the model's)
    max_seconds: float          # per image; 0: DEFAULT_MAX_SECONDS
    max_instructions: int       # per image; 0: DEFAULT_MAX_INSTRUCTIONS


def run_image(name, hex_path, elf_path, settings):
    """(FileResult, log text) of a test image run in the emulator (see
    run_loaded) within the limits of `settings`; the image is refused, as
    `scons emulate` refuses it, when it is not whole."""
    from .emulator import load_firmware
    image, symbols = load_firmware(hex_path, elf_path)
    return run_loaded(name, image, symbols, settings.max_seconds, settings.max_instructions)


def run_loaded(name, image, symbols=None, max_seconds=None, max_instructions=None):
    """(FileResult, log text) of a test image (a teensy_image.FirmwareImage)
    run until TFLM's end line, main() returning (the start-up code then
    executes WFI), a crash or a limit (defaults above). The simple timing
    model: the cycles do not matter here, only the results. The log is the
    console text and the emulator's reason to stop."""
    from .emulator import Machine, ScriptedConsole
    console = ScriptedConsole(b"", END_PATTERN)
    machine = Machine(image, symbols, console, timing="simple")
    stop = machine.run(max_seconds or DEFAULT_MAX_SECONDS,
                       max_instructions or DEFAULT_MAX_INSTRUCTIONS)
    text = console.text()
    normal = stop.reason in ("until", "halt")
    lines = stop.crash.lines() if stop.crash is not None else [] if normal else [stop.message]
    reason = "" if normal else "emulator: " + (" ".join(lines[:2]) if stop.crash else
                                                stop.message)
    log = text + "".join(f"\nemulate: {line}" for line in lines)
    log += f"\nemulate: {machine.counts().instructions:,} instructions\n"
    return parse_output(name, text, reason), log


# --- reporting ----------------------------------------------------------------------------------

def result_line(result):
    if result.status == "passed":
        return f"  passed     {result.name + '_test':<36} {result.passed}/{result.total} tests"
    if result.status == "not built":
        return f"  not built  {result.name + '_test':<36} {result.reason}"
    return (f"  FAILED     {result.name + '_test':<36} {result.passed}/{result.total} tests: "
            f"{result.reason}")


def summary_line(results, label):
    counts = {status: sum(r.status == status for r in results)
              for status in ("passed", "failed", "not built")}
    files = "test file" if len(results) == 1 else "test files"
    return (f"kernel-tests ({label}): {len(results)} {files}: {counts['passed']} passed, "
            f"{counts['failed']} failed, {counts['not built']} not built")


def report(results, label):
    """The per-file lines and the summary line, and the exit status: 1 when
    any test file failed."""
    lines = [result_line(result) for result in results] + [summary_line(results, label)]
    return lines, int(any(result.status == "failed" for result in results))


def variant_name(values):
    """build/kernel-tests/<name>: the options that name the firmware's
    directories, but the model's (it only chooses the test files); their own
    default build type (the option table's) goes unspelled."""
    from .options import directory_name
    return directory_name(values, "image", scopes=("", "kernels"), command=COMMAND)


def label(values, model_name):
    """How the report names the configuration."""
    if not values["USE_CMSIS_NN"]:
        kernels = "reference kernels"
    else:
        kernels = "CMSIS-NN kernels" + ("" if values["TUNED_KERNELS"] else
                                         ", CMSIS-NN's own files (TUNED_KERNELS=0)")
    ops = values["OPS"]
    return f"{kernels}, {'OPS=' + ops if ops else 'the operators of ' + model_name}"
