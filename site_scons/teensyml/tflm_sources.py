"""What a firmware compiles from TensorFlow Lite Micro (TFLM), and with which flags.

TFLM's own Makefile (tensorflow/lite/micro/tools/make: Makefile, sources.inc,
ext_libs/cmsis_nn.inc, specialize_files.py, targets/cortex_m_generic_makefile.inc)
builds `libtensorflow-microlite.a` from every kernel it has, and, with
OPTIMIZED_KERNEL_DIR=cmsis_nn, from every CMSIS-NN source. This module answers
the same question for one model: the framework ("core") sources as the Makefile
lists them, only the kernels of the model's operators plus what they need, and
only the CMSIS-NN sources those kernels call.

    tree = TflmTree.from_third_party("third_party", cache_path="build/tflm-index.json")
    for group in tree.groups({"CONV_2D", "SOFTMAX"}, kernels="cmsis_nn"):
        group.name, group.sources, group.include_dirs, group.defines, group.optimization

Rules (each mirrors the Makefile unless it says otherwise):

- Core: tensorflow/lite/micro/{,arena_allocator/,memory_planner/,tflite_bridge/}*.cc
  and every .cc/.c under tensorflow/ outside lite/micro and lite/experimental,
  minus lite/array.cc, tests and benchmarks (sources.inc). Then files of the
  same name in the target directory replace them (specialize_files.py with
  TARGET=cortex_m_generic: debug_log.cc, micro_time.cc). Deliberately left out:
  the test scaffolding the Makefile also archives (TESTING_SUPPORT).
- Kernels: the file that defines the `Register_*` function the resolver's
  AddXxx method uses for each operator (micro_mutable_op_resolver.h), then a
  closure: for every header of tensorflow/lite/micro/kernels/ that a selected
  file (or a core file) includes, directly or through other headers of the
  tree, `<stem>.cc` and `<stem>_common.cc` of that directory are selected too
  (conv.h -> conv.cc, conv_common.cc; kernel_util.h -> kernel_util.cc). With
  kernels="cmsis_nn", a file of kernels/cmsis_nn/ replaces the reference file
  of the same name (specialize_files.py), before its own includes are followed.
- CMSIS-NN: not all of Source/**/*.c as ext_libs/cmsis_nn.inc does, but the
  .c files that define a function or table a selected kernel names, closed
  over the .c files those name in turn (inline functions and macros of
  CMSIS-NN's headers are followed to what they call). Names are matched as
  identifiers after comments are removed, so the selection can only err on
  the side of too many files. `cmsis_nn_sources()` with no ops gives the
  Makefile's full list.

Scanning the trees reads a few hundred files (about 0.5 s). The result (the "index") is kept in a
JSON file at `cache_path`, keyed by the .teensyml-stamp.json that `scons deps`
writes into each third_party/<name>/ (it names the commit), by this module's
own source, and by the format version. A run whose key matches reads only the
stamps and the JSON. A tree without a stamp (a checkout of one's own) is keyed
by the size and mtime of every file under it, which needs a walk of the tree.
"""
import fnmatch
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field

from .build_types import BUILD_TYPES
from .errors import UserError

INDEX_FORMAT = 1
STAMP_NAME = ".teensyml-stamp.json"   # written by `scons deps` (teensyml.deps)

KERNEL_SETS = ("reference", "cmsis_nn")
GROUPS = ("core", "kernels", "cmsis_nn")

MICRO = "tensorflow/lite/micro"
KERNEL_DIR = MICRO + "/kernels"
RESOLVER = MICRO + "/micro_mutable_op_resolver.h"
DEFAULT_TARGET = MICRO + "/cortex_m_generic"
# Headers every kernel includes, precompiled once per configuration: parsing
# them (flatbuffers' schema_generated.h above all) is most of a kernel's
# compile time. Order as a kernel includes them; each has include guards.
KERNEL_PRECOMPILED_HEADERS = ("tensorflow/lite/c/common.h",
                              MICRO + "/kernels/kernel_util.h",
                              MICRO + "/micro_common.h",
                              "tensorflow/lite/schema/schema_generated.h")

# sources.inc, MICROLITE_CC_BASE_SRCS (wildcards, not recursive).
CORE_DIRS = (MICRO, MICRO + "/arena_allocator", MICRO + "/memory_planner",
             MICRO + "/tflite_bridge")
