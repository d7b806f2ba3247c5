"""Hand-made Teensy 4.0 images for the image and flash tests.

`boot_image()` lays out what the boot ROM reads (FlexSPI configuration block,
IVT, boot data, vector table) as an IntelHex, each field replaceable so a test
can break exactly one check.
"""
import struct

from intelhex import IntelHex

from teensyml import memory_map as mm

BASE = mm.FLASH.origin
IVT = BASE + mm.IVT_OFFSET
BOOT_DATA = BASE + mm.BOOT_DATA_OFFSET
VECTORS = BASE + mm.VECTOR_TABLE_OFFSET
RESET_HANDLER = VECTORS + 0x400
STACK_TOP = 0x20078000


def boot_image(tag=b"FCFB", ivt_tag=0xD1, entry=VECTORS, boot_data=BOOT_DATA,
               ivt_self=IVT, start=BASE, size=0x3000, with_ivt=True, with_boot_data=True):
    image = IntelHex()
    image.puts(BASE, tag + struct.pack("<I", 0x56010400) + bytes(mm.FLEXSPI_CONFIG_SIZE - 8))
    if with_ivt:
        header = ivt_tag | 0x20 << 16 | 0x41 << 24        # tag, length 0x0020 BE, version
        image.puts(IVT, struct.pack("<8I", header, entry, 0, 0, boot_data, ivt_self, 0, 0))
    if with_boot_data:
        image.puts(BOOT_DATA, struct.pack("<4I", start, size, 0, 0xFFFFFFFF))
    image.puts(VECTORS, struct.pack("<2I", STACK_TOP, RESET_HANDLER | 1))
    image.puts(RESET_HANDLER, bytes.fromhex("fee7"))          # b .
    return image


def write(image, path):
    image.write_hex_file(str(path))
    return path


CODE = BASE + 0x2100             # where code_image() puts the code (the reset handler)


def code_image(code, configuration=None, size=0x3000):
    """A minimal bootable FirmwareImage for the emulator: a FlexSPI
    configuration block (`configuration`, by default just its tag), IVT, boot
    data covering `size` bytes, a vector table (stack at 0x20001000 in DTCM,
    reset handler at CODE) and `code` at CODE."""
    from teensyml.image import teensy_image
    parts = {
        BASE: configuration or struct.pack("<I", mm.FLEXSPI_CONFIG_TAG),
        IVT: struct.pack("<8I", 0x412000D1, VECTORS, 0, 0, BOOT_DATA, IVT, 0, 0),
        BOOT_DATA: struct.pack("<4I", BASE, size, 0, 0xFFFFFFFF),
        VECTORS: struct.pack("<2I", mm.DTCM.origin + 0x1000, CODE | 1),
        CODE: code,
    }
    return teensy_image.check_teensy40(teensy_image.FirmwareImage(
        [teensy_image.Segment(address, data) for address, data in parts.items()]))
