"""The teensy_loader_cli back end: the command it runs and how the tool's exit
status and output are reported. A stand-in executable first on PATH plays
the tool (no board here); the real tool shows it reads our HEX files."""
import io
import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest
from intelhex import IntelHex

import teensy_images as ti
from conftest import flash_blocks
from loader_stand_in import BANNER, FOUND, READ, WAITING, stand_in  # noqa: F401
from pty_peer import Terminal
from teensyml import memory_map as mm
from teensyml.errors import UserError
from teensyml.flash import Settings, choose_flasher, program, teensy_loader_cli
from teensyml.options import resolve


@pytest.fixture
def image_hex(tmp_path):
    return ti.write(ti.boot_image(), tmp_path / "firmware.hex")     # 4 blocks


def success_script(tool, blocks=4):
    tool.script(["out", BANNER + READ + WAITING], ["sleep", 0.05], ["out", FOUND],
                ["out", "Programming"], *[["out", "."] for _ in range(blocks)],
                ["out", "\nBooting\n"])


def flash(path, timeout=5.0, **options):
    out = io.StringIO()
    program(path, "teensy_loader_cli", timeout=timeout, out=out, **options)
    return out.getvalue()


def failure(path, timeout=5.0, **options):
    with pytest.raises(UserError) as caught:
        flash(path, timeout, **options)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def process_gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# --- the command line -------------------------------------------------------------------
def test_command_line_and_streamed_output(stand_in, image_hex):
    success_script(stand_in)
    output = flash(image_hex)
    assert stand_in.recorded()["argv"][1:] == ["--mcu=TEENSY40", "-w", "-v", str(image_hex)]
    for line in ("Teensy Loader, Command Line, Version 2.2", "Waiting for Teensy device...",
                 "Found HalfKay Bootloader", "Booting"):
        assert line + "\n" in output
    assert "Programmed 4 blocks (4 KB) with teensy_loader_cli" in output
    assert "...." not in output and "%|" not in output   # no dots, and no bar in a log


def test_elf_is_given_to_the_tool_as_a_temporary_hex(stand_in, fixture_firmware):
    success_script(stand_in, blocks=flash_blocks(fixture_firmware["hex"])[0])
    flash(fixture_firmware["elf"])
    record = stand_in.recorded()
    given = record["argv"][-1]
    assert given.endswith("fixture.hex") and not os.path.exists(given)    # cleaned up
    handed = IntelHex(io.StringIO(record["hex"])).todict()
    built = IntelHex(str(fixture_firmware["hex"])).todict()
    built.pop("start_addr", None)               # the entry record: not programmed
    assert handed == built


# --- its exit status and messages ----------------------------------------------------------
def test_lost_board_mid_write(stand_in, image_hex):
    stand_in.script(["out", BANNER + FOUND + "Programming.."],
                    ["err", "error writing to Teensy\n"], status=1)
    message = failure(image_hex)
    assert "lost the board while writing block 2 of 4" in message
    assert "starts over from the first block" in message


def test_unreadable_hex(stand_in, image_hex):
    stand_in.script(["out", BANNER + "Warning, HEX parse error line 7\n"],
                    ["err", f'error reading intel hex file "{image_hex}"\n'], status=1)
    message = failure(image_hex)
    assert f"teensy_loader_cli could not read {image_hex} (Warning, HEX parse error " \
           f"line 7)" in message


def test_tool_too_old_for_teensy40(stand_in, image_hex):
    stand_in.script(["err", 'Unknown MCU type "TEENSY40"\n'], ["out", "Supported MCUs are:\n"],
                    status=1)
    assert "does not know the Teensy 4.0 (--mcu=TEENSY40); it is too old" in \
        failure(image_hex)


def test_permission_problem_stops_the_wait(stand_in, image_hex):
    stand_in.script(["out", BANNER + READ + WAITING],
                    ["out", "Unable to claim interface, check USB permissions\n"], ["hang"])
    started = time.monotonic()
    message = failure(image_hex, timeout=30)
    assert time.monotonic() - started < 5
    assert "cannot be opened" in message and "00-teensy.rules" in message
    assert process_gone(stand_in.recorded()["pid"])


def test_no_board_within_timeout(stand_in, image_hex):
    stand_in.script(["out", BANNER + READ + WAITING], ["hang"])
    started = time.monotonic()
    message = failure(image_hex, timeout=0.5)
    assert 0.5 <= time.monotonic() - started < 3
    assert message.startswith("No Teensy bootloader appeared within 0.5 s.")
    assert process_gone(stand_in.recorded()["pid"])