# sources.inc, TFL_CC_SRCS: `find tensorflow` minus these subtrees and files.
TFL_ROOT = "tensorflow"
TFL_PRUNED = ("tensorflow/lite/micro", "tensorflow/lite/experimental")
TFL_EXCLUDED = ("tensorflow/lite/array.cc",)   # excluded with TF_LITE_STATIC_MEMORY
# MICROLITE_TEST_SRCS / MICROLITE_BENCHMARK_SRCS, as patterns.
TEST_PATTERNS = ("*_test.cc", "*benchmark.cc")
# In the Makefile's library, used only by tests (kernel_runner, unit-test
# helpers); no firmware needs them, so they stay out of the build.
TESTING_SUPPORT = (MICRO + "/test_helpers.cc", MICRO + "/test_helper_custom_ops.cc",
                   MICRO + "/fake_micro_context.cc", MICRO + "/mock_micro_graph.cc",
                   KERNEL_DIR + "/kernel_runner.cc")

# Makefile: CORE_OPTIMIZATION_LEVEL (-Os with gcc), KERNEL_OPTIMIZATION_LEVEL
# and THIRD_PARTY_KERNEL_OPTIMIZATION_LEVEL (-O2).
OPTIMIZATION = {"core": "-Os", "kernels": "-O2", "cmsis_nn": "-O2"}
# CMSIS-NN files compiled for size (-Os), with why: no convolution runs through
# them, and their unrolled -O2 code is two to three times larger. Figures for
# int8 MNIST with CMSIS-NN (README, "Size"; docs/kernels.md has the table).
CMSIS_NN_FOR_SIZE = {
    "arm_nn_vec_mat_mult_t_s8.c": "fully connected, per-tensor: 3,778 -> 1,344 bytes",
    "arm_nn_vec_mat_mult_t_per_ch_s8.c": "fully connected, per-channel: 3,870 -> 1,424 bytes; "
                                         "its layer waits on weights read once (+2.7% cycles "
                                         "with them in flash)",
    "arm_nn_softmax_common_s8.c": "softmax, once per inference: 3,816 -> 3,220 bytes",
    "arm_nn_mat_mult_nt_t_s8.c": "batched fully connected and 1x1 convolutions: "
                                 "2,340 -> 1,998 bytes",
}
SIZE_OPTIMIZATION = "-Os"

# Groups whose sources compile as one translation unit (unity_source()):
# checked for the core at the pinned commit (41 files: 11 s instead of about
# 150 s of CPU, since every file parses schema_generated.h again). Not the
# kernels: reshape.h's constants are defined twice in one unit, and kernels are
# the files one edits.
UNITY_GROUPS = ("core",)

# Makefile COMMON_FLAGS, OPTIMIZE_KERNELS_FOR's default, cortex_m_generic's
# PLATFORM_FLAGS (TF_LITE_MCU_DEBUG_LOG).
TFLM_DEFINES = ("TF_LITE_STATIC_MEMORY", "TF_LITE_DISABLE_X86_NEON",
                "TF_LITE_MCU_DEBUG_LOG", "KERNELS_OPTIMIZED_FOR_SPEED")

_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"', re.M)
_REGISTER_DEF = re.compile(r"\b(Register_\w+)\s*\(\s*\)\s*\{")
_METHOD = re.compile(r"\bTfLiteStatus\s+(Add\w+)\s*\(")
_BUILTIN = re.compile(r"\bAddBuiltin\s*\(\s*BuiltinOperator_(\w+)")
_CUSTOM = re.compile(r'\bAddCustom\s*\(\s*"([^"]+)"')
_REGISTER_USE = re.compile(r"\b((?:\w+::)*)(Register_\w+)\s*\(")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_C_NOISE = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


@dataclass(frozen=True)
class SourceGroup:
    """One static library's worth of sources and the flags they compile with."""
    name: str                      # "core", "kernels" or "cmsis_nn"
    sources: tuple                 # absolute paths, sorted
    include_dirs: tuple            # absolute paths, in -I order
    defines: tuple                 # "NAME" or "NAME=VALUE", for CPPDEFINES
    optimization: str              # "-Os" or "-O2"
    unity: bool = False            # known to compile as one translation unit
    language: dict = field(default_factory=dict)   # {"c": n, "c++": n}
    replaced: tuple = ()           # sources a directory of ours replaced (still wanted
                                   # under another name: site_scons' cmsis_nn SConscript)
    for_size: tuple = ()           # sources (and replaced ones) compiled SIZE_OPTIMIZATION

    def optimization_of(self, path):
        """The optimisation level of one of the group's sources."""
        return SIZE_OPTIMIZATION if path in self.for_size else self.optimization


