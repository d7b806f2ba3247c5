"""Generate the linker script from the memory map and the placement options.

The layout lives in linker/teensy40.ld.in; this module fills in the numbers
(from memory_map) and the choices (which input sections go to ITCM, where the
model and the arena live).
"""
import difflib
import fnmatch
import json
import re
from dataclasses import dataclass
from string import Template

from . import component_table
from . import memory_map as mm
from .errors import UserError
from .option_values import CommandSettings

# Archives whose code ITCM=kernels moves: the component table's kernel code
# (the kernels and CMSIS-NN, their set-up code excepted: KERNEL_SETUP_FUNCTIONS),
# then the toolchain's compiler-runtime, libm and string helpers the kernels
# call in their loops.
KERNEL_HELPER_ARCHIVES = ("libgcc.a", "libm.a")
KERNEL_LIBC_MEMBERS = ("lib_a-memcpy*.o", "lib_a-memset*.o", "lib_a-memmove*.o",
                       "lib_a-aeabi_mem*.o")
# Functions of TFLM's core that the kernels call once per output element:
# requantisation and gemmlowp's fixed-point arithmetic, and reference kernel
# templates wherever the linker kept their instance (mangled names).
KERNEL_FUNCTIONS = ("_ZN8gemmlowp*", "_ZN6tflite29MultiplyByQuantizedMultiplier*",
                    "_ZN6tflite*reference_ops*", "_ZN6tflite*reference_integer_ops*")
# Functions of the kernel archives that run once, when the interpreter is
# set up (registration, Init, Prepare and what they call to size buffers and
# compute parameters), not per inference: ITCM=kernels leaves them in flash
# (section-name globs; C++ names are mangled, hence the * around).
KERNEL_SETUP_FUNCTIONS = ("*Register_*", "*Init*", "*Prepare*", "*CalculateOpData*",
                          "*CalculateSoftmaxParams*", "*get_buffer_size*", "*Free*")
# Objects that must stay in flash whatever ITCM says: they run before ITCM
# is set up (the reset handler) or are read by the boot ROM.
BOOT_OBJECTS = ("*startup.o", "*flexspi_config.o", "*boot_header.o")
CODE_SECTIONS = ".text .text.*"
# ITCM starts at 0: its first bytes hold UDF instructions (and so does any
# fill between functions) so a call through a null function pointer faults
# (UsageFault, UNDEFINSTR) instead of sliding into real code.
NULL_GUARD_BYTES = 32
UDF_FILL = 0xDEFEDEFE

STACK_SIZE = 16 * mm.KB

PLACEMENT_REGIONS = {"flash": "FLASH", "dtcm": "DTCM", "ocram": "OCRAM"}


@dataclass(frozen=True)
class Placement(CommandSettings):
    """The placement options' resolved values (ITCM=, ITCM_EXTRA=, MODEL_MEM=,
    ARENA_MEM=): the option table holds their choices and defaults and checks
    them; Placement.from_options(values), or Placement.defaults(itcm="all")."""
    itcm: str
    itcm_extra: tuple            # object globs (*.o, *.a) or function-name globs
    model_mem: str
    arena_mem: str


def memory_block():
    lines = []
    for region in mm.REGIONS:
        attributes = "r" + ("w" if region.writable else "") + ("x" if region.executable else "")
        lines.append(f"    {region.name:<6}({attributes:<3}) : ORIGIN = 0x{region.origin:08X}, "
                     f"LENGTH = 0x{region.length:X}")
    return "\n".join(lines)


# What an ITCM_EXTRA entry may hold: a file or section name glob the linker
# script takes as written (ld's wildcards * ? [...] [!...]).
EXTRA_PATTERN = re.compile(r"[A-Za-z0-9_.+~/*?\[\]!-]+")
EXTRA_HELP = ("give object globs such as conv.o or *kernels*.a, or function-name globs "
              "such as arm_nn_mat_mult* (C++ names mangled, e.g. *ConvPerChannel*), "
              "comma-separated, made of letters, digits, _ . + ~ / - and the wildcards "
              "* ? [ ] !")
