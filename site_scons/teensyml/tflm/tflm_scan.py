"""Facts about a TFLM tree, scanned once (the index keeps them): the core
sources as sources.inc lists them, the kernel files, which kernel headers each
file includes, which files are wholly inside an #ifdef, and which file
registers each operator."""
import os
import re

from ..errors import UserError
from .c_scan import IncludeGraph, listdir, read, strip_comments, wholly_conditional
from .layout import (CORE_DIRS, KERNEL_DIR, KERNEL_SETS, RESOLVER, TESTING_SUPPORT,
                     TFL_EXCLUDED, TFL_PRUNED, TFL_ROOT, is_test)

_REGISTER_DEF = re.compile(r"\b(Register_\w+)\s*\(\s*\)\s*\{")
_METHOD = re.compile(r"\bTfLiteStatus\s+(Add\w+)\s*\(")
_BUILTIN = re.compile(r"\bAddBuiltin\s*\(\s*BuiltinOperator_(\w+)")
_CUSTOM = re.compile(r'\bAddCustom\s*\(\s*"([^"]+)"')
_REGISTER_USE = re.compile(r"\b((?:\w+::)*)(Register_\w+)\s*\(")


def scan_tflm(root):
    """Facts about a TFLM tree, as a JSON-able dict (see TflmTree.index)."""
    core = sorted(_core_sources(root))
    kernel_files = sorted(
        name for name in listdir(os.path.join(root, KERNEL_DIR))
        if name.endswith(".cc") and not is_test(name)
        and f"{KERNEL_DIR}/{name}" not in TESTING_SUPPORT)
    optimized = {}
    for kernels in KERNEL_SETS[1:]:
        optimized[kernels] = sorted(
            name for name in listdir(os.path.join(root, KERNEL_DIR, kernels))
            if name.endswith(".cc") and not is_test(name))

    includes = IncludeGraph(root)
    kernel_headers = {}
    for name in kernel_files + [f"{k}/{n}" for k, names in optimized.items() for n in names]:
        stems = includes.kernel_header_stems(f"{KERNEL_DIR}/{name}")
        if stems:
            kernel_headers[name] = stems
    core_stems = sorted({stem for path in core for stem in includes.kernel_header_stems(path)})

    conditional = {}
    for name in kernel_files + [f"{k}/{n}" for k, names in optimized.items() for n in names]:
        macro = wholly_conditional(read(os.path.join(root, KERNEL_DIR, name)))
        if macro:
            conditional[name] = macro

    definitions = {}
    for name in kernel_files:
        for register in _REGISTER_DEF.findall(read(os.path.join(root, KERNEL_DIR, name))):
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
            "conditional_kernel_files": conditional, "ops": ops, "ops_elsewhere": outside}


def _core_sources(root):
    found = []
    for directory in CORE_DIRS:
        found += [f"{directory}/{name}" for name in listdir(os.path.join(root, directory))
                  if name.endswith(".cc")]
    pruned = {os.path.join(root, path) for path in TFL_PRUNED}
    for current, dirs, files in os.walk(os.path.join(root, TFL_ROOT)):
        dirs[:] = sorted(d for d in dirs if os.path.join(current, d) not in pruned)
        relative = os.path.relpath(current, root).replace(os.sep, "/")
        found += [f"{relative}/{name}" for name in files if name.endswith((".cc", ".c"))]
    return [path for path in found
            if not is_test(os.path.basename(path))
            and path not in TFL_EXCLUDED and path not in TESTING_SUPPORT]


def _resolver_entries(path):
    """(op name, AddXxx method, Register_* function) for every AddXxx method of
    micro_mutable_op_resolver.h that registers a builtin or a named custom op."""
    text = strip_comments(read(path, required=True), keep_strings=True)
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
    graph = IncludeGraph(root)
    for leaf in leaves:
        graph.memo[leaf] = []
    return sorted({stem for path in paths for stem in graph.kernel_header_stems(path)})

