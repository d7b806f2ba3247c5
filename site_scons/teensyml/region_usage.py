"""How full each memory region of a linked image is, and whether it fits.

Sections are assigned to regions of the memory map by address (run address for
RAM, load address for what the flash image holds). FlexRAM is checked as the
chip has it: ITCM takes whole 32 KB banks, DTCM gets the banks left, and the
stack must fit in DTCM after the variables.
"""
from dataclasses import dataclass, field

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from . import hexfile
from . import memory_map as mm
from .errors import UserError

STACK_SYMBOL_SIZE = "__stack_size__"


@dataclass
class Usage:
    sections: dict = field(default_factory=dict)   # region -> [(section, bytes)]
    flash_image: int = 0        # bytes the flash image holds (loads included)
    itcm: int = 0
    dtcm: int = 0               # variables, arena, model when there
    ocram: int = 0
    stack_reserved: int = 0

    @property
    def itcm_banks(self):
        return mm.bank_count(self.itcm)

    @property
    def dtcm_capacity(self):
        return (mm.FLEXRAM_BANKS - self.itcm_banks) * mm.FLEXRAM_BANK_SIZE

    @property
    def stack_room(self):
        """DTCM bytes left for the stack above the variables."""
        return self.dtcm_capacity - self.dtcm


def measure(elf_path):
    with open(elf_path, "rb") as stream:
        elf = ELFFile(stream)
        usage = Usage()
        segments = list(elf.iter_segments())
        for section in elf.iter_sections():
            flags, size = section["sh_flags"], section["sh_size"]
            if not flags & SH_FLAGS.SHF_ALLOC or size == 0:
                continue
            region = mm.region_of(section["sh_addr"])
            name = region.name if region else "?"
            usage.sections.setdefault(name, []).append((section.name, size))
            if name == "ITCM":
                usage.itcm += size
            elif name == "DTCM":
                usage.dtcm += size
            elif name == "OCRAM":
                usage.ocram += size
            if section["sh_type"] != "SHT_NOBITS":
                lma = hexfile.load_address(section, segments)
                if mm.FLASH.contains(lma):
                    usage.flash_image = max(usage.flash_image, lma + size - mm.FLASH.origin)
        symbols = elf.get_section_by_name(".symtab")
        stack = symbols.get_symbol_by_name(STACK_SYMBOL_SIZE) if symbols else None
        usage.stack_reserved = stack[0]["st_value"] if stack else 0
    return usage


def summary_line(name, usage):
    """One line after every link, in the teensy_size vocabulary."""
    flash_pct = 100.0 * usage.flash_image / mm.FLASH.length
    return (f"{name}: FLASH {usage.flash_image:,} B ({flash_pct:.1f}%)"
            f" | RAM1 ITCM {usage.itcm:,} B in {usage.itcm_banks} bank(s),"
            f" DTCM {usage.dtcm:,} B of {usage.dtcm_capacity // mm.KB} KB,"
            f" stack room {usage.stack_room:,} B"
            f" | RAM2 {usage.ocram:,} B of {mm.OCRAM.length // mm.KB} KB")


def largest_symbols(elf_path, region, count=5):
    """(name, bytes) of the largest symbols placed in a region."""
    with open(elf_path, "rb") as stream:
        elf = ELFFile(stream)
        symbols = elf.get_section_by_name(".symtab")
        found = {}
        for symbol in symbols.iter_symbols() if symbols else ():
            size, address = symbol["st_size"], symbol["st_value"] & ~1
            if size and symbol["st_info"]["type"] in ("STT_FUNC", "STT_OBJECT") \
                    and region.contains(address):
                found[symbol.name] = max(size, found.get(symbol.name, 0))
    return sorted(found.items(), key=lambda item: -item[1])[:count]


def _overflow(elf_path, region, over, what):
    biggest = ", ".join(f"{name} ({size:,} B)" for name, size
                        in largest_symbols(elf_path, region))
    return UserError(f"{what} overflows {region.name} by {over:,} bytes. Largest there: "
                     f"{biggest or 'no sized symbols'}. Move code out of ITCM (ITCM=none "
                     f"or fewer ITCM_EXTRA entries), or move the model or arena "
                     f"(MODEL_MEM=, ARENA_MEM=).")


def check(elf_path, usage):
    """Raise a UserError naming the region, the bytes over and the largest
    contributors when the image cannot run on the chip."""
    if usage.flash_image > mm.FLASH.length:
        raise _overflow(elf_path, mm.FLASH, usage.flash_image - mm.FLASH.length,
                        "The flash image")
    if usage.itcm_banks > mm.FLEXRAM_BANKS:
        raise _overflow(elf_path, mm.ITCM, usage.itcm - mm.FLEXRAM_SIZE, "ITCM code")
    needed = usage.dtcm + usage.stack_reserved
    if needed > usage.dtcm_capacity:
        raise _overflow(elf_path, mm.DTCM, needed - usage.dtcm_capacity,
                        f"DTCM data plus the {usage.stack_reserved // mm.KB} KB stack "
                        f"(ITCM takes {usage.itcm_banks} of {mm.FLEXRAM_BANKS} banks)")
    if usage.ocram > mm.OCRAM.length:
        raise _overflow(elf_path, mm.OCRAM, usage.ocram - mm.OCRAM.length, "OCRAM data")