def _for_size(group, sources, replaced):
    """A group's sources compiled for size: CMSIS_NN_FOR_SIZE, and the originals
    our tuned files replace (they run only for the shapes ours hand back)."""
    if group != "cmsis_nn":
        return ()
    return tuple(sorted({path for path in sources if os.path.basename(path) in CMSIS_NN_FOR_SIZE}
                        | set(replaced)))


class TflmTree:
    """A TFLM source tree and, optionally, the trees it builds with.

    Every path given is a directory; `root` is the TFLM checkout (the one that
    holds tensorflow/). Methods return absolute paths as str, sorted.
    """

    def __init__(self, root, *, cmsis_nn_root=None, cmsis_core_root=None,
                 flatbuffers_root=None, gemmlowp_root=None, ruy_root=None,
                 cache_path=None):
        self.root = os.path.abspath(root)
        self.cmsis_nn_root = _abs(cmsis_nn_root)
        self.cmsis_core_root = _abs(cmsis_core_root)
        self.flatbuffers_root = _abs(flatbuffers_root)
        self.gemmlowp_root = _abs(gemmlowp_root)
        self.ruy_root = _abs(ruy_root)
        self.cache_path = _abs(cache_path)
        self.scans = 0              # how many times this object scanned the trees
        self._index = None

    @classmethod
    def from_third_party(cls, third_party, cache_path=None):
        """The trees as `scons deps` lays them out: third_party/<name>/."""
        path = lambda name: os.path.join(third_party, name)   # noqa: E731
        return cls(path("tflite-micro"), cmsis_nn_root=path("CMSIS-NN"),
                   cmsis_core_root=path("CMSIS_6"), flatbuffers_root=path("flatbuffers"),
                   gemmlowp_root=path("gemmlowp"), ruy_root=path("ruy"),
                   cache_path=cache_path)

    # --- queries ---------------------------------------------------------------

    def ops_supported(self):
        """Operator names a model may use: builtin ones (CONV_2D, ...) and the
        custom ones the resolver registers from TFLM's kernels (CIRCULAR_BUFFER,
        TFLite_Detection_PostProcess, ...)."""
        return sorted(self.index["ops"])

    def resolver_method(self, op):
        """The MicroMutableOpResolver method that registers `op` ("AddConv2D")."""
        return self.index["ops"][self._check_ops([op])[0]]["method"]

    def core_sources(self, target_dirs=None):
        """The framework sources. `target_dirs` (default: TFLM's
        cortex_m_generic) are directories whose files replace core files of
        the same name, later ones winning: add a directory of your own to
        override, say, micro_time.cc. Files with no core namesake are ignored,
        as specialize_files.py does."""
        if target_dirs is None:
            target_dirs = [os.path.join(self.root, DEFAULT_TARGET)]
        sources = [os.path.join(self.root, path) for path in self.index["core"]]
        for directory in target_dirs:
            sources = specialize(sources, directory)
        return sorted(sources)

    def kernel_sources(self, ops, kernels="reference", seeds=()):
        """The kernel sources for the operators `ops` (names such as "CONV_2D",
        any case), from tensorflow/lite/micro/kernels/ and, with
        kernels="cmsis_nn", its cmsis_nn/ directory. Raises UserError for an
        operator TFLM has no kernel for. `seeds`: more kernel files (names in
        the kernels directory, "lstm_eval.cc") selected as an operator's are,
        for code that calls kernel functions directly (TFLM's kernel tests)."""
        return [os.path.join(self.root, KERNEL_DIR, name)
                for name in self._kernel_names(ops, kernels, seeds)]

    def cmsis_nn_sources(self, ops=None, seeds=()):
        """The CMSIS-NN .c files the cmsis_nn kernels of `ops` call; with
        ops=None every CMSIS-NN source, as TFLM's cmsis_nn.inc compiles."""
        cmsis = self._cmsis_index()
        if ops is None:
            names = cmsis["sources"]
        else:
            deps = cmsis["deps"]
            todo = [dep for name in self._kernel_names(ops, "cmsis_nn", seeds)
                    for dep in deps.get(name, ())]
            seen = set()
            while todo:
                path = todo.pop()
                if path not in seen:
                    seen.add(path)
                    todo.extend(deps.get(path, ()))
            names = sorted(seen)
        return [os.path.join(self.cmsis_nn_root, path) for path in names]

    def include_dirs(self, group, kernels="reference"):
        """-I directories for a group ("core", "kernels", "cmsis_nn"), in order.
        Trees not given to the constructor are left out."""
        _check_choice("kernel set", kernels, KERNEL_SETS)
        _check_choice("source group", group, GROUPS)
        if group == "cmsis_nn":
            return [os.path.join(self._need_cmsis_nn(), "Include")]
        dirs = [self.root]
        if self.flatbuffers_root:
            dirs.append(os.path.join(self.flatbuffers_root, "include"))
        dirs += [d for d in (self.gemmlowp_root, self.ruy_root) if d]
        if self.cmsis_core_root:   # core_cm7.h, for the device header of micro_time.cc
            dirs.append(os.path.join(self.cmsis_core_root, "CMSIS", "Core", "Include"))
        if group == "kernels" and kernels == "cmsis_nn":
            # "Include/arm_nnfunctions.h" from TFLM's kernels, "arm_nn_*.h" within.
            root = self._need_cmsis_nn()
            dirs += [root, os.path.join(root, "Include")]
        return dirs

    def defines(self, group, kernels="reference", build="release", device_header=None):
        """Preprocessor definitions for a group.

        The build type's (teensyml.build_types: NDEBUG when optimised,
        TF_LITE_STRIP_ERROR_STRINGS for BUILD=release, as TFLM's Makefile).
        CMSIS_NN goes to the kernels group only (the Makefile defines it
        everywhere; no core source depends on it except a printf format in
        MicroProfiler::LogTicksPerTagCsv), so core objects are the same for both
        kernel sets. CMSIS-NN's own C sources need no definition.
        device_header (e.g. "MIMXRT1062.h") is the CMSIS device header
        cortex_m_generic's micro_time.cc includes for the DWT cycle counter
        (with ARMCM7, which that file tests to unlock the Cortex-M7 DWT).
        Values are C text: on a shell command line (SCons' CPPDEFINES) the
        quotes of that one must be escaped as \\"."""
        _check_choice("kernel set", kernels, KERNEL_SETS)
        _check_choice("source group", group, GROUPS)
        _check_choice("build", build, tuple(BUILD_TYPES))
        if group == "cmsis_nn":
            return []
        defines = list(TFLM_DEFINES) + BUILD_TYPES[build].defines
        if group == "kernels" and kernels == "cmsis_nn":
            defines.append("CMSIS_NN")
        if group == "core" and device_header:
            defines += [f'CMSIS_DEVICE_ARM_CORTEX_M_XX_HEADER_FILE="{device_header}"',
                        "ARMCM7"]
        return defines

    def groups(self, ops, kernels="reference", build="release", target_dirs=None,
               device_header=None, cmsis_nn_dirs=(),
               kernel_seeds=()):
        """Everything to compile for a model, as SourceGroups: core, kernels
        and, with kernels="cmsis_nn", cmsis_nn. Files in `cmsis_nn_dirs`
        replace CMSIS-NN files of the same name, as `target_dirs` do core
        files; the cmsis_nn group lists the originals as `replaced`.
        `kernel_seeds`: more kernel files, as kernel_sources' `seeds`."""
        names = ["core", "kernels"] + (["cmsis_nn"] if kernels == "cmsis_nn" else [])
        sources = {"core": self.core_sources(target_dirs),
                   "kernels": self.kernel_sources(ops, kernels, kernel_seeds)}
        replaced = {}
        if kernels == "cmsis_nn":
            originals = self.cmsis_nn_sources(ops, kernel_seeds)
            sources["cmsis_nn"] = originals
            for directory in cmsis_nn_dirs:
                sources["cmsis_nn"] = specialize(sources["cmsis_nn"], directory)
            replaced["cmsis_nn"] = tuple(sorted(set(originals) - set(sources["cmsis_nn"])))
        result = []
        for name in names:
            files = sources[name]
            result.append(SourceGroup(
                name, tuple(files), tuple(self.include_dirs(name, kernels)),
                tuple(self.defines(name, kernels, build, device_header)),
                OPTIMIZATION[name], name in UNITY_GROUPS,
                {"c": sum(f.endswith(".c") for f in files),
                 "c++": sum(not f.endswith(".c") for f in files)},
                replaced.get(name, ()), _for_size(name, files, replaced.get(name, ()))))
        return result

    # --- the index ---------------------------------------------------------------

    @property
    def index(self):
        """The scanned facts about the trees (a dict), from the cache when its
        key matches, else by scanning (and then saving the cache)."""
        if self._index is None:
            key = self._key()
            index = self._load(key)
            if index is None:
                index = self._scan()
                index["key"] = key
                self._save(index)
            self._index = index
        return self._index

    def refresh(self):
        """Scan again and rewrite the cache, whatever its key says."""
        self._index = self._scan()
        self._index["key"] = self._key()
        self._save(self._index)

    def _key(self):
        if not os.path.isdir(os.path.join(self.root, MICRO)):
            raise UserError(f"{self.root} is not a TensorFlow Lite Micro tree (it has no "
                            f"{MICRO}/): run `scons deps` (MIRROR=<dir> offline).")
        key = {"format": INDEX_FORMAT, "module": _module_digest(),
               "tflm": tree_signature(self.root)}
        if self._has_cmsis_nn():
            key["cmsis_nn"] = tree_signature(self.cmsis_nn_root)
        return key

    def _has_cmsis_nn(self):
        return bool(self.cmsis_nn_root) and os.path.isdir(self.cmsis_nn_root)

    def _load(self, key):
        if not self.cache_path:
            return None
        try:
            with open(self.cache_path, encoding="utf-8") as stream:
                index = json.load(stream)
        except (OSError, ValueError):
            return None
        return index if isinstance(index, dict) and index.get("key") == key else None

    def _save(self, index):
        if not self.cache_path:
            return
        temporary = f"{self.cache_path}.{os.getpid()}.tmp"
        try:   # the cache only saves time: a read-only place is no error
            os.makedirs(os.path.dirname(self.cache_path) or ".", exist_ok=True)
            with open(temporary, "w", encoding="utf-8") as stream:
                json.dump(index, stream, indent=0, sort_keys=True)
            os.replace(temporary, self.cache_path)
        except OSError:
            try:
                os.remove(temporary)
            except OSError:
                pass

    def _scan(self):
        self.scans += 1
        index = scan_tflm(self.root)
        index["cmsis_nn"] = scan_cmsis_nn(self.cmsis_nn_root, self.root) \
            if self._has_cmsis_nn() else None
        return index

    # --- helpers -----------------------------------------------------------------

    def _check_ops(self, ops):
        if isinstance(ops, str):
            ops = [ops]
        known = self.index["ops"]
        by_upper = {name.upper(): name for name in known}
        names, unknown = [], []
        for op in ops:
            name = op if op in known else by_upper.get(str(op).upper())
            (names if name else unknown).append(name or op)
        if unknown:
            unknown = sorted(map(str, unknown))
            elsewhere = [op for op in unknown if op in self.index["ops_elsewhere"]]
            plural = "s" if len(unknown) > 1 else ""
            note = (f" ({', '.join(elsewhere)}: kernels of TFLM's signal library, outside "
                    f"tensorflow/lite/micro/kernels, which this build does not compile)"
                    if elsewhere else "")
            raise UserError(
                f"The model uses operator{plural} {', '.join(unknown)}, which TFLM lacks: "
                f"micro_mutable_op_resolver.h registers no kernel of "
                f"tensorflow/lite/micro/kernels/ by that name{note}. Operators TFLM "
                f"has: {', '.join(sorted(known))}.")
        return sorted(set(names))

    def _kernel_names(self, ops, kernels, seeds=()):
        """Selected kernel files as paths relative to the kernels directory."""
        _check_choice("kernel set", kernels, KERNEL_SETS)
        index = self.index
        files = set(index["kernel_files"])
        special = set(index["optimized"].get(kernels, ())) if kernels != "reference" else set()
        resolve = lambda name: f"{kernels}/{name}" if name in special else name  # noqa: E731
        selected, todo = set(), [resolve(index["ops"][op]["file"])
                                 for op in self._check_ops(ops)]
        todo += [resolve(name) for name in seeds if name in files]
        todo += [resolve(name) for stem in index["core_kernel_headers"]
                 for name in (stem + ".cc", stem + "_common.cc") if name in files]
        while todo:
            name = todo.pop()
            if name in selected:
                continue
            selected.add(name)
            for stem in index["kernel_headers"].get(name, ()):
                todo += [resolve(c) for c in (stem + ".cc", stem + "_common.cc")
                         if c in files]
        return sorted(selected)

    def _need_cmsis_nn(self):
        if not self._has_cmsis_nn():
            where = f" ({self.cmsis_nn_root} is absent)" if self.cmsis_nn_root else ""
            raise UserError(f"The cmsis_nn kernels need CMSIS-NN{where}: run `scons deps` "
                            f"(MIRROR=<dir> offline).")
        return self.cmsis_nn_root

    def _cmsis_index(self):
        self._need_cmsis_nn()
        if self.index.get("cmsis_nn") is None:   # CMSIS-NN appeared after the scan
            self.refresh()
        return self.index["cmsis_nn"]


