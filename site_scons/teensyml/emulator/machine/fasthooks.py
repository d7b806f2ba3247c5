"""Unicorn hooks with the least Python in between.

`Uc.hook_add` wraps every callback in two Python frames and an exception
guard: about 1.2 us per call, which is most of the cost of counting every
block of an inference. Registering a ctypes function directly with the C
library costs about 0.3 us. The callback then must never raise (ctypes would
print the exception and carry on), so callers keep these bodies trivial.

Falls back to `hook_add` when the binding's internals are not the expected
ones (another unicorn version).
"""
import ctypes

import unicorn

try:
    from unicorn.unicorn_py3.unicorn import (HOOK_CODE_CFUNC, HOOK_MEM_ACCESS_CFUNC,
                                             uc_hook_h, uclib)
except ImportError:      # pragma: no cover - other binding layouts
    uclib = None


def block_hook(uc, callback, begin=1, end=0):
    """Call `callback(address, size)` at the start of every translated block
    in [begin, end] (all blocks when begin > end). Returns the hook handle."""
    if uclib is None:
        return uc.hook_add(unicorn.UC_HOOK_BLOCK,
                           lambda _uc, address, size, _data: callback(address, size),
                           begin=begin, end=end)
    return _add(uc, unicorn.UC_HOOK_BLOCK,
                HOOK_CODE_CFUNC(lambda _handle, address, size, _data: callback(address, size)),
                begin, end)


def raw_block_hook(uc, callback, begin=1, end=0):
    """As block_hook, for a callback taking (handle, address, size, data):
    one Python frame fewer, for the per-block counter."""
    if uclib is None:
        return uc.hook_add(unicorn.UC_HOOK_BLOCK,
                           lambda _uc, address, size, data: callback(None, address, size, data),
                           begin=begin, end=end)
    return _add(uc, unicorn.UC_HOOK_BLOCK, HOOK_CODE_CFUNC(callback), begin, end)


def raw_access_hook(uc, callback, begin, end):
    """Call `callback(handle, access, address, size, value, data)` on every
    data read and write in [begin, end]."""
    kinds = unicorn.UC_HOOK_MEM_READ | unicorn.UC_HOOK_MEM_WRITE
    if uclib is None:
        return uc.hook_add(kinds, lambda _uc, access, address, size, value, data:
                           callback(None, access, address, size, value, data),
                           begin=begin, end=end)
    return _add(uc, kinds, HOOK_MEM_ACCESS_CFUNC(callback), begin, end)


def native_hook(uc, kind, function, user_data, begin=1, end=0):
    """Register a C function (a ctypes function of a loaded library) with a
    raw user-data pointer. Needs the binding's internals (see `available`)."""
    return _add(uc, kind, function, begin, end, user_data)


def available():
    return uclib is not None


def emu_stop_address():
    """The address of the C library's uc_emu_stop, for C hooks."""
    return ctypes.cast(uclib.uc_emu_stop, ctypes.c_void_p).value


def register_function_addresses():
    """(uc_reg_read, uc_reg_write) addresses, for C hooks."""
    return tuple(ctypes.cast(function, ctypes.c_void_p).value
                 for function in (uclib.uc_reg_read, uclib.uc_reg_write))


def _add(uc, kind, function, begin, end, user_data=None):
    handle = uc_hook_h()
    status = uclib.uc_hook_add(uc._uch, ctypes.byref(handle), kind,
                               ctypes.cast(function, ctypes.c_void_p),
                               ctypes.c_void_p(user_data),
                               ctypes.c_uint64(begin), ctypes.c_uint64(end))
    if status != unicorn.UC_ERR_OK:
        raise unicorn.UcError(status)
    # hook_del() drops this reference; until then it keeps the thunk alive.
    uc._callbacks[handle.value] = function
    return handle.value