OBJECT_SUFFIXES = (".o", ".a", ".obj")
# The generated script records the entries for the link guard, which checks
# after the link that each one matched some code.
EXTRA_RECORD = re.compile(r"^\s*/\* ITCM_EXTRA (\[.*\]) \*/$", re.M)


def itcm_extra_patterns(text):
    """The entries of an ITCM_EXTRA= value, or a UserError for one the linker
    script cannot express."""
    patterns = tuple(part.strip() for part in text.split(",") if part.strip())
    bad = [pattern for pattern in patterns if not EXTRA_PATTERN.fullmatch(pattern)]
    if bad:
        raise UserError(f"ITCM_EXTRA={text} is not valid: {', '.join(map(repr, bad))} "
                        f"cannot be written in the linker script; {EXTRA_HELP}.")
    return patterns


def _is_object_pattern(pattern):
    return pattern.endswith(OBJECT_SUFFIXES)


def _object_glob(pattern):
    """The file-name glob the linker script uses for an object entry."""
    return pattern if "/" in pattern else f"*{pattern.lstrip('*')}"


def _extra_inputs(patterns):
    lines = []
    for pattern in patterns:
        if _is_object_pattern(pattern):
            lines.append(f"{_object_glob(pattern)}({CODE_SECTIONS})")
        else:
            # With -ffunction-sections each function has .text.<name>; C++
            # names are mangled, so a glob such as *ConvPerChannel* is usual.
            lines.append(f"*(.text.{pattern})")
    if patterns:
        record = json.dumps(list(patterns)).replace("/", "\\/")   # no */ in the comment
        lines.insert(0, f"/* ITCM_EXTRA {record} */")
    return lines


def recorded_itcm_extra(script_text):
    """The ITCM_EXTRA entries a generated linker script was made with."""
    match = EXTRA_RECORD.search(script_text)
    return tuple(json.loads(match.group(1))) if match else ()


def _code_matches(pattern, name, origin):
    """Does ITCM_EXTRA entry `pattern` select the code input section `name`
    from `origin` (an object path, or archive.a(member.o)), as ld matches it?"""
    if not _is_object_pattern(pattern):
        return fnmatch.fnmatchcase(name, f".text.{pattern}")
    glob = _object_glob(pattern)
    archive = re.match(r"^(.*)\((.*)\)$", origin)
    files = archive.groups() if archive else (origin,)
    return any(fnmatch.fnmatchcase(file, glob) for file in files)


def check_itcm_extra(patterns, code, map_path="the map file"):
    """A UserError for the ITCM_EXTRA entries that select none of `code`,
    the (section name, origin, size) of every code input section the link
    kept; it lists the objects or functions the entry may have meant."""
    unmatched = [p for p in patterns if not any(_code_matches(p, name, origin)
                                                for name, origin, _ in code)]
    if not unmatched:
        return
    objects, functions = {}, {}
    for name, origin, size in code:
        member = re.sub(r"^.*\((.*)\)$", r"\1", origin).rsplit("/", 1)[-1]
        objects[member] = objects.get(member, 0) + size
        if name.startswith(".text."):
            functions[name[len(".text."):]] = size
    explained = []
    for pattern in unmatched:
        kind, names = ("object", objects) if _is_object_pattern(pattern) else \
            ("function", functions)
        explained.append(f"{pattern} matches no {kind} of this firmware ({kind}s there "
                         f"include {', '.join(_candidates(pattern, names))})")
    raise UserError(f"ITCM_EXTRA={','.join(patterns)} asks for code this firmware does "
                    f"not have, which would move nothing into ITCM: "
                    f"{'; '.join(explained)}. An entry ending in .o or .a matches object "
                    f"or archive file names (conv.o, *kernels*.a); any other matches whole "
                    f"function names, mangled for C++ (*Conv* matches part of one). Every "
                    f"name is in {map_path}.")


