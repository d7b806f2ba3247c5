"""Which CMSIS-NN .c files each TFLM cmsis_nn kernel and each CMSIS-NN file
needs: the files that define a function or table it names, closed over
CMSIS-NN's inline functions and macros."""
import os

from ..errors import UserError
from .c_scan import (IDENT, drop_preprocessor, listdir, macros, read, strip_comments,
                     top_level_definitions)
from .layout import KERNEL_DIR, KERNEL_SETS, is_test

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
        text = strip_comments(read(os.path.join(cmsis_root, path)))
        code = drop_preprocessor(text)
        for name, is_static, _ in top_level_definitions(code):
            if not is_static:
                defined_in.setdefault(name, set()).add(path)
        idents[path] = set(IDENT.findall(text))
    header_units = {}        # inline function or macro of Include/ -> identifiers
    for current, _, files in os.walk(os.path.join(cmsis_root, "Include")):
        for name in files:
            if name.endswith(".h"):
                text = strip_comments(read(os.path.join(current, name)))
                for macro, body in macros(text):
                    header_units.setdefault(macro, set()).update(IDENT.findall(body))
                for function, _, body in top_level_definitions(drop_preprocessor(text)):
                    header_units.setdefault(function, set()).update(IDENT.findall(body))

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
        for name in listdir(os.path.join(kernel_dir, kernels)):
            if name.endswith(".cc") and not is_test(name):
                text = strip_comments(read(os.path.join(kernel_dir, kernels, name)))
                deps[f"{kernels}/{name}"] = needs(set(IDENT.findall(text)))
    return {"sources": sources, "deps": {k: v for k, v in deps.items() if v}}

