"""teensy_image: loading HEX and ELF images and the Teensy 4.0 boot checks."""
import shutil
import struct
import subprocess

import pytest
from intelhex import IntelHex

import teensy_images as ti
from teensyml import memory_map as mm
from teensyml.errors import UserError
from teensyml.image.teensy_image import check_teensy40, load_image

needs_gcc = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                               reason="arm-none-eabi-gcc is not installed")


def checked(tmp_path, image, name="image.hex"):
    return check_teensy40(load_image(ti.write(image, tmp_path / name)))


def refusal(tmp_path, image):
    with pytest.raises(UserError) as caught:
        checked(tmp_path, image)
    return str(caught.value)


# --- a good image and what it exposes ---------------------------------------------
def test_good_image_exposes_its_boot_structures(tmp_path):
    image = checked(tmp_path, ti.boot_image(size=0x2404))
    assert image.ivt.tag == 0xD1 and image.ivt.length == 0x20 and image.ivt.version == 0x41
    assert image.ivt.address == image.ivt.self == ti.IVT
    assert image.ivt.entry == ti.VECTORS
    assert image.ivt.boot_data == ti.BOOT_DATA
    assert (image.boot_data.start, image.boot_data.size) == (ti.BASE, 0x2404)
    # An even entry is an NXP vector table: SP and PC come from it.
    assert image.reset_state() == (ti.STACK_TOP, ti.RESET_HANDLER)
    assert image.bytes_at(ti.BASE, 4) == b"FCFB"
    assert image.word_at(ti.VECTORS) == ti.STACK_TOP


def test_odd_entry_is_a_thumb_function(tmp_path):
    image = checked(tmp_path, ti.boot_image(entry=ti.RESET_HANDLER | 1))
    assert image.reset_state() == (None, ti.RESET_HANDLER)


def test_segments_bytes_and_gaps(tmp_path):
    source = ti.boot_image()
    image = checked(tmp_path, source)
    assert [(s.address, s.end) for s in image.segments] == \
        [(start, end) for start, end in source.segments()]
    assert image.size == len(source)
    assert image.contains(ti.BASE, 4) and not image.contains(ti.BASE + 0x200, 1)
    with pytest.raises(ValueError):
        image.bytes_at(ti.BASE + 0x1FE, 4)                   # runs into a gap
    assert image.bytes_at(ti.BASE + 0x1FE, 4, fill=0xFF) == b"\x00\x00\xff\xff"
    assert image.bytes_at(ti.BASE + 0x1FE, 4, fill=0) == bytes(4)


def test_write_hex_round_trips(tmp_path):
    image = checked(tmp_path, ti.boot_image())
    image.write_hex(tmp_path / "again.hex")
    assert load_image(tmp_path / "again.hex").segments == image.segments


# --- each failed check, one paragraph saying which ---------------------------------
def test_bytes_outside_flash(tmp_path):
    image = ti.boot_image()
    image.puts(0x20000000, b"ram!")
    message = refusal(tmp_path, image)
    assert "0x20000000..0x20000003, outside the Teensy 4.0 program flash" in message
    assert "nothing was written" in message


def test_too_large_for_program_flash(tmp_path):
    image = ti.boot_image()
    image.puts(mm.FLASH.end - 2, b"1234")          # two bytes past 1984 KB
    message = refusal(tmp_path, image)
    assert "too large" in message and "2 bytes past the 1984 KB" in message


def test_missing_flexspi_configuration_block(tmp_path):
    message = refusal(tmp_path, ti.boot_image(tag=b"XXXX"))
    assert 'FlexSPI configuration block (tag "FCFB" at 0x60000000)' in message


def test_missing_ivt(tmp_path):
    message = refusal(tmp_path, ti.boot_image(with_ivt=False))
    assert "no image vector table (IVT) at 0x60001000" in message


def test_wrong_ivt_tag(tmp_path):
    assert "has tag 0xD2, not 0xD1" in refusal(tmp_path, ti.boot_image(ivt_tag=0xD2))


def test_ivt_self_pointer_elsewhere(tmp_path):
    message = refusal(tmp_path, ti.boot_image(ivt_self=0x70001000))
    assert "says it lives at 0x70001000 but sits at 0x60001000" in message


def test_entry_outside_flash(tmp_path):
    message = refusal(tmp_path, ti.boot_image(entry=0x20000101))
    assert "entry 0x20000101 is not in program flash" in message


def test_boot_data_pointer_outside_flash(tmp_path):
    message = refusal(tmp_path, ti.boot_image(boot_data=0x20000000))
    assert "boot-data pointer 0x20000000 is not in program flash" in message


def test_boot_data_pointer_at_nothing(tmp_path):
    message = refusal(tmp_path, ti.boot_image(with_boot_data=False))
    assert "boot-data pointer (0x60001020) points at bytes the image does not hold" in message


