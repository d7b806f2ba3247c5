"""SCons tool: what keeps the build quick (docs/build-speed.md).

    env.Tool("build_speed")        # after arm_none_eabi; reads env["TEENSY_OPTIONS"]
    env.Append(THIRD_PARTY_CPPPATH=[...], THIRD_PARTY_STAMPS=[...])
    kernel_env = env.WithPrecompiledHeader("tflm_kernels_pch.h", ["a.h", "b.h"])

- The shared object cache (CacheDir; CACHE= moves or disables it), whose
  entries are verified when retrieved (VerifiedCacheDir).
- The compiler wrapper (CCACHE=1, CC_WRAPPER=distcc) inside $( $), so
  turning it on or off changes no command signature: SCons rebuilds nothing.
- Third-party include directories (THIRD_PARTY_CPPPATH) reach the compiler
  but not SCons' header scanner: their headers change only with `scons deps`,
  so the dependencies' stamps stand for them, and a no-op build does not
  re-check thousands of headers.
- Precompiled headers: most of a TFLM kernel's compile time is parsing
  flatbuffers' schema_generated.h; compiled once when a build compiles the
  kernels, it is mapped in by every kernel, and deleted when the build ends
  (teensyml.pch: the .gch is about 330 MB).
"""
import atexit
import os

import SCons.CacheDir
import SCons.Tool.cxx
import SCons.Util
from SCons.Builder import ListEmitter
from SCons.Errors import SConsEnvironmentError
from SCons.Script import Action, GetOption
from SCons.Subst import SUBST_CMD

from teensyml import build_speed, pch
from teensyml.errors import UserError
from teensyml.options import scons_escape
from teensyml.user_cache import user_cache

COMPILE_COMMANDS = ("CCCOM", "CXXCOM", "ASPPCOM")
# Every object of an environment with third-party includes depends on this.
THIRD_PARTY_INCFLAGS = "${_concat(INCPREFIX, THIRD_PARTY_CPPPATH, INCSUFFIX, __env__, RDirs, " \
                       "TARGET, SOURCE)}"
# GCC's command for the .gch (teensyml.pch adds -o: a temporary name).
PCH_COMMAND = "$CXX -x c++-header -c $CXXFLAGS $CCFLAGS $_CCCOMCOM $SOURCE"
PCH_TOOL = ["$TEENSY_PYTHON", "-m", "teensyml.pch"]
# The stamp's action builds the .gch. Its signature is the GCC command's, as
# the .gch's was: the wrapper's words are outside it.
PCH_STAMP_COMMAND = " ".join(["$(", *PCH_TOOL, "build", "$SOURCE", "$TARGET",
                              "${SOURCES[1:]}", "$_PCH_VERBOSE", "--", "$)", PCH_COMMAND])
# The .gch files this build may leave: deleted when it ends.
_TRANSIENT_HEADERS = []


def _object_dependencies(target, source, env):
    """Emitter of every object builder: the stamps of the third-party
    sources it includes, and the precompiled header it uses."""
    if env.get("THIRD_PARTY_CPPPATH"):
        env.Depends(target, env["THIRD_PARTY_STAMPS"])
    if env.get("PCH_NODES"):
        header, stamp = env["PCH_NODES"]
        env.Depends(target, header)     # what -include reads, by content
        if "ninja" in GetOption("experimental"):
            env.Depends(target, stamp)  # the ninja generator drops order-only inputs
        else:
            # Built first, but not a signature input: the .gch is a cache of
            # the header's parse; a cached object must not hinge on it.
            env.Requires(target, stamp)
    return target, source


def _prepare_pch(target, source, env, for_signature):
    """The command run before each compile that includes the header
    (teensyml.pch prepare); no part of any signature."""
    if for_signature:
        return ""
    header, stamp = env["PCH_NODES"]
    gch = header.dir.File(header.name + ".gch")
    command = env.Override({"PCHFLAGS": []}).subst_list(
        PCH_COMMAND, SUBST_CMD, target=[gch], source=[header])[0]
    words = [*PCH_TOOL[1:], "prepare", header.path, target[0].path,
             *[node.path for node in stamp.sources[1:]],
             *(["--verbose"] if env.get("VERBOSE") else []), "--", *map(str, command)]
    # Substituted once more when run: $ in a path must stay itself.
    return [[env["TEENSY_PYTHON"], *(scons_escape(word) for word in words)]]


def _remove_transient_pch():
    for header in _TRANSIENT_HEADERS:
        pch.remove(header)


