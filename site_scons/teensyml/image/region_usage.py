"""How full each memory region of a linked image is, and whether it fits.

Which region a section takes bytes in is elf_image's answer (run address,
plus the load address of what the reset handler copies from flash). A
region's use runs from its origin to the end of its last section: the
sections plus the alignment gaps between them. FlexRAM is checked as the chip
has it: ITCM takes whole 32 KB banks, DTCM gets the banks left, and the stack
must fit in DTCM after the variables.
"""
from dataclasses import dataclass

from . import elf_image
from .. import memory_map as mm
from ..errors import UserError

MOVE_HINT = ("Move code out of ITCM (ITCM=none or fewer ITCM_EXTRA entries), or move "
             "the model or arena (MODEL_MEM=, ARENA_MEM=); `scons size-report` shows "
             "where every byte goes.")


@dataclass
class RegionUse:
    region: mm.Region
    sections: list        # [(elf_image.Section, address in this region)], by address
    section_bytes: int    # what `size -A` lists for these sections
    gap_bytes: int        # alignment between them (and before the first)

    @property
    def used(self):
        return self.section_bytes + self.gap_bytes


def region_use(image, region):
    placed = image.sections_in(region)
    cursor, gaps = region.origin, 0
    for section, address in placed:
        gaps += max(0, address - cursor)
        cursor = max(cursor, address + section.size)
    return RegionUse(region, placed, sum(s.size for s, _ in placed), gaps)


@dataclass
class Usage:
    image: elf_image.Image
    regions: dict         # region name -> RegionUse, in memory-map order

    @property
    def sections(self):
        """region name -> [(section name, bytes)]"""
        return {name: [(s.name, s.size) for s, _ in use.sections]
                for name, use in self.regions.items() if use.sections}

    @property
    def flash_image(self):
        """Bytes of flash the image spans, from the flash origin."""
        return self.regions[mm.FLASH.name].used

    @property
    def itcm(self):
        return self.regions[mm.ITCM.name].used

    @property
    def dtcm(self):
        """DTCM below the stack: variables, the arena and model when there."""
        return self.regions[mm.DTCM.name].used

    @property
    def ocram(self):
        return self.regions[mm.OCRAM.name].used

    @property
    def stack_reserved(self):
        return self.image.stack_reserved

    @property
    def itcm_banks(self):
        return mm.bank_count(self.itcm)

    @property
    def dtcm_banks(self):
        return mm.FLEXRAM_BANKS - self.itcm_banks

    @property
    def dtcm_capacity(self):
        return max(0, self.dtcm_banks) * mm.FLEXRAM_BANK_SIZE

    @property
    def stack_room(self):
        """DTCM bytes left for the stack above the variables."""
        return self.dtcm_capacity - self.dtcm

    def capacity(self, region):
        """What the region can hold in this image: ITCM its banks, DTCM the
        banks ITCM leaves (the stack included)."""
        if region is mm.ITCM:
            return self.itcm_banks * mm.FLEXRAM_BANK_SIZE
        if region is mm.DTCM:
            return self.dtcm_capacity
        return region.length


def usage_of(image):
    return Usage(image, {region.name: region_use(image, region) for region in mm.REGIONS})


def measure(elf_path):
    return usage_of(elf_image.read(elf_path))


def summary_line(name, usage):
    """One line after every link, in the teensy_size vocabulary."""
    flash_pct = 100.0 * usage.flash_image / mm.FLASH.length
    return (f"{name}: FLASH {usage.flash_image:,} B ({flash_pct:.1f}%)"
            f" | RAM1 ITCM {usage.itcm:,} B in {usage.itcm_banks} bank(s),"
            f" DTCM {usage.dtcm:,} B of {usage.dtcm_capacity // mm.KB} KB,"
            f" stack room {usage.stack_room:,} B"
            f" | RAM2 {usage.ocram:,} B of {mm.OCRAM.length // mm.KB} KB")


def symbols_in(image, region):
    """[(symbol, section)] of the sized symbols taking bytes in a region:
    those of the sections it holds (ITCM code also counts in FLASH, whose
    image carries it)."""
    held = {section.index: section for section, _ in image.sections_in(region)}
    return [(symbol, held[symbol.section]) for symbol in image.symbols
            if symbol.section in held]


def largest_symbols(source, region, count=5):
    """(name, bytes) of the largest symbols in a region; `source` is an ELF
    path or an elf_image.Image."""
    image = source if isinstance(source, elf_image.Image) else elf_image.read(source)
    found = sorted(symbols_in(image, region), key=lambda item: (-item[0].size, item[0].name))
    return [(symbol.name, symbol.size) for symbol, _ in found[:count]]


def contributors(usage, region, attribution=None, count=5):
    """'Largest there: ...' for a message: symbols, and components when an
    attribution (components.attribute) is at hand."""
    biggest = ", ".join(f"{name} ({size:,} B)" for name, size
                        in largest_symbols(usage.image, region, count))
    text = f"Largest there: {biggest or 'no sized symbols'}."
    if attribution is not None:
        counts = attribution.regions.get(region.name, {})
        ranked = sorted(counts.items(), key=lambda item: -item[1])[:count]
        text += " By component: " + ", ".join(f"{key} {size:,} B" for key, size in ranked) \
            + "."
    return text


def overflows(usage):
    """[(region, bytes over, what)] of every rule the image breaks."""
    found = []
    if usage.flash_image > mm.FLASH.length:
        found.append((mm.FLASH, usage.flash_image - mm.FLASH.length, "The flash image"))
    if usage.itcm_banks > mm.FLEXRAM_BANKS:
        found.append((mm.ITCM, usage.itcm - mm.FLEXRAM_SIZE, "ITCM code"))
    needed = usage.dtcm + usage.stack_reserved
    if usage.itcm_banks <= mm.FLEXRAM_BANKS and needed > usage.dtcm_capacity:
        found.append((mm.DTCM, needed - usage.dtcm_capacity,
                      f"DTCM data plus the {usage.stack_reserved // mm.KB} KB stack "
                      f"(ITCM takes {usage.itcm_banks} of {mm.FLEXRAM_BANKS} banks)"))
    if usage.ocram > mm.OCRAM.length:
        found.append((mm.OCRAM, usage.ocram - mm.OCRAM.length, "OCRAM data"))
    return found


def check(elf_path, usage, attribution=None):
    """Raise a UserError naming the region, the bytes over and the largest
    contributors when the image cannot run on the chip. (`usage` carries the
    image; `elf_path` stays for the callers of the first version.)"""
    for region, over, what in overflows(usage)[:1]:
        raise UserError(f"{what} overflows {region.name} by {over:,} bytes. "
                        f"{contributors(usage, region, attribution)} {MOVE_HINT}")


def stack_warning(usage, margin, attribution=None):
    """A warning when the stack has less than `margin` bytes beyond the
    reserve the linker script guarantees (__stack_size__), else None."""
    spare = usage.stack_room - usage.stack_reserved
    if spare >= margin:
        return None
    return (f"The stack has {usage.stack_room:,} bytes of DTCM, {spare:,} beyond its "
            f"{usage.stack_reserved:,}-byte reserve: less than STACK_MARGIN={margin:,}. "
            f"Deep calls may overwrite DTCM variables. "
            f"{contributors(usage, mm.DTCM, attribution)} Move the arena or the model to "
            f"OCRAM (ARENA_MEM=ocram, MODEL_MEM=ocram) or give ITCM fewer banks.")
