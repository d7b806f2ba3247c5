"""Firmware images: load an Intel HEX or an ELF, check it boots on a Teensy 4.0.

The flasher refuses an image before touching the board unless
`check_teensy40()` accepts it, and the emulator boots from the same parsed
boot structures (`image.ivt.entry`, `image.boot_data`), so both read the
image exactly as the i.MX RT1062 boot ROM does.

    image = load_image("build/int8-reference/firmware.hex")
    check_teensy40(image)              # UserError naming the failed check
    image.segments                     # (Segment(address, data), ...) ascending
    image.bytes_at(address, n)         # bytes the image defines there
    image.ivt.entry                    # where the ROM starts the firmware
    image = load_bootable("build/int8-reference/firmware.hex")   # flash, emulate

load_bootable() is the one gate of `scons flash`, `scons emulate` and their
tools: a HEX must be whole (its end-of-file record last) and hold exactly the
bytes of its ELF (the one given, or the .elf beside it), then pass the boot
checks. A HEX cut at a record boundary still parses: without the first check
part of the firmware would be programmed.
"""
import bisect
import os
import struct
from dataclasses import dataclass

from .. import memory_map as mm
from ..errors import UserError

ELF_MAGIC = b"\x7fELF"
END_OF_FILE_RECORD = 0x01       # Intel HEX record type
IVT_SIZE = 32
BOOT_DATA_SIZE = 16


@dataclass(frozen=True)
class Segment:
    """Bytes the image puts at consecutive addresses (load addresses)."""
    address: int
    data: bytes

    @property
    def end(self):
        return self.address + len(self.data)


@dataclass(frozen=True)
class Ivt:
    """The image vector table, as the boot ROM reads it (i.MX RT1060 RM,
    "Image Vector Table structure")."""
    address: int
    tag: int            # 0xD1
    length: int         # header length field (big endian in the image)
    version: int
    entry: int          # first instruction (Teensyduino) or vector table (NXP)
    dcd: int
    boot_data: int      # address of the boot data
    self: int           # the IVT's own address, as the image claims it
    csf: int


@dataclass(frozen=True)
class BootData:
    address: int
    start: int          # where the image starts: the flash base
    size: int           # bytes of it the ROM may read
    plugin: int


class FirmwareImage:
    """A firmware image as the bytes it puts at each load address."""

    def __init__(self, segments, path=""):
        self.path = path
        self.segments = _merged(segments)
        self._starts = [segment.address for segment in self.segments]

    @property
    def size(self):
        """Bytes the image defines (gaps not counted)."""
        return sum(len(segment.data) for segment in self.segments)

    @property
    def start(self):
        return self.segments[0].address if self.segments else None

    @property
    def end(self):
        return self.segments[-1].end if self.segments else None

    def segment_at(self, address):
        """The segment holding `address`, or None (a gap)."""
        index = bisect.bisect_right(self._starts, address) - 1
        if index >= 0 and address < self.segments[index].end:
            return self.segments[index]
        return None

    def contains(self, address, length=1):
        """Whether the image defines every byte of [address, address+length)."""
        index = bisect.bisect_right(self._starts, address) - 1
        return index >= 0 and address + length <= self.segments[index].end

    def bytes_at(self, address, length, fill=None):
        """The `length` bytes at `address`. Bytes the image does not define are
        `fill` (an int, e.g. 0xFF for erased flash); with no fill they are an
        error (ValueError)."""
        if fill is None and not self.contains(address, length):
            raise ValueError(f"the image does not define all of "
                             f"0x{address:08X}..0x{address + length - 1:08X}")
        result = bytearray([fill or 0]) * length
        index = max(bisect.bisect_right(self._starts, address) - 1, 0)
        for segment in self.segments[index:]:
            if segment.address >= address + length:
                break
            low, high = max(address, segment.address), min(address + length, segment.end)
            if low < high:
                result[low - address:high - address] = \
                    segment.data[low - segment.address:high - segment.address]
        return bytes(result)

    def word_at(self, address):
        """The little-endian 32-bit word at `address`."""
        return struct.unpack("<I", self.bytes_at(address, 4))[0]

    @property
    def ivt(self):
        """The IVT at the place the boot ROM reads it."""
        address = mm.FLASH.origin + mm.IVT_OFFSET
        if not self.contains(address, IVT_SIZE):
            raise UserError(f"{self._name()} has no image vector table (IVT) at "
                            f"0x{address:08X}: the boot ROM would find nothing to start. "
                            f"Build the image with the project's linker script, which "
                            f"places the IVT there.")
        header, entry, _, dcd, boot_data, self_, csf, _ = \
            struct.unpack("<8I", self.bytes_at(address, IVT_SIZE))
        return Ivt(address=address, tag=header & 0xFF,
                   length=((header >> 8) & 0xFF) << 8 | ((header >> 16) & 0xFF),
                   version=header >> 24, entry=entry, dcd=dcd, boot_data=boot_data,
                   self=self_, csf=csf)

    @property
    def boot_data(self):
        """The boot data the IVT points at."""
        address = self.ivt.boot_data
        if not self.contains(address, BOOT_DATA_SIZE):
            raise UserError(f"{self._name()}: the IVT's boot-data pointer "
                            f"(0x{address:08X}) points at bytes the image does not "
                            f"hold, so the boot ROM cannot tell where the image is.")
        start, size, plugin, _ = struct.unpack("<4I", self.bytes_at(address, BOOT_DATA_SIZE))
        return BootData(address=address, start=start, size=size, plugin=plugin)

    def reset_state(self):
        """(initial stack pointer, first instruction address) the boot ROM
        starts the firmware with. An even IVT entry is a vector table (NXP
        layout): the ROM takes SP and PC from its first two words. An odd entry
        is a Thumb function (Teensyduino layout), called with the ROM's stack
        (None here)."""
        entry = self.ivt.entry
        if entry & 1:
            return None, entry & ~1
        return self.word_at(entry), self.word_at(entry + 4) & ~1

    def write_hex(self, path):
        """Write the image as Intel HEX (what teensy_loader_cli reads)."""
        from intelhex import IntelHex
        hex_file = IntelHex()
        for segment in self.segments:
            hex_file.frombytes(segment.data, offset=segment.address)
        hex_file.write_hex_file(path)

    def _name(self):
        return os.path.basename(self.path) if self.path else "the firmware image"