def test_boot_data_start_not_flash_base(tmp_path):
    message = refusal(tmp_path, ti.boot_image(start=0x60001000))
    assert "starts at 0x60001000, not at the flash base 0x60000000" in message


# --- files that are not images ----------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="Cannot read the firmware image .*nothere.hex"):
        load_image(tmp_path / "nothere.hex")


def test_not_a_hex_file(tmp_path):
    path = tmp_path / "notes.hex"
    path.write_text("this is not intel hex\n")
    with pytest.raises(UserError, match="notes.hex is not a valid Intel HEX file"):
        load_image(path)


def test_empty_hex_file(tmp_path):
    path = tmp_path / "empty.hex"
    path.write_text(":00000001FF\n")
    with pytest.raises(UserError, match="holds no bytes to program"):
        load_image(path)


def test_truncated_elf(tmp_path):
    path = tmp_path / "broken.elf"
    path.write_bytes(b"\x7fELF\x01\x01\x01" + bytes(9))
    with pytest.raises(UserError, match="not a valid ELF"):
        load_image(path)


# --- ELF images built with the real toolchain ----------------------------------------
BOOT_ASM = """
    .syntax unified
    .thumb
    .section .fcfb, "a"
    .ascii "FCFB"
    .word 0x56010400
    .section .ivt, "a"
ivt:
    .word 0x412000D1, vectors, 0, 0, boot_data, ivt, 0, 0
    .section .boot_data, "a"
boot_data:
    .word 0x60000000, 0x3000, 0, 0xFFFFFFFF
    .section .vectors, "a"
vectors:
    .word 0x20078000, reset
    .text
    .thumb_func
reset:
    b reset
    .data
value:
    .word 0xC0FFEE42
"""

LINKER_SCRIPT = """
MEMORY {{ FLASH (rx) : ORIGIN = {flash:#x}, LENGTH = 1984K
          DTCM (rw)  : ORIGIN = 0x20000000, LENGTH = 512K }}
SECTIONS {{
    .fcfb {flash:#x} : {{ KEEP(*(.fcfb)) }} > FLASH
    .ivt {ivt:#x} : {{ KEEP(*(.ivt)) }} > FLASH
    .boot_data {boot_data:#x} : {{ KEEP(*(.boot_data)) }} > FLASH
    .vectors {vectors:#x} : {{ KEEP(*(.vectors)) }} > FLASH
    .text : {{ *(.text) }} > FLASH
    .data : {{ *(.data) }} > DTCM AT> FLASH
}}
"""


def build_elf(tmp_path, flash=mm.FLASH.origin):
    (tmp_path / "boot.S").write_text(BOOT_ASM)
    (tmp_path / "boot.ld").write_text(LINKER_SCRIPT.format(
        flash=flash, ivt=flash + mm.IVT_OFFSET, boot_data=flash + mm.BOOT_DATA_OFFSET,
        vectors=flash + mm.VECTOR_TABLE_OFFSET))
    elf = tmp_path / "boot.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m7", "-mthumb", "-nostdlib",
                    "-T", str(tmp_path / "boot.ld"), str(tmp_path / "boot.S"), "-o", str(elf)],
                   check=True)
    return elf


@needs_gcc
def test_elf_loads_at_load_addresses_as_objcopy_does(tmp_path):
    elf = build_elf(tmp_path)
    image = check_teensy40(load_image(elf))
    subprocess.run(["arm-none-eabi-objcopy", "-O", "ihex", str(elf), str(tmp_path / "b.hex")],
                   check=True)
    reference = IntelHex(str(tmp_path / "b.hex"))
    assert [(s.address, s.data) for s in image.segments] == \
        [(start, reference.tobinstr(start=start, end=end - 1))
         for start, end in reference.segments()]
    # .data runs in DTCM but is stored in flash: the image has it there only.
    assert not image.contains(0x20000000)
    stored = struct.pack("<I", 0xC0FFEE42)
    assert any(stored in segment.data and segment.address >= ti.BASE
               for segment in image.segments)
    assert image.ivt.entry == ti.VECTORS


@needs_gcc
def test_elf_linked_for_ram_is_refused(tmp_path):
    elf = build_elf(tmp_path, flash=0x20200000)
    with pytest.raises(UserError, match="0x20200000.*outside the Teensy 4.0 program flash"):
        check_teensy40(load_image(elf))


# --- the project's own firmware ------------------------------------------------------
def test_project_fixture_firmware_passes(fixture_firmware):
    from_hex = check_teensy40(load_image(fixture_firmware["hex"]))
    from_elf = check_teensy40(load_image(fixture_firmware["elf"]))
    assert from_hex.segments == from_elf.segments
    stack, first = from_hex.reset_state()
    assert mm.DTCM.contains(stack - 4) and mm.FLASH.contains(first)