def unity_source(paths):
    """The text of one translation unit that compiles all of `paths`."""
    return "".join(f'#include "{path}"\n' for path in paths)


# --- specialization (specialize_files.py) -----------------------------------------

def specialize(sources, directory):
    """Replace each of `sources` by the file of the same name in `directory`,
    when there is one; `sources` is kept as is when the directory is absent."""
    try:
        names = set(os.listdir(directory))
    except OSError:
        return list(sources)
    return [os.path.join(directory, os.path.basename(path))
            if os.path.basename(path) in names else path for path in sources]


# --- scanning TFLM ---------------------------------------------------------------------

def scan_tflm(root):
    """Facts about a TFLM tree, as a JSON-able dict (see TflmTree.index)."""
    core = sorted(_core_sources(root))
    kernel_files = sorted(
        name for name in _listdir(os.path.join(root, KERNEL_DIR))
        if name.endswith(".cc") and not _is_test(name)
        and f"{KERNEL_DIR}/{name}" not in TESTING_SUPPORT)
    optimized = {}
    for kernels in KERNEL_SETS[1:]:
        optimized[kernels] = sorted(
            name for name in _listdir(os.path.join(root, KERNEL_DIR, kernels))
            if name.endswith(".cc") and not _is_test(name))

    includes = _IncludeGraph(root)
    kernel_headers = {}
    for name in kernel_files + [f"{k}/{n}" for k, names in optimized.items() for n in names]:
        stems = includes.kernel_header_stems(f"{KERNEL_DIR}/{name}")
        if stems:
            kernel_headers[name] = stems
    core_stems = sorted({stem for path in core for stem in includes.kernel_header_stems(path)})

    definitions = {}
    for name in kernel_files:
        for register in _REGISTER_DEF.findall(_read(os.path.join(root, KERNEL_DIR, name))):
            definitions.setdefault(register, name)
    ops, outside = {}, {}
    for op, method, register in _resolver_entries(os.path.join(root, RESOLVER)):
        if register in definitions:
            ops[op] = {"method": method, "register": register, "file": definitions[register]}
        else:
            outside[op] = {"method": method, "register": register}
    if not ops:
        raise UserError(f"{os.path.join(root, RESOLVER)} registers no kernel this build "
                        f"can find: is {root} a TensorFlow Lite Micro tree?")
    return {"core": core, "kernel_files": kernel_files, "optimized": optimized,
            "kernel_headers": kernel_headers, "core_kernel_headers": core_stems,
            "ops": ops, "ops_elsewhere": outside}


