"""The build's speed settings from the options: the shared object cache and
the compiler wrapper (docs/build-speed.md says why each is as it is).

    cache_directory("auto", "/home/me/.cache/teensyml")  # .../objects
    cache_directory(None, ...)                            # None: CACHE=0, no cache
    wrapper = compiler_wrapper(ccache=True, words=())
    wrapper.words, wrapper.environment                    # ["/usr/bin/ccache"], {...}

Plain Python, tested without SCons; site_tools/build_speed.py applies it.
"""
import os
import shlex
import shutil
from dataclasses import dataclass, field

from .errors import UserError

CACHE_SUBDIRECTORY = "objects"
CCACHE_INSTALL = "sudo apt-get install ccache"
# Variables the wrappers read (where their cache is, which hosts compile):
# passed through to the compiler's environment, which is otherwise only PATH.
WRAPPER_VARIABLES = ("HOME", "CCACHE_", "DISTCC_", "ICECC_", "TMPDIR")
# ccache and precompiled headers: without this sloppiness ccache declines
# every object that uses the kernels' precompiled header (it still compiles
# it, uncached). The header's defines and time macros cannot differ here: the
# header is generated from a fixed list and compiled with the same flags.
CCACHE_SETTINGS = {"CCACHE_SLOPPINESS": "pch_defines,time_macros,include_file_mtime,"
                                        "include_file_ctime"}


@dataclass(frozen=True)
class CompilerWrapper:
    words: tuple = ()                  # prepended to every compile command
    environment: dict = field(default_factory=dict)


def cache_directory(value, cache_home):
    """Where CacheDir keeps objects, from CACHE= as resolved (None: no cache;
    "auto": under `cache_home`; else the directory)."""
    return os.path.join(cache_home, CACHE_SUBDIRECTORY) if value == "auto" else value


def compiler_wrapper(ccache, words, environ=None, which=shutil.which):
    """The CompilerWrapper for CCACHE= and CC_WRAPPER= as resolved (a bool, a
    tuple of words); at most one of them: ccache hands its misses to distcc or
    icecc through CCACHE_PREFIX."""
    environ = os.environ if environ is None else environ
    command, words = shlex.join(words), list(words)
    if ccache and words:
        raise UserError(f"CCACHE=1 and CC_WRAPPER={command} both wrap the compiler; "
                        f"choose one. To cache and distribute, use CCACHE=1 with "
                        f"CCACHE_PREFIX={words[0]} in the environment.")
    if ccache:
        found = which("ccache")
        if not found:
            raise UserError(f"CCACHE=1 needs ccache, which is not installed or not on "
                            f"PATH. Install it with `{CCACHE_INSTALL}`, or drop CCACHE=1.")
        words = [found]
    elif words:
        found = which(words[0])
        if not found:
            raise UserError(f"CC_WRAPPER={command}: {words[0]} is not installed or not on "
                            f"PATH. Install it (for example `sudo apt-get install "
                            f"{os.path.basename(words[0])}`), or drop CC_WRAPPER=.")
        words[0] = found
    if not words:
        return CompilerWrapper()
    passed = {key: value for key, value in environ.items()
              if key in WRAPPER_VARIABLES or key.startswith(WRAPPER_VARIABLES)}
    if ccache:
        passed = {**CCACHE_SETTINGS, **passed}
    return CompilerWrapper(tuple(words), passed)


def changed(dependency, target, prev_ni, repo_node=None):
    """The build's Decider: has `dependency` changed since `target` was built?

    Sources (no builder): only when their timestamp changed is their content
    compared (SCons' content-timestamp), so a no-op build reads no source.
    Built files (objects, archives, generated text): by content always. Their
    timestamps are whole seconds to SCons, and two builds of an object in one
    second, or two versions copied from the object cache (which keeps each
    copy's time), can share one: the timestamp alone would keep a stale link.
    """
    if dependency.has_builder():
        return dependency.changed_content(target, prev_ni, repo_node)
    return dependency.changed_timestamp_then_content(target, prev_ni, repo_node)