def _merged(segments):
    """Segments sorted by address, touching ones joined; overlaps refused."""
    merged = []
    for segment in sorted((s for s in segments if s.data), key=lambda s: s.address):
        if merged and segment.address < merged[-1].end:
            raise UserError(f"two loadable parts of the image overlap at "
                            f"0x{segment.address:08X}; the link is broken, rebuild it.")
        if merged and segment.address == merged[-1].end:
            merged[-1] = Segment(merged[-1].address, merged[-1].data + segment.data)
        else:
            merged.append(segment)
    return tuple(merged)


def load_image(path):
    """Load an Intel HEX or an ELF (its sections' contents at their load
    addresses, as objcopy -O ihex takes them: see hexfile)."""
    try:
        with open(path, "rb") as stream:
            magic = stream.read(4)
    except OSError as error:
        raise UserError(f"Cannot read the firmware image {path}: {error.strerror}. "
                        f"Build it first (scons), or give the path of a .hex or .elf "
                        f"file.") from None
    segments = _elf_segments(path) if magic == ELF_MAGIC else _hex_segments(path)
    image = FirmwareImage(segments, path)
    if not image.segments:
        raise UserError(f"{os.path.basename(path)} holds no bytes to program; it is "
                        f"not a firmware image (was the link empty?).")
    return image


def _hex_segments(path):
    from intelhex import IntelHex, IntelHexError
    hex_file = IntelHex()
    try:
        hex_file.loadhex(path)
    except (IntelHexError, ValueError, UnicodeDecodeError) as error:
        raise UserError(f"{os.path.basename(path)} is not a valid Intel HEX file "
                        f"({error}). Give the .hex (or .elf) the build wrote.") from None
    _check_hex_ends_whole(path)
    return _segments_of(hex_file)


def _record_type(record):
    try:
        return int(record[7:9], 16)
    except ValueError:
        return None


def _check_hex_ends_whole(path):
    """The end-of-file record must be the last record. Without it the file
    was cut short (at a record boundary it still parses); records after it
    (two files joined, damage) are ignored by every reader."""
    with open(path, encoding="ascii", errors="replace") as stream:
        records = [(number, line.strip()) for number, line in enumerate(stream, 1)
                   if line.strip()]
    ends = [index for index, (_, record) in enumerate(records)
            if _record_type(record) == END_OF_FILE_RECORD]
    name = os.path.basename(path)
    if not ends:
        raise UserError(f"{name} ends without the Intel HEX end-of-file record: it was cut "
                        f"short (an interrupted write, copy or download, or a full disk) and "
                        f"may hold only part of the firmware, so it was refused. Rebuild it "
                        f"(scons), or copy it again whole.")
    if ends[0] != len(records) - 1:
        line = records[ends[0]][0]
        raise UserError(f"{name} goes on after its end-of-file record (line {line}) with "
                        f"{len(records) - 1 - ends[0]} more line(s), which readers ignore: "
                        f"the file is damaged or two files were joined, so it was refused. "
                        f"Rebuild it (scons).")


def _elf_segments(path):
    # The bytes objcopy (and so the build's HEX) would emit: flashing an ELF
    # programs exactly what flashing its HEX does.
    from .hexfile import elf_to_intelhex
    return _segments_of(elf_to_intelhex(path))


def _segments_of(hex_file):
    return [Segment(start, hex_file.tobinstr(start=start, end=end - 1))
            for start, end in hex_file.segments()]


def companion_elf(path):
    """The .elf beside a .hex (the build writes them together), or None."""
    sibling = os.path.splitext(path)[0] + ".elf"
    return sibling if os.path.isfile(sibling) else None


def is_elf(path):
    with open(path, "rb") as stream:
        return stream.read(4) == ELF_MAGIC