def _core_sources(root):
    found = []
    for directory in CORE_DIRS:
        found += [f"{directory}/{name}" for name in _listdir(os.path.join(root, directory))
                  if name.endswith(".cc")]
    pruned = {os.path.join(root, path) for path in TFL_PRUNED}
    for current, dirs, files in os.walk(os.path.join(root, TFL_ROOT)):
        dirs[:] = sorted(d for d in dirs if os.path.join(current, d) not in pruned)
        relative = os.path.relpath(current, root).replace(os.sep, "/")
        found += [f"{relative}/{name}" for name in files if name.endswith((".cc", ".c"))]
    return [path for path in found
            if not _is_test(os.path.basename(path))
            and path not in TFL_EXCLUDED and path not in TESTING_SUPPORT]


def _resolver_entries(path):
    """(op name, AddXxx method, Register_* function) for every AddXxx method of
    micro_mutable_op_resolver.h that registers a builtin or a named custom op."""
    text = _strip_comments(_read(path, required=True), keep_strings=True)
    starts = [(m.start(), m.group(1)) for m in _METHOD.finditer(text)]
    entries = []
    for (start, method), (end, _) in zip(starts, starts[1:] + [(len(text), None)]):
        body = text[start:end]
        builtin, custom = _BUILTIN.search(body), _CUSTOM.search(body)
        register = _REGISTER_USE.search(body)
        if method in ("AddBuiltin", "AddCustom") or not register or not (builtin or custom):
            continue
        op = builtin.group(1) if builtin else custom.group(1)
        entries.append((op, method, register.group(2)))
    return entries


