"""ELF to Intel HEX, byte for byte what `arm-none-eabi-objcopy -O ihex` writes.

objcopy emits every allocated section that has contents at its load address
(LMA): the section's address moved by the offset between the virtual and
physical addresses of the segment holding it. Gaps between sections are not
emitted. This module does the same with pyelftools and intelhex, then refuses
an image that does not fit the Teensy 4.0's program flash.
"""
import argparse
import sys

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from intelhex import IntelHex

from .. import memory_map as mm
from ..atomic_file import atomic_write
from ..errors import UserError, cli


def load_address(section, segments):
    """The LMA of an allocated section: objcopy's rule."""
    address, size = section["sh_addr"], section["sh_size"]
    for segment in segments:
        if segment["p_type"] != "PT_LOAD":
            continue
        start, end = segment["p_vaddr"], segment["p_vaddr"] + segment["p_memsz"]
        offset_ok = (segment["p_offset"] <= section["sh_offset"]
                     < segment["p_offset"] + max(segment["p_filesz"], 1))
        if start <= address and address + size <= end and offset_ok:
            return address - segment["p_vaddr"] + segment["p_paddr"]
    return address


def loadable_sections(elf):
    """(name, load address, bytes) of every section objcopy would emit."""
    segments = list(elf.iter_segments())
    for section in elf.iter_sections():
        if not section["sh_flags"] & SH_FLAGS.SHF_ALLOC:
            continue
        if section["sh_type"] == "SHT_NOBITS" or section["sh_size"] == 0:
            continue
        yield section.name, load_address(section, segments), section.data()


def elf_to_intelhex(elf_path):
    """An IntelHex holding the ELF's load image, with its entry point."""
    try:
        with open(elf_path, "rb") as stream:
            elf = ELFFile(stream)
            image = IntelHex()
            for name, address, data in loadable_sections(elf):
                image.puts(address, data)
            image.start_addr = {"EIP": elf.header["e_entry"]}
    except ELFError as error:
        raise UserError(f"{elf_path} is not a valid ELF file: {error}.") from None
    return image


def check_fits_flash(image, source):
    """Refuse an image with bytes outside the Teensy 4.0 program flash."""
    if not len(image):
        raise UserError(f"{source} has nothing to load: no section with contents.")
    low, high = image.minaddr(), image.maxaddr()
    if low < mm.FLASH.origin or high >= mm.FLASH.end:
        over = high + 1 - mm.FLASH.end
        where = (f"ends {over:,} bytes past the {mm.FLASH.length // mm.KB} KB of program "
                 f"flash" if over > 0 else f"starts at 0x{low:08X}, below the flash base")
        raise UserError(f"{source} does not fit the Teensy 4.0: its load image spans "
                        f"0x{low:08X}-0x{high:08X} and {where} (0x{mm.FLASH.origin:08X}, "
                        f"{mm.FLASH.length:,} bytes). Make the firmware smaller "
                        f"(`scons size-report` shows what is large).")


def write_hex(elf_path, hex_path):
    """Convert, check, and write atomically: no half-written HEX on failure
    (and with the umask's permissions, not a temporary file's 0600)."""
    image = elf_to_intelhex(elf_path)
    check_fits_flash(image, elf_path)
    with atomic_write(hex_path, "w") as stream:
        image.write_hex_file(stream)
    return image


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(description="ELF to Intel HEX for the Teensy 4.0")
    parser.add_argument("elf")
    parser.add_argument("hex")
    args = parser.parse_args(argv)
    write_hex(args.elf, args.hex)
    return 0


if __name__ == "__main__":
    sys.exit(main())