def _candidates(pattern, sizes, count=8):
    """The names of `sizes` (name -> bytes) closest to `pattern`: those that
    contain its text, else similar ones, else the largest."""
    core = re.sub(r"[*?\[\]!]", "", pattern).lower()
    for suffix in OBJECT_SUFFIXES:
        core = core[:-len(suffix)] if core.endswith(suffix) else core
    by_size = sorted(sizes, key=lambda name: (-sizes[name], name))
    found = [name for name in by_size if core and core in name.lower()]
    lowered = {name.lower(): name for name in by_size}
    found += [lowered[name] for name in difflib.get_close_matches(core, lowered, count, 0.6)
              if lowered[name] not in found]
    return (found or by_size)[:count]


def setup_inputs(placement, libraries=component_table.LIBRARIES):
    """The input-section lines of .text.setup (in flash, before .itcm): what
    ITCM=kernels leaves out of ITCM although its archive goes there."""
    if placement.itcm != "kernels":
        return ""
    lines = [f"*{archive}:*({' '.join(f'.text.{f}' for f in KERNEL_SETUP_FUNCTIONS)})"
             for archive in component_table.archives(component_table.KERNEL_CODE, libraries)]
    return "\n".join(" " * 8 + line for line in lines)


def itcm_inputs(placement, libraries=component_table.LIBRARIES):
    """The input-section lines of the .itcm output section."""
    if placement.itcm == "none":
        lines = []
    elif placement.itcm == "kernels":
        archives = component_table.archives(component_table.KERNEL_CODE, libraries)
        lines = [f"*{archive}:*({CODE_SECTIONS})"
                 for archive in archives + KERNEL_HELPER_ARCHIVES]
        lines += [f"*libc_nano.a:{member}({CODE_SECTIONS})" for member in KERNEL_LIBC_MEMBERS]
        lines += [f"*libc.a:{member}({CODE_SECTIONS})" for member in KERNEL_LIBC_MEMBERS]
        lines += [f"*(.text.{function})" for function in KERNEL_FUNCTIONS]
    else:   # all
        lines = [f"*(EXCLUDE_FILE({' '.join(BOOT_OBJECTS)}) {CODE_SECTIONS})"]
    lines += _extra_inputs(placement.itcm_extra)
    if lines:
        lines[:0] = [f"FILL(0x{UDF_FILL:08X})  /* udf #254: faults if executed */",
                     f". = . + {NULL_GUARD_BYTES};  /* null-call guard */"]
    return "\n".join(" " * 8 + line for line in lines)


def render(template_text, placement, libraries=component_table.LIBRARIES):
    """The linker script for `placement` (resolved values), from the template's
    text (`libraries`: the component table, which says what ITCM=kernels moves)."""
    model_region = PLACEMENT_REGIONS[placement.model_mem]
    in_ram = model_region != "FLASH"
    values = {
        "MEMORY": memory_block(),
        "IVT_OFFSET": f"0x{mm.IVT_OFFSET:X}",
        "BOOT_DATA_OFFSET": f"0x{mm.BOOT_DATA_OFFSET:X}",
        "VECTOR_TABLE_OFFSET": f"0x{mm.VECTOR_TABLE_OFFSET:X}",
        "ITCM_CHOICE": placement.itcm + (" + ITCM_EXTRA" if placement.itcm_extra else ""),
        "ITCM_INPUTS": itcm_inputs(placement, libraries),
        "SETUP_INPUTS": setup_inputs(placement, libraries),
        "MODEL_MEM": placement.model_mem,
        "MODEL_REGION": model_region,
        "MODEL_LOAD": " AT> FLASH" if in_ram else "",
        "MODEL_COPY": (" " * 8 + "LONG(LOADADDR(.model_data)) LONG(ADDR(.model_data)) "
                       "LONG(SIZEOF(.model_data))") if in_ram else "",
        "ARENA_MEM": placement.arena_mem,
        "ARENA_REGION": PLACEMENT_REGIONS[placement.arena_mem],
        "BANK_SIZE": f"0x{mm.FLEXRAM_BANK_SIZE:X}",
        "BANK_COUNT": str(mm.FLEXRAM_BANKS),
        "STACK_SIZE": f"0x{STACK_SIZE:X}",
    }
    return Template(template_text).substitute(values)