def included_kernel_headers(root, paths, leaves=()):
    """Stems of the headers of tensorflow/lite/micro/kernels/ that the files
    `paths` (relative to the TFLM tree `root`) include, directly or through
    other headers of the tree, not looking into the headers `leaves` (such as
    micro_ops.h, which declares every kernel): the seeds of their kernel
    selection."""
    graph = _IncludeGraph(root)
    for leaf in leaves:
        graph.memo[leaf] = []
    return sorted({stem for path in paths for stem in graph.kernel_header_stems(path)})


class _IncludeGraph:
    """#include "..." edges between the files of one tree, resolved against the
    tree root (TFLM's convention) or the including file's directory."""

    def __init__(self, root):
        self.root = root
        self.memo = {}

    def direct(self, path):
        found = []
        for include in _INCLUDE.findall(_strip_comments(
                _read(os.path.join(self.root, path)), keep_strings=True)):
            for candidate in (include, os.path.normpath(
                    os.path.join(os.path.dirname(path), include)).replace(os.sep, "/")):
                if os.path.isfile(os.path.join(self.root, candidate)):
                    found.append(candidate)
                    break
        return found

    def closure(self, path):
        """Every tree header `path` includes, directly or not."""
        seen, todo = set(), self.direct(path)
        while todo:
            header = todo.pop()
            if header in seen:
                continue
            seen.add(header)
            if header not in self.memo:
                self.memo[header] = self.direct(header)
            todo.extend(self.memo[header])
        return seen

    def kernel_header_stems(self, path):
        return sorted(os.path.splitext(os.path.basename(h))[0] for h in self.closure(path)
                      if os.path.dirname(h) == KERNEL_DIR and h.endswith(".h"))


