"""Generate the linker script from the memory map and the placement options.

The layout lives in linker/teensy40.ld.in; this module fills in the numbers
(from memory_map) and the choices (which input sections go to ITCM, where the
model and the arena live).
"""
from dataclasses import dataclass
from string import Template

from . import memory_map as mm
from .errors import UserError

# Archives whose code ITCM=kernels moves: the kernels, CMSIS-NN, and the
# compiler-runtime, libm and string helpers the kernels call in their loops.
KERNEL_ARCHIVES = ("libtflm_kernels.a", "libcmsis_nn.a", "libgcc.a", "libm.a")
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
class Placement:
    itcm: str = "kernels"        # none | kernels | all
    itcm_extra: tuple = ()       # object globs (*.o, *.a) or function-name globs
    model_mem: str = "flash"     # flash | dtcm | ocram
    arena_mem: str = "dtcm"      # dtcm | ocram

    @classmethod
    def from_options(cls, values):
        extra = tuple(p.strip() for p in values["ITCM_EXTRA"].split(",") if p.strip())
        return cls(values["ITCM"], extra, values["MODEL_MEM"], values["ARENA_MEM"])


def memory_block():
    lines = []
    for region in mm.REGIONS:
        attributes = "r" + ("w" if region.writable else "") + ("x" if region.executable else "")
        lines.append(f"    {region.name:<6}({attributes:<3}) : ORIGIN = 0x{region.origin:08X}, "
                     f"LENGTH = 0x{region.length:X}")
    return "\n".join(lines)


def _extra_inputs(patterns):
    lines = []
    for pattern in patterns:
        if any(c in pattern for c in " ();:\"'") or not pattern:
            raise UserError(f"ITCM_EXTRA entry {pattern!r} is not valid; give object "
                            f"globs such as conv.o or *kernels*.a, or function-name globs "
                            f"such as arm_nn_mat_mult* (comma-separated).")
        if pattern.endswith((".o", ".a", ".obj")):
            lines.append(f"*{pattern.lstrip('*')}({CODE_SECTIONS})" if "/" not in pattern
                         else f"{pattern}({CODE_SECTIONS})")
        else:
            # With -ffunction-sections each function has .text.<name>; C++
            # names are mangled, so a glob such as *ConvPerChannel* is usual.
            lines.append(f"*(.text.{pattern})")
    return lines


def setup_inputs(placement):
    """The input-section lines of .text.setup (in flash, before .itcm): what
    ITCM=kernels leaves out of ITCM although its archive goes there."""
    if placement.itcm != "kernels":
        return ""
    lines = [f"*{archive}:*({' '.join(f'.text.{f}' for f in KERNEL_SETUP_FUNCTIONS)})"
             for archive in ("libtflm_kernels.a", "libcmsis_nn.a")]
    return "\n".join(" " * 8 + line for line in lines)


def itcm_inputs(placement):
    """The input-section lines of the .itcm output section."""
    if placement.itcm == "none":
        lines = []
    elif placement.itcm == "kernels":
        lines = [f"*{archive}:*({CODE_SECTIONS})" for archive in KERNEL_ARCHIVES]
        lines += [f"*libc_nano.a:{member}({CODE_SECTIONS})" for member in KERNEL_LIBC_MEMBERS]
        lines += [f"*libc.a:{member}({CODE_SECTIONS})" for member in KERNEL_LIBC_MEMBERS]
        lines += [f"*(.text.{function})" for function in KERNEL_FUNCTIONS]
    elif placement.itcm == "all":
        lines = [f"*(EXCLUDE_FILE({' '.join(BOOT_OBJECTS)}) {CODE_SECTIONS})"]
    else:
        raise UserError(f"ITCM={placement.itcm} is not valid; choose one of: none, "
                        f"kernels, all.")
    lines += _extra_inputs(placement.itcm_extra)
    if lines:
        lines[:0] = [f"FILL(0x{UDF_FILL:08X})  /* udf #254: faults if executed */",
                     f". = . + {NULL_GUARD_BYTES};  /* null-call guard */"]
    return "\n".join(" " * 8 + line for line in lines)


def render(template_text, placement):
    """The linker script for `placement`, from the template's text."""
    for value, valid in ((placement.model_mem, PLACEMENT_REGIONS),
                         (placement.arena_mem, ("dtcm", "ocram"))):
        if value not in valid:
            raise UserError(f"{value} is not a valid place; choose one of: "
                            f"{', '.join(valid)}.")
    model_region = PLACEMENT_REGIONS[placement.model_mem]
    in_ram = model_region != "FLASH"
    values = {
        "MEMORY": memory_block(),
        "IVT_OFFSET": f"0x{mm.IVT_OFFSET:X}",
        "BOOT_DATA_OFFSET": f"0x{mm.BOOT_DATA_OFFSET:X}",
        "VECTOR_TABLE_OFFSET": f"0x{mm.VECTOR_TABLE_OFFSET:X}",
        "ITCM_CHOICE": placement.itcm + (" + ITCM_EXTRA" if placement.itcm_extra else ""),
        "ITCM_INPUTS": itcm_inputs(placement),
        "SETUP_INPUTS": setup_inputs(placement),
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

