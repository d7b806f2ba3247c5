"""What a linked image puts where: its sections and sized symbols, placed in
the regions of the memory map.

This is the one answer to "which region does this section or symbol belong
to". A section takes bytes in the region it runs from (its address) and, when
the flash image carries its contents for the reset handler to copy (ITCM code,
initialised data, a model in RAM), also in FLASH at its load address.
"""
import struct
from dataclasses import dataclass

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from . import hexfile
from .. import memory_map as mm
from ..errors import UserError

STACK_SIZE_SYMBOL = "__stack_size__"

# Elf32_Sym: st_name, st_value, st_size, st_info, st_other, st_shndx.
_SYMBOL = struct.Struct("<IIIBBH")
# NOTYPE with a size: assembly labels given one with .size (__isr_vector).
_SYMBOL_TYPES = {0: "NOTYPE", 1: "OBJECT", 2: "FUNC"}
_SHN_LORESERVE = 0xFF00


@dataclass(frozen=True)
class Section:
    name: str
    index: int
    address: int          # where it runs (VMA)
    load_address: int     # where the flash image holds it (LMA)
    size: int
    nobits: bool          # .bss-like: takes RAM, nothing in the image
    executable: bool

    @property
    def run_region(self):
        return mm.region_of(self.address)

    @property
    def copied(self):
        """True when the flash image holds its contents for the reset handler
        to copy to where it runs."""
        return not self.nobits and self.load_address != self.address

    def placements(self):
        """(region, address) of every region this section takes bytes in;
        region is None for an address outside the memory map."""
        found = [(self.run_region, self.address)]
        if self.copied:
            found.append((mm.region_of(self.load_address), self.load_address))
        return found


@dataclass(frozen=True)
class Symbol:
    name: str
    address: int          # Thumb bit cleared
    size: int
    kind: str             # FUNC | OBJECT | NOTYPE
    section: int          # index of the section holding it


@dataclass
class Image:
    path: str
    sections: list        # allocated, non-empty Sections, in file order
    symbols: list         # sized Symbols of functions, objects and labels
    values: dict          # absolute symbols the linker script defines (name -> value)

    def sections_in(self, region):
        """[(section, address in region)] of what the region holds, by address."""
        found = [(section, address) for section in self.sections
                 for placed, address in section.placements() if placed == region]
        return sorted(found, key=lambda item: (item[1], item[0].index))

    def unplaced(self):
        """Sections whose address (or load address) lies outside every region."""
        return [section for section in self.sections
                if any(region is None for region, _ in section.placements())]

    @property
    def stack_reserved(self):
        return self.values.get(STACK_SIZE_SYMBOL, 0)


def read(elf_path):
    """The Image of an ELF file, or a UserError when it is not one."""
    try:
        with open(elf_path, "rb") as stream:
            elf = ELFFile(stream)
            return Image(str(elf_path), list(_sections(elf)), *_symbols(elf))
    except FileNotFoundError:
        raise UserError(f"{elf_path} does not exist: build the firmware first "
                        f"(`scons`, or `scons fixture`).") from None
    except ELFError as error:
        raise UserError(f"{elf_path} is not a valid ELF file ({error}); give the "
                        f"firmware's .elf, as the link writes it.") from None


def _sections(elf):
    segments = list(elf.iter_segments())
    for index, section in enumerate(elf.iter_sections()):
        if not section["sh_flags"] & SH_FLAGS.SHF_ALLOC or section["sh_size"] == 0:
            continue
        yield Section(section.name, index, section["sh_addr"],
                      hexfile.load_address(section, segments), section["sh_size"],
                      section["sh_type"] == "SHT_NOBITS",
                      bool(section["sh_flags"] & SH_FLAGS.SHF_EXECINSTR))


def _symbols(elf):
    """Sized functions, objects and labels, and the absolute symbols of the
    linker script. The table is decoded in bulk: pyelftools' per-symbol objects cost
    about 70 us each, a second for a large firmware."""
    table = elf.get_section_by_name(".symtab")
    if table is None or elf.elfclass != 32 or not elf.little_endian:
        return [], {}
    names = elf.get_section(table["sh_link"]).data()
    symbols, values = [], {}
    for name_at, value, size, info, _, shndx in _SYMBOL.iter_unpack(table.data()):
        kind = _SYMBOL_TYPES.get(info & 0xF)
        if kind and size and 0 < shndx < _SHN_LORESERVE:
            name = names[name_at:names.index(b"\0", name_at)].decode(errors="replace")
            symbols.append(Symbol(name, value & ~1 if kind == "FUNC" else value, size,
                                  kind, shndx))
        elif shndx == 0xFFF1 and name_at:   # SHN_ABS: __stack_size__ and friends
            values[names[name_at:names.index(b"\0", name_at)].decode()] = value
    return symbols, values