def load_bootable(path, elf=None):
    """The image at `path` (HEX or ELF) as flash and the emulator take it:
    whole, the same bytes as its ELF (`elf`, else the .elf beside a .hex,
    when there is one), and a Teensy 4.0 boot image. A UserError otherwise."""
    image = load_image(path)
    if not is_elf(path):
        elf = elf or companion_elf(path)
        if elf is not None:
            check_matches_elf(image, load_image(elf), elf)
    return check_teensy40(image)


def check_matches_elf(image, reference, elf_path):
    """Refuse a HEX image whose bytes differ from those of its ELF
    (`reference`): a gap, a byte too many, or another value."""
    if image.segments == reference.segments:
        return
    elf = os.path.basename(elf_path)
    missing, extra = _first_uncovered(reference, image), _first_uncovered(image, reference)
    if missing is not None:
        what = f"has no byte at 0x{missing:08X}, where {elf} has one (a gap, or cut short)"
    elif extra is not None:
        what = f"has a byte at 0x{extra:08X}, where {elf} has none"
    else:
        address, ours, theirs = _first_other_value(image, reference)
        what = f"has 0x{ours:02X} at 0x{address:08X}, where {elf} has 0x{theirs:02X}"
    raise UserError(f"{image._name()} does not match its ELF, {elf}: it {what}. The HEX is "
                    f"damaged or older than the ELF, so it was refused. Rebuild it (scons "
                    f"makes the HEX from the ELF), or give the .elf itself.")


def _first_uncovered(image, other):
    """The first address `image` defines and `other` does not, or None."""
    for segment in image.segments:
        address = segment.address
        while address < segment.end:
            covering = other.segment_at(address)
            if covering is None:
                return address
            address = covering.end
    return None


def _first_other_value(image, other):
    """(address, image's byte, other's byte) of the first difference between
    two images that define the same addresses."""
    for segment in image.segments:
        theirs = other.bytes_at(segment.address, len(segment.data))
        if theirs == segment.data:
            continue
        for offset, (ours, their) in enumerate(zip(segment.data, theirs)):
            if ours != their:
                return segment.address + offset, ours, their
    raise AssertionError("the images differ but no byte does")


def check_teensy40(image):
    """Raise a UserError naming the first check a Teensy 4.0 boot image fails;
    return the image when it passes them all."""
    name, flash = image._name(), mm.FLASH
    outside = [s for s in image.segments if not flash.contains(s.address, len(s.data))]
    if outside:
        first, last = outside[0], image.end
        if flash.contains(image.start):       # so everything outside lies past its end
            raise UserError(
                f"{name} is too large: it ends at 0x{last - 1:08X}, "
                f"{last - flash.end} bytes past the {flash.length // mm.KB} KB of "
                f"Teensy 4.0 program flash (0x{flash.origin:08X}..0x{flash.end - 1:08X}). "
                f"Nothing was written; make the firmware smaller (a smaller model, "
                f"MODEL_MEM, fewer kernels).")
        raise UserError(
            f"{name} puts bytes at 0x{first.address:08X}..0x{first.end - 1:08X}, outside "
            f"the Teensy 4.0 program flash (0x{flash.origin:08X}..0x{flash.end - 1:08X}). "
            f"It was not linked for this board (or the HEX came from RAM addresses); "
            f"nothing was written. Build it with this project's linker script.")
    config_tag = struct.pack("<I", mm.FLEXSPI_CONFIG_TAG)
    config_address = flash.origin + mm.FLEXSPI_CONFIG_OFFSET
    if image.bytes_at(config_address, 4, fill=0xFF) != config_tag:
        raise UserError(
            f"{name} does not start with a FlexSPI configuration block (tag "
            f"\"{config_tag.decode()}\" at 0x{config_address:08X}): the boot ROM could not "
            f"read the flash, and the board would stay in the bootloader. Build it with "
            f"the project's boot code (flexspi_config.c).")
    ivt = image.ivt
    if ivt.tag != mm.IVT_TAG:
        raise UserError(
            f"{name}: the image vector table at 0x{ivt.address:08X} has tag "
            f"0x{ivt.tag:02X}, not 0x{mm.IVT_TAG:02X}: the boot ROM would not "
            f"recognise it and would not start the firmware.")
    if ivt.self != ivt.address:
        raise UserError(
            f"{name}: the IVT says it lives at 0x{ivt.self:08X} but sits at "
            f"0x{ivt.address:08X}; the boot ROM would reject it. The image was linked "
            f"for another address.")
    if not flash.contains(ivt.entry & ~1):
        raise UserError(
            f"{name}: the IVT's entry 0x{ivt.entry:08X} is not in program flash; the "
            f"boot ROM would jump to code that is not there.")
    if not flash.contains(ivt.boot_data):
        raise UserError(
            f"{name}: the IVT's boot-data pointer 0x{ivt.boot_data:08X} is not in "
            f"program flash; the boot ROM could not find the image's extent.")
    boot_data = image.boot_data
    if boot_data.start != flash.origin:
        raise UserError(
            f"{name}: the boot data at 0x{boot_data.address:08X} says the image starts "
            f"at 0x{boot_data.start:08X}, not at the flash base 0x{flash.origin:08X}; "
            f"the boot ROM would misplace it.")
    return image
