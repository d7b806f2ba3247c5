"""ELF to HEX: the same bytes at the same addresses as objcopy, and refusals."""
import subprocess
import sys

import pytest
from intelhex import IntelHex

from conftest import ROOT, layout, requires_third_party, run_scons
from teensyml.image import hexfile
from teensyml import memory_map as mm
from teensyml.errors import UserError


def objcopy_hex(elf, tmp_path):
    reference = tmp_path / "objcopy.hex"
    subprocess.run(["arm-none-eabi-objcopy", "-O", "ihex", str(elf), str(reference)], check=True)
    return IntelHex(str(reference))


def assert_same_as_objcopy(elf, hex_path, tmp_path):
    ours, theirs = IntelHex(str(hex_path)), objcopy_hex(elf, tmp_path)
    assert ours.todict() == theirs.todict()
    assert ours.start_addr == theirs.start_addr
    assert ours.minaddr() == mm.FLASH.origin


def test_fixture_hex_equals_objcopy(fixture_firmware, tmp_path):
    assert_same_as_objcopy(fixture_firmware["elf"], fixture_firmware["hex"], tmp_path)


@requires_third_party
@pytest.mark.parametrize("arguments", [(), ("USE_CMSIS_NN=1", "ITCM=none", "MODEL_MEM=dtcm")])
def test_firmware_hex_equals_objcopy(arguments, tmp_path):
    run_scons(*arguments)
    image = layout(**dict(a.split("=") for a in arguments)).firmware
    assert_same_as_objcopy(str(image["elf"]), str(image["hex"]), tmp_path)


def elf_from_assembly(tmp_path, address):
    source = tmp_path / "blob.S"
    source.write_text(".section .blob,\"a\"\n.word 0x12345678\n")
    elf = tmp_path / "blob.elf"
    subprocess.run(["arm-none-eabi-gcc", "-nostdlib", "-o", str(elf), str(source),
                    f"-Wl,--section-start=.blob=0x{address:08X}", "-Wl,-e,0"], check=True)
    return elf


def test_image_past_program_flash_is_refused_and_no_hex_written(tmp_path):
    elf = elf_from_assembly(tmp_path, mm.FLASH.end - 2)
    hex_path = tmp_path / "out.hex"
    with pytest.raises(UserError) as caught:
        hexfile.write_hex(elf, hex_path)
    assert "ends 2 bytes past the 1984 KB of program flash" in str(caught.value)
    assert not hex_path.exists()
    assert not list(tmp_path.glob("*.partial"))


def test_image_below_flash_is_refused(tmp_path):
    elf = elf_from_assembly(tmp_path, 0x20000000)
    with pytest.raises(UserError, match="below the flash base"):
        hexfile.write_hex(elf, tmp_path / "out.hex")


def test_not_an_elf_gives_one_paragraph_and_status_2(tmp_path):
    bogus = tmp_path / "bogus.elf"
    bogus.write_bytes(b"not an elf at all")
    result = subprocess.run([sys.executable, "-m", "teensyml.image.hexfile", str(bogus),
                             str(tmp_path / "x.hex")], capture_output=True, text=True,
                            env={"PYTHONPATH": str(ROOT / "site_scons")})
    assert result.returncode == 2
    assert "is not a valid ELF file" in result.stderr
    assert "Traceback" not in result.stderr