def test_killed_by_a_signal(stand_in, image_hex):
    stand_in.script(["out", BANNER + FOUND], ["signal", 11])
    assert "teensy_loader_cli was stopped by signal 11 (SIGSEGV)" in failure(image_hex)


def test_other_failure_quotes_the_last_line(stand_in, image_hex):
    stand_in.script(["out", BANNER + "something unexpected happened\n"], status=3)
    assert "failed with exit status 3 (something unexpected happened)" in failure(image_hex)


def test_tool_missing(tmp_path, monkeypatch, image_hex):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    message = failure(image_hex)
    assert "teensy_loader_cli is not installed" in message
    assert "`sudo apt-get install teensy-loader-cli`" in message
    assert "FLASHER=halfkay" in message


def test_serial_is_refused_before_running(stand_in, image_hex):
    success_script(stand_in)
    assert "which teensy_loader_cli cannot do" in failure(image_hex, serial="0000A001")
    assert not stand_in.ran


def test_bad_image_is_refused_before_running(stand_in, tmp_path):
    image = ti.boot_image()
    image.puts(mm.FLASH.end, b"!")
    success_script(stand_in)
    assert "too large" in failure(ti.write(image, tmp_path / "big.hex"))
    assert not stand_in.ran


# --- FLASHER=auto --------------------------------------------------------------------------
def test_auto_prefers_the_tool_when_installed(stand_in):
    assert choose_flasher("auto") == "teensy_loader_cli"
    assert choose_flasher("auto", serial="0000A001") == "halfkay"
    assert choose_flasher("halfkay") == "halfkay"


def test_auto_falls_back_to_halfkay(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert choose_flasher("auto") == "halfkay"
    assert choose_flasher("teensy_loader_cli") == "teensy_loader_cli"
    with pytest.raises(UserError, match="FLASHER=usb is not valid; choose one of: auto, "
                                        "teensy_loader_cli, halfkay"):
        Settings.from_options(resolve({"FLASHER": "usb"}))


# --- the real teensy_loader_cli ------------------------------------------------------------
needs_real_tool = pytest.mark.skipif(shutil.which("teensy_loader_cli") is None,
                                     reason="teensy_loader_cli is not installed")


@needs_real_tool
def test_real_tool_reads_the_fixture_hex_then_waits(fixture_firmware):
    path = fixture_firmware["hex"]
    count = len(IntelHex(str(path)))
    out = io.StringIO()
    with pytest.raises(UserError, match="No Teensy bootloader appeared within 1.5 s"):
        program(path, "teensy_loader_cli", timeout=1.5, out=out)
    printed = out.getvalue()
    usage = count / mm.FLASH_PROGRAM_SIZE * 100
    assert f'Read "{path}": {count} bytes, {usage:.1f}% usage' in printed
    assert "Waiting for Teensy device..." in printed


@needs_real_tool
def test_real_tool_refusing_a_hex_is_reported(tmp_path):
    bad = IntelHex()
    bad.puts(0x20000000, b"not for flash")
    path = tmp_path / "ram.hex"
    bad.write_hex_file(str(path))
    with pytest.raises(UserError, match=r"could not read .*ram.hex \(Warning, HEX parse error "
                                        r"line 2\)"):
        # The back end alone: our own checks would refuse this file first.
        teensy_loader_cli.program(str(path), 1, timeout=5, out=io.StringIO())


def test_progress_bar_on_a_terminal(stand_in, fixture_firmware):
    """On a terminal the tool's dots become a bar; in a log (above) they do not."""
    blocks = flash_blocks(fixture_firmware["hex"])[0]
    stand_in.script(["out", BANNER + FOUND + "Programming"],
                    *[step for _ in range(blocks) for step in (["sleep", 0.05], ["out", "."])],
                    ["out", "\nBooting\n"])
    tool = Path(__file__).resolve().parent.parent / "tools" / "flash.py"
    terminal = Terminal([sys.executable, str(tool), str(fixture_firmware["hex"]),
                         "FLASHER=teensy_loader_cli"])
    try:
        assert terminal.wait() == 0
        shown = terminal.text()
    finally:
        terminal.close()
    assert re.search(rf"Flashing: +\d+%\|.*\| \d+\.\d+k/{blocks}\.0k \[", shown)
    assert f"Programmed {blocks} blocks" in shown