# --- scanning CMSIS-NN -------------------------------------------------------------------

def scan_cmsis_nn(cmsis_root, tflm_root):
    """For each TFLM cmsis_nn kernel and each CMSIS-NN .c file (relative paths:
    "cmsis_nn/conv.cc", "Source/.../x.c"), the CMSIS-NN .c files it needs."""
    sources = sorted(
        os.path.relpath(os.path.join(current, name), cmsis_root).replace(os.sep, "/")
        for current, _, files in os.walk(os.path.join(cmsis_root, "Source"))
        for name in files if name.endswith(".c"))
    if not sources:
        raise UserError(f"{cmsis_root} holds no CMSIS-NN sources (Source/**/*.c): "
                        f"run `scons deps` (MIRROR=<dir> offline).")
    defined_in = {}          # global function or table -> .c files defining it
    idents = {}              # .c file -> identifiers it names
    for path in sources:
        text = _strip_comments(_read(os.path.join(cmsis_root, path)))
        code = _drop_preprocessor(text)
        for name, is_static, _ in _top_level_definitions(code):
            if not is_static:
                defined_in.setdefault(name, set()).add(path)
        idents[path] = set(_IDENT.findall(text))
    header_units = {}        # inline function or macro of Include/ -> identifiers
    for current, _, files in os.walk(os.path.join(cmsis_root, "Include")):
        for name in files:
            if name.endswith(".h"):
                text = _strip_comments(_read(os.path.join(current, name)))
                for macro, body in _macros(text):
                    header_units.setdefault(macro, set()).update(_IDENT.findall(body))
                for function, _, body in _top_level_definitions(_drop_preprocessor(text)):
                    header_units.setdefault(function, set()).update(_IDENT.findall(body))

    def needs(names, own=None):
        result, seen, todo = set(), set(), list(names)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            result.update(defined_in.get(name, ()))
            todo.extend(header_units.get(name, ()))
        result.discard(own)
        return sorted(result)

    deps = {path: needs(idents[path], path) for path in sources}
    kernel_dir = os.path.join(tflm_root, KERNEL_DIR)
    for kernels in KERNEL_SETS[1:]:
        for name in _listdir(os.path.join(kernel_dir, kernels)):
            if name.endswith(".cc") and not _is_test(name):
                text = _strip_comments(_read(os.path.join(kernel_dir, kernels, name)))
                deps[f"{kernels}/{name}"] = needs(set(_IDENT.findall(text)))
    return {"sources": sources, "deps": {k: v for k, v in deps.items() if v}}


