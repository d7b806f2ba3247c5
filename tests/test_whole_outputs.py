"""Only whole images are flashed or run, and scons rebuilds a damaged output.

A HEX cut at a record boundary still parses, so without these checks flash
would program part of the firmware. teensy_image.load_bootable() refuses a
HEX without its end-of-file record last, and one whose bytes differ from the
ELF beside it (a gap, a byte too many, another value); flash and emulate
(tools/ and scons) all go through it. And scons rebuilds a HEX or ELF changed
in place since it wrote them, rather than flashing it.
"""
import shutil
import subprocess
import sys

import pytest

import teensy_images as ti
from conftest import ROOT, clean_checkout, layout, run_scons
from halfkay_model import HalfKayBoard, ModelBus
from loader_stand_in import stand_in  # noqa: F401
from scons_commands import make_project, run_scons as run_project_scons
from teensyml.errors import UserError
from teensyml.flash import program
from teensyml.image.teensy_image import load_bootable

END = ":00000001FF\n"


# --- HEX records, to damage a file the way a cut copy or a bad disk does -------------
def record(address, kind, data):
    """One Intel HEX record line (16-bit address, record type, data bytes)."""
    body = bytes([len(data), address >> 8, address & 0xFF, kind]) + bytes(data)
    return ":" + (body + bytes([-sum(body) & 0xFF])).hex().upper() + "\n"


def parse(line):
    body = bytes.fromhex(line.strip()[1:])
    return (body[1] << 8) | body[2], body[3], body[4:-1]


def data_records(lines):
    return [index for index, line in enumerate(lines) if parse(line)[1] == 0]


def cut_at_a_record(lines):
    return lines[:len(lines) // 2]


def cut_then_ended(lines):
    return cut_at_a_record(lines) + [END]


def without_a_middle_record(lines):
    middle = data_records(lines)[len(data_records(lines)) // 2]
    return lines[:middle] + lines[middle + 1:]


def with_one_byte_changed(lines):
    middle = data_records(lines)[len(data_records(lines)) // 2]
    address, _, data = parse(lines[middle])
    return lines[:middle] + [record(address, 0, bytes([data[0] ^ 0xFF]) + data[1:])] + \
        lines[middle + 1:]


def with_a_byte_more(lines):
    last = data_records(lines)[-1]                   # the image's last bytes
    address, _, data = parse(lines[last])
    return lines[:last] + [record(address, 0, data + b"\x5A")] + lines[last + 1:]


def with_a_record_after_the_end(lines):
    return lines + [lines[data_records(lines)[0]]]


DAMAGES = {
    "cut at a record boundary": (cut_at_a_record, "ends without the Intel HEX end-of-file "
                                                  "record: it was cut short"),
    "cut, end record added": (cut_then_ended, "where fixture.elf has one (a gap, or cut "
                                              "short)"),
    "a record missing": (without_a_middle_record, "where fixture.elf has one (a gap"),
    "a byte changed": (with_one_byte_changed, "where fixture.elf has 0x"),
    "a byte more": (with_a_byte_more, "where fixture.elf has none"),
    "a record after the end": (with_a_record_after_the_end, "goes on after its end-of-file "
                                                            "record"),
}


def damaged_copy(firmware, directory, damage):
    """fixture.hex damaged by `damage`, with the fixture's ELF beside it."""
    directory.mkdir(exist_ok=True)
    shutil.copyfile(firmware["elf"], directory / "fixture.elf")
    lines = firmware["hex"].read_text().splitlines(True)
    (directory / "fixture.hex").write_text("".join(damage(lines)))
    return directory / "fixture.hex"


def one_error_paragraph(result):
    """The only `error:` line of a failed command, which printed no traceback."""
    text = result.stdout + result.stderr
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in text, text
    return errors[0]


# --- hand-made images: both flashers refuse before touching anything ---------------------
def test_hex_cut_at_a_record_boundary_is_refused_by_halfkay(tmp_path):
    path = ti.write(ti.boot_image(), tmp_path / "image.hex")
    path.write_text(path.read_text().replace(END, ""))
    board = HalfKayBoard()
    with pytest.raises(UserError, match="ends without the Intel HEX end-of-file record"):
        program(path, "halfkay", timeout=1.0, bus=ModelBus(board))
    assert board.blocks == []


def test_hex_cut_at_a_record_boundary_is_refused_by_the_loader(stand_in, tmp_path):
    path = ti.write(ti.boot_image(), tmp_path / "image.hex")
    path.write_text(path.read_text().replace(END, ""))
    with pytest.raises(UserError, match="ends without the Intel HEX end-of-file record"):
        program(path, "teensy_loader_cli", timeout=1.0)
    assert not stand_in.ran


def test_whole_hand_made_hex_is_accepted(tmp_path):
    path = ti.write(ti.boot_image(), tmp_path / "image.hex")
    assert load_bootable(path).ivt.entry == ti.VECTORS


# --- the fixture firmware with its ELF: each damage, through both tools ----------------------
@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_hex_is_refused_by_the_flash_tool(damage, stand_in, tmp_path,
                                                  fixture_firmware):
    function, expected = DAMAGES[damage]
    path = damaged_copy(fixture_firmware, tmp_path / "damaged", function)
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "flash.py"), str(path),
                             "FLASHER=teensy_loader_cli", "TIMEOUT=1"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert expected in one_error_paragraph(result)
    assert not stand_in.ran


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_hex_is_refused_by_the_emulate_tool(damage, tmp_path, fixture_firmware):
    function, expected = DAMAGES[damage]
    path = damaged_copy(fixture_firmware, tmp_path / "damaged", function)
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "emulate.py"), str(path),
                             "--send", "h"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert expected in one_error_paragraph(result)
    assert "fixture: boot ok" not in result.stdout


def test_an_undamaged_copy_runs(tmp_path, fixture_firmware):
    path = damaged_copy(fixture_firmware, tmp_path / "copy", lambda lines: lines)
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "emulate.py"), str(path),
                             "--send", "h"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "fixture: hello" in result.stdout


