"""TflmTree: what a firmware compiles from TFLM (and CMSIS-NN) for a model's
operators, as SourceGroups (the package's docstring has the rules)."""
import os
from dataclasses import dataclass, field

from ..build_types import BUILD_TYPES
from ..errors import UserError
from . import index_cache
from .layout import (CMSIS_NN_FOR_SIZE, CMSIS_NN_HELPERS_CALLED, DEFAULT_TARGET, GROUPS,
                     HELPERS_CALLED_DEFINE, KERNEL_DIR, KERNEL_SETS, MICRO, OPTIMIZATION,
                     SIZE_OPTIMIZATION, TFLM_DEFINES, UNITY_GROUPS, check_choice, specialize)


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

    def size_defines_of(self, path):
        """The defines one of the group's sources adds when optimised, as
        CPPDEFINES entries: CMSIS_NN_HELPERS_CALLED's."""
        called = self.name == "cmsis_nn" and os.path.basename(path) in CMSIS_NN_HELPERS_CALLED
        return [HELPERS_CALLED_DEFINE] if called else []


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
        check_choice("kernel set", kernels, KERNEL_SETS)
        check_choice("source group", group, GROUPS)
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
        check_choice("kernel set", kernels, KERNEL_SETS)
        check_choice("source group", group, GROUPS)
        check_choice("build", build, tuple(BUILD_TYPES))
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
            index = index_cache.load(self.cache_path, key)
            if index is None:
                index = self._scan()
                index["key"] = key
                index_cache.save(self.cache_path, index)
            self._index = index
        return self._index

    def refresh(self):
        """Scan again and rewrite the cache, whatever its key says."""
        self._index = self._scan()
        self._index["key"] = self._key()
        index_cache.save(self.cache_path, self._index)

    def _key(self):
        if not os.path.isdir(os.path.join(self.root, MICRO)):
            raise UserError(f"{self.root} is not a TensorFlow Lite Micro tree (it has no "
                            f"{MICRO}/): run `scons deps` (MIRROR=<dir> offline).")
        return index_cache.key(self.root,
                               self.cmsis_nn_root if self._has_cmsis_nn() else None)

    def _has_cmsis_nn(self):
        return bool(self.cmsis_nn_root) and os.path.isdir(self.cmsis_nn_root)

    def _scan(self):
        self.scans += 1
        # Imported here: a build whose index is cached (a no-op) never loads the scanners.
        from . import cmsis_nn_scan, tflm_scan
        index = tflm_scan.scan_tflm(self.root)
        index["cmsis_nn"] = cmsis_nn_scan.scan_cmsis_nn(self.cmsis_nn_root, self.root) \
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
        check_choice("kernel set", kernels, KERNEL_SETS)
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
        # A file wholly inside #ifdef of a macro no build defines (TFLM's
        # decompress*.cc: USE_TFLM_COMPRESSION) is an empty object, 2 s to make.
        conditional = index["conditional_kernel_files"]
        return sorted(name for name in selected
                      if name not in conditional or conditional[name] in TFLM_DEFINES)

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



def _abs(path):
    return os.path.abspath(path) if path else None
