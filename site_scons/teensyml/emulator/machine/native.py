"""The C hooks (hooks.c here, ../timing/timing.c), built with the host C compiler on
first use, into one library.

The library is cached per source text, compiler and platform in the user's
cache directory (platformdirs), written atomically so parallel runs share it.
`library()` returns None when there is no C compiler or the build fails: the
emulator then counts with its Python hooks (same counts, slower), and says
so in its statistics.
"""
import ctypes
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.dirname(HERE)
SOURCES = (os.path.join(HERE, "hooks.c"), os.path.join(EMULATOR, "timing", "timing.c"))
_loaded = {}


def _compiler():
    command = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    if command and shutil.which(command[0]):
        return command
    return ["cc"] if shutil.which("cc") else None


def _cache_directory():
    from ...user_cache import user_cache
    return user_cache("emulator")


def build():
    """The path of the compiled library, building it if needed; (None, why)
    when it cannot be built."""
    compiler = _compiler()
    if compiler is None:
        return None, "no host C compiler (cc) found"
    source = b""
    for path in SOURCES:
        with open(path, "rb") as stream:
            source += stream.read()
    key = hashlib.sha256(source + " ".join(compiler).encode() + platform.platform().encode()
                         + sys.version.encode()).hexdigest()[:16]
    directory = _cache_directory()
    target = os.path.join(directory, f"hooks-{key}.so")
    if os.path.exists(target):
        return target, None
    try:
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, suffix=".so.partial")
        os.close(handle)
    except OSError as error:
        return None, f"cannot write to {directory}: {error.strerror}"
    try:
        result = subprocess.run(compiler + ["-O2", "-shared", "-fPIC", "-o", temporary,
                                            *SOURCES],
                                capture_output=True, text=True)
        if result.returncode != 0:
            return None, f"{' '.join(compiler)} failed: {result.stderr.strip()[:200]}"
        os.replace(temporary, target)
    except OSError as error:
        return None, f"{' '.join(compiler)} could not run: {error.strerror}"
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target, None


def library():
    """(ctypes library or None, why not)."""
    if "library" not in _loaded:
        path, why = build()
        if path is not None:
            try:
                _loaded["library"] = (ctypes.CDLL(path), None)
            except OSError as error:
                _loaded["library"] = (None, f"cannot load {path}: {error}")
        else:
            _loaded["library"] = (None, why)
    return _loaded["library"]


class BlockTableStruct(ctypes.Structure):
    """struct block_table of hooks.c."""
    _fields_ = [("mask", ctypes.c_uint64), ("keys", ctypes.c_void_p),
                ("sizes", ctypes.c_void_p), ("counts", ctypes.c_void_p),
                ("used", ctypes.c_uint64), ("limit", ctypes.c_uint64),
                ("stop", ctypes.c_void_p), ("emu_stop", ctypes.c_void_p),
                ("stopped_at", ctypes.c_uint64)]


class AccessCounterStruct(ctypes.Structure):
    """struct access_counter of hooks.c."""
    _fields_ = [("count", ctypes.c_void_p), ("reg_read", ctypes.c_void_p),
                ("reg_write", ctypes.c_void_p), ("xpsr", ctypes.c_int32)]