def test_hex_of_another_elf_is_refused(tmp_path, fixture_firmware):
    path = damaged_copy(fixture_firmware, tmp_path / "copy", lambda lines: lines)
    ti.write(ti.boot_image(), path)                  # a whole HEX, but not of this ELF
    with pytest.raises(UserError, match="does not match its ELF, fixture.elf: "):
        load_bootable(path)


# --- scons flash / scons emulate with a damaged HEX they did not build -------------------------
EMULATE_TOO = """
env.Tool("teensy_emulate")
env.EmulateCommand(firmware)
"""


@pytest.fixture
def damaged_project(tmp_path, fixture_firmware):
    """The throwaway project (scons_commands) whose "built" HEX is cut short."""
    damaged = damaged_copy(fixture_firmware, tmp_path / "damaged", cut_at_a_record)
    project = make_project(tmp_path / "project", fixture_firmware["elf"], damaged)
    with open(project / "SConstruct", "a") as stream:
        stream.write(EMULATE_TOO)
    return project


def test_scons_flash_refuses_a_cut_hex(stand_in, damaged_project):
    result = run_project_scons(damaged_project, "flash", "FLASHER=teensy_loader_cli")
    assert result.returncode == 2
    assert "ends without the Intel HEX end-of-file record" in one_error_paragraph(result)
    assert not stand_in.ran


def test_scons_emulate_refuses_a_cut_hex(damaged_project):
    result = run_project_scons(damaged_project, "emulate", "SEND=h")
    assert result.returncode == 2
    assert "ends without the Intel HEX end-of-file record" in one_error_paragraph(result)
    assert "fixture: boot ok" not in result.stdout


# --- scons rebuilds its own outputs when they are damaged in place ---------------------------
@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A clean copy of the project with the fixture built (its own build/)."""
    directory = clean_checkout(tmp_path_factory.mktemp("checkout"))
    run_scons("fixture", cwd=directory)
    return directory


@pytest.mark.parametrize("output", ["hex", "elf"])
def test_scons_rebuilds_an_output_damaged_in_place(output, checkout):
    path = layout(checkout).fixture[output]
    whole = path.read_bytes()
    path.write_bytes(whole[:len(whole) // 2])
    run_scons("fixture", cwd=checkout)
    assert path.read_bytes() == whole
    assert "is up to date" in run_scons("fixture", cwd=checkout).stdout   # and stays so


def test_scons_emulate_runs_the_rebuilt_hex(checkout):
    path = layout(checkout).fixture["hex"]
    lines = path.read_text().splitlines(True)
    path.write_text("".join(cut_at_a_record(lines)))
    result = run_scons("emulate-fixture", "SEND=h", cwd=checkout)
    assert "fixture: hello" in result.stdout
    assert path.read_text().splitlines(True) == lines