def _top_level_definitions(code):
    """(name, is_static, body) of every function defined at file scope of
    comment- and preprocessor-free C, and of every initialized table."""
    found, depth, start, head = [], 0, 0, ""
    i, n = 0, len(code)
    while i < n:
        c = code[i]
        if c == "{":
            if depth == 0:
                head = code[start:i]
                if re.search(r'\bextern\s*"[^"]*"\s*$', head):
                    start = i + 1       # extern "C" { ... }: not a scope of its own
                    i += 1
                    continue
                body_start = i
            depth += 1
        elif c == "}":
            if depth == 0:              # the end of an extern "C" block
                start = i + 1
            else:
                depth -= 1
                if depth == 0:
                    entry = _definition(head, code[body_start:i + 1])
                    if entry:
                        found.append(entry)
                    start = i + 1
        elif c == ";" and depth == 0:
            start = i + 1
        i += 1
    return found


def _definition(head, body):
    words = set(_IDENT.findall(head))
    is_static = bool(words & {"static", "__STATIC_INLINE", "__STATIC_FORCEINLINE"})
    if "typedef" in words or re.match(r"\s*(struct|enum|union)\b[^=]*$", head):
        return None
    function = re.search(r"\b([A-Za-z_]\w*)\s*\((?:[^()]|\([^()]*\))*\)\s*$", head)
    if function:
        return function.group(1), is_static, body
    table = re.search(r"\b([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)*=\s*$", head)
    if table:
        return table.group(1), is_static, body
    return None


def _macros(text):
    text = text.replace("\\\n", " ")
    return re.findall(r"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)(.*)$", text, re.M)


def _drop_preprocessor(text):
    return re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", "", text, flags=re.M)


def _strip_comments(text, keep_strings=False):
    """C/C++ text without comments (line numbers kept); string and character
    literals emptied unless keep_strings."""
    def replace(match):
        token = match.group(0)
        if token.startswith("/*"):
            return "\n" * token.count("\n") or " "
        if token.startswith("//"):
            return " "
        return token if keep_strings else '""'
    return _C_NOISE.sub(replace, text)


# --- cache keys -------------------------------------------------------------------------

def tree_signature(root):
    """What stands for a tree's content in the cache key: its stamp from
    `scons deps` (which names the commit), else the path, size and mtime of
    every file under it."""
    stamp = os.path.join(root, STAMP_NAME)
    try:
        with open(stamp, "rb") as stream:
            return "stamp:" + hashlib.sha256(stream.read()).hexdigest()
    except FileNotFoundError:
        pass
    digest = hashlib.sha256()
    for current, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(current, name)
            info = os.stat(path)
            digest.update(f"{os.path.relpath(path, root)}\0{info.st_size}\0"
                          f"{info.st_mtime_ns}\n".encode())
    return "files:" + digest.hexdigest()


_MODULE_DIGEST = None


def _module_digest():
    global _MODULE_DIGEST
    if _MODULE_DIGEST is None:
        with open(__file__, "rb") as stream:
            _MODULE_DIGEST = hashlib.sha256(stream.read()).hexdigest()[:16]
    return _MODULE_DIGEST


# --- small helpers -----------------------------------------------------------------------

def _abs(path):
    return os.path.abspath(path) if path else None


def _listdir(path):
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _read(path, required=False):
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            return stream.read()
    except OSError:
        if required:
            raise UserError(f"{path} is missing: is this a TensorFlow Lite Micro tree? "
                            f"Run `scons deps` (MIRROR=<dir> offline).") from None
        return ""


def _is_test(name):
    return any(fnmatch.fnmatch(name, pattern) for pattern in TEST_PATTERNS)


def _check_choice(what, value, choices):
    if value not in choices:
        raise UserError(f"Unknown {what} {value!r}: choose one of {', '.join(choices)}.")


# --- command line ------------------------------------------------------------------------

def main(argv=None):
    """python -m teensyml.tflm_sources THIRD_PARTY OP [OP ...] [--kernels cmsis_nn]
    prints the source groups as JSON."""
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("third_party")
    parser.add_argument("ops", nargs="*")
    parser.add_argument("--kernels", default="reference", choices=KERNEL_SETS)
    parser.add_argument("--build", default="release", choices=tuple(BUILD_TYPES))
    parser.add_argument("--cache")
    parser.add_argument("--list-ops", action="store_true")
    args = parser.parse_args(argv)
    tree = TflmTree.from_third_party(args.third_party, cache_path=args.cache)
    if args.list_ops:
        print("\n".join(tree.ops_supported()))
        return 0
    groups = tree.groups(args.ops, args.kernels, args.build)
    json.dump([group.__dict__ for group in groups], sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    from .errors import cli
    sys.exit(cli(main)())