def with_precompiled_header(env, target, includes):
    """A clone of `env` whose C++ objects start with `includes` (header
    paths as #include spells them), precompiled into target.gch while a
    build compiles them (teensyml.pch)."""
    header = env.GeneratedText(target, "".join(f'#include "{path}"\n' for path in includes))
    # GCC looks for the .gch beside the header that -include names. SCons
    # tracks the stamp, whose action builds the .gch: a build that compiles
    # the kernels after their flags, header or third-party sources changed
    # builds it first, in parallel with other work, as a target.
    quiet = {} if env.get("VERBOSE") else {"cmdstr": None}     # teensyml.pch says "PCH"
    stamp = env.Command(header[0].dir.File(header[0].name + ".stamp"),
                        header + env.get("THIRD_PARTY_STAMPS", []),
                        Action(PCH_STAMP_COMMAND, **quiet), PCHFLAGS=[],
                        _PCH_VERBOSE="--verbose" if env.get("VERBOSE") else "")
    if not _TRANSIENT_HEADERS:
        # Before SCons' own exit functions (atexit runs the last registered
        # first), which may end the process with the signal's status.
        atexit.register(_remove_transient_pch)
    if header[0].abspath not in _TRANSIENT_HEADERS:
        _TRANSIENT_HEADERS.append(header[0].abspath)
    clone = env.Clone(PCH_NODES=(header[0], stamp[0]))
    # -Winvalid-pch: say so if the .gch stops matching the flags (the build
    # would still be right, only slower).
    # (A path from the top directory, where the compiler runs: an absolute one
    # would tie every kernel's signature, and so the object cache, to the checkout.)
    clone.Append(PCHFLAGS=["-include", header[0].path, "-Winvalid-pch"])
    # Each compile is preceded by `prepare`: it uses a valid .gch, removes a
    # stale one, builds one when this build has compiled enough kernels
    # without (the stamp was up to date), else lets the compiler read the
    # header. (Under ninja the objects compile with $CXXCOM: see generate.)
    clone["TEENSY_CXXCOM"] = [Action(_prepare_pch, generator=True, **quiet), "$CXXCOM"]
    return clone


class VerifiedCacheDir(SCons.CacheDir.CacheDir):
    """The object cache, trusting no entry it cannot verify: each entry is
    pushed with its content signature beside it (<entry>.csig, SCons' file
    hash of what was pushed); an entry whose bytes no longer match
    (truncated, damaged on disk), or that has no signature, is deleted when
    retrieved, and the target is built instead (and pushed again)."""

    SUFFIX = ".csig"

    def push(self, node):
        result = super().push(node)
        _, entry = self.cachepath(node)
        if entry and os.path.isfile(entry) and not os.path.exists(entry + self.SUFFIX):
            try:
                with open(entry + self.SUFFIX + ".partial", "w") as stream:
                    stream.write(SCons.Util.hash_file_signature(entry))
                os.replace(entry + self.SUFFIX + ".partial", entry + self.SUFFIX)
            except OSError:
                pass                    # unverifiable: retrieval will discard it
        return result

    def retrieve(self, node):
        _, entry = self.cachepath(node)
        if entry and os.path.isfile(entry) and not self._intact(entry):
            self.CacheDebug("CacheRetrieve(%s): %s is damaged: discarded\n", node, entry)
            for path in (entry, entry + self.SUFFIX):
                try:
                    os.unlink(path)
                except OSError:
                    pass
        return super().retrieve(node)

    def _intact(self, entry):
        try:
            with open(entry + self.SUFFIX) as stream:
                expected = stream.read().strip()
        except OSError:
            return False
        return SCons.Util.hash_file_signature(entry) == expected


def _use_cache_directory(env, path):
    """CacheDir(path), creating its parents first (SCons creates only the
    last level, atomically) and turning a failure into one clear message."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        env.CacheDir(scons_escape(path), VerifiedCacheDir)
    except (OSError, SConsEnvironmentError) as error:
        reason = getattr(error, "__cause__", None) or error
        raise UserError(f"Cannot create the object cache {path}: {reason}. Give a writable "
                        f"directory with CACHE=<dir>, or build without a cache with "
                        f"CACHE=0.") from None


def generate(env):
    values = env["TEENSY_OPTIONS"]
    cache = build_speed.cache_directory(values["CACHE"], user_cache())
    if cache:
        _use_cache_directory(env, cache)
    wrapper = build_speed.compiler_wrapper(values["CCACHE"], values["CC_WRAPPER"])
    env["COMPILER_WRAPPER"] = [scons_escape(word) for word in wrapper.words]
    env["ENV"].update(wrapper.environment)
    for command in COMPILE_COMMANDS:
        env[command] = "$( $COMPILER_WRAPPER $) " + env[command]
    env.SetDefault(THIRD_PARTY_CPPPATH=[], THIRD_PARTY_STAMPS=[], PCHFLAGS=[])
    env["_CPPINCFLAGS"] = env["_CPPINCFLAGS"] + " " + THIRD_PARTY_INCFLAGS
    env.Append(CXXFLAGS=["$PCHFLAGS"])
    if not values["NINJA"]:
        # C++ objects compile through $TEENSY_CXXCOM: $CXXCOM, or with a
        # precompiled header, a step before it (a list: CXXCOM itself stays
        # one command line, for compile_commands.json). The signature is
        # $CXXCOM's either way. Under ninja the compile commands stay plain
        # (its generator knows $CXXCOM's rule, with the depfile): a .gch
        # the stamp's edge built is used, else the compiler reads the header.
        env["TEENSY_CXXCOM"] = "$CXXCOM"
        objects = env["BUILDERS"]["StaticObject"]
        for suffix in SCons.Tool.cxx.CXXSuffixes:
            if suffix in objects.cmdgen:
                objects.add_action(suffix, Action("$TEENSY_CXXCOM", "$CXXCOMSTR"))
    for builder in ("StaticObject", "SharedObject"):
        emitters = env["BUILDERS"][builder].emitter
        for suffix, emitter in list(emitters.items()):
            emitters[suffix] = ListEmitter([emitter, _object_dependencies])
    env.AddMethod(with_precompiled_header, "WithPrecompiledHeader")


def exists(env):
    return True
