"""The Python HalfKay uploader against the device model (tests/halfkay_model.py),
and against the real hidapi with no board attached."""
import fcntl
import io
import os
import re
import struct
import termios
import time

import pytest
from intelhex import IntelHex

import teensy_images as ti
from halfkay_model import HalfKayBoard, ModelBus, ProtocolViolation
from pty_peer import Reader
from teensyml import memory_map as mm
from teensyml.errors import UserError
from teensyml.flash import halfkay, program
from teensyml.flash.halfkay_protocol import plan_blocks
from teensyml.image.teensy_image import FirmwareImage, Segment, check_teensy40, load_image

FAST = dict(erase_timeout=1.0, write_timeout=0.2, retry_interval=0.005, poll=0.02)


def upload(path, bus, serial="", timeout=2.0, **overrides):
    """Check and program `path` with the uploader, with short protocol
    timeouts so failures take milliseconds."""
    out = io.StringIO()
    image = check_teensy40(load_image(path))
    halfkay.upload(image, bus, serial, timeout, out=out, **{**FAST, **overrides})
    return out.getvalue()


def assert_flash_reproduces(board, hex_path):
    """The board holds every HEX byte at its address; only blocks with no HEX
    byte, or only 0xFF ones, were skipped; untouched bytes read as erased."""
    source = IntelHex(str(hex_path))
    received = set(board.blocks)
    assert board.blocks[0] == 0 and board.blocks == sorted(received)
    for address in source.addresses():
        offset = address - mm.FLASH.origin
        assert board.flash[offset] == source[address], f"byte at 0x{address:08X}"
    by_block = {}
    for address in source.addresses():
        by_block.setdefault((address - mm.FLASH.origin) // 1024 * 1024, []).append(address)
    for offset, addresses in by_block.items():
        blank = all(source[a] == 0xFF for a in addresses)
        assert (offset in received) == (offset == 0 or not blank), f"block 0x{offset:06X}"
    assert received <= set(by_block) | {0}
    for offset in received:                       # gaps inside sent blocks stay erased
        defined = set(by_block.get(offset, ()))
        for index in range(1024):
            if mm.FLASH.origin + offset + index not in defined:
                assert board.flash[offset + index] == 0xFF


def test_project_fixture_firmware_is_reproduced(fixture_firmware):
    board = HalfKayBoard()
    output = upload(fixture_firmware["hex"], ModelBus(board))
    assert board.booted
    assert_flash_reproduces(board, fixture_firmware["hex"])
    assert f"Programmed {len(board.blocks)} blocks" in output


def test_blank_and_empty_blocks_are_skipped(tmp_path):
    image = ti.boot_image()
    image.puts(ti.BASE + 0x5000, b"\xFF" * 1024)           # only 0xFF: skipped
    image.puts(ti.BASE + 0x8010, b"partial block")         # rest of block stays 0xFF
    image.puts(ti.BASE + 0x93FE, b"span")                  # crosses into the next block
    last = mm.FLASH.end - 1024
    image.puts(last + 1020, b"end!")                       # the last program-flash block
    path = ti.write(image, tmp_path / "gaps.hex")
    board = HalfKayBoard()
    upload(path, ModelBus(board))
    vectors = mm.VECTOR_TABLE_OFFSET                       # and the code after them
    assert board.blocks == [0x0, 0x1000, vectors, vectors + 0x400, 0x8000, 0x9000, 0x9400,
                            last - mm.FLASH.origin]
    assert_flash_reproduces(board, path)
    assert board.booted


def test_block_zero_is_planned_even_when_blank():
    """Writing block 0 erases the chip: it goes first even with nothing in it."""
    blocks = plan_blocks(FirmwareImage([Segment(ti.BASE + 0x4010, b"x")]))
    assert [block.offset for block in blocks] == [0, 0x4000]
    assert blocks[0].data == b"\xFF" * 1024
    assert blocks[1].data == b"\xFF" * 16 + b"x" + b"\xFF" * 1007


def test_slow_erase_is_waited_for_with_retries(tmp_path):
    board = HalfKayBoard(erase_seconds=0.3)
    started = time.monotonic()
    upload(ti.write(ti.boot_image(), tmp_path / "a.hex"), ModelBus(board))
    assert time.monotonic() - started >= 0.3
    assert board.rejected_writes > 5          # it retried every few ms, not once
    assert board.booted


def test_no_bootloader_in_time(tmp_path):
    board = HalfKayBoard(present=False)
    started = time.monotonic()
    with pytest.raises(UserError, match=r"No Teensy bootloader appeared within 0.3 s\. "
                                        r"Press the button"):
        upload(ti.write(ti.boot_image(), tmp_path / "a.hex"), ModelBus(board), timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 2
    assert board.blocks == []


def test_waits_for_the_button(tmp_path):
    board = HalfKayBoard(appear_after=0.3)
    output = upload(ti.write(ti.boot_image(), tmp_path / "a.hex"), ModelBus(board))
    assert "press the button on the board" in output
    assert board.booted


def test_board_lost_mid_write_then_next_run_starts_over(tmp_path):
    image = ti.boot_image()
    image.puts(ti.BASE + 0x10000, bytes(range(256)) * 40)   # 10 KB more: 10 blocks
    path = ti.write(image, tmp_path / "big.hex")
    board = HalfKayBoard(vanish_at_block=5)
    bus = ModelBus(board)
    with pytest.raises(UserError) as caught:
        upload(path, bus)
    message = str(caught.value)
    assert "went away while writing block 5 of 14 (flash address 0x60010000)" in message
    assert "starts over from the first block" in message
    assert len(board.blocks) == 4 and not board.booted
    assert bus.open_handles == []                 # the device was closed

    board.replug()
    upload(path, bus)
    assert board.blocks[0] == 0 and len(board.blocks) == 14
    assert_flash_reproduces(board, path)
    assert board.booted and bus.open_handles == []


def test_board_lost_during_erase_is_reported_without_the_long_wait(tmp_path):
    board = HalfKayBoard(vanish_at_block=2)
    started = time.monotonic()
    with pytest.raises(UserError, match="went away while writing block 2 of 4"):
        upload(ti.write(ti.boot_image(), tmp_path / "a.hex"), ModelBus(board),
               erase_timeout=30)
    assert time.monotonic() - started < 5


def test_erase_that_never_ends(tmp_path):
    board = HalfKayBoard(erase_seconds=float("inf"))
    with pytest.raises(UserError, match=r"did not accept block 2 of 4 .* within 0.3 s while "
                                        r"the chip erases"):
        upload(ti.write(ti.boot_image(), tmp_path / "a.hex"), ModelBus(board),
               erase_timeout=0.3)
    assert board.blocks == [0] and not board.booted


def test_permission_denied_shows_the_udev_rule(tmp_path):
    board = HalfKayBoard(deny_open=True, serial_number="00ABCDEF")
    with pytest.raises(UserError) as caught:
        upload(ti.write(ti.boot_image(), tmp_path / "a.hex"), ModelBus(board))
    message = str(caught.value)
    assert "The Teensy with serial number 00ABCDEF is in the bootloader (USB 16c0:0478) " \
           "but cannot be opened" in message
    assert 'ATTRS{idVendor}=="16c0", ATTRS{idProduct}=="0478"' in message
    assert "sudo tee /etc/udev/rules.d/00-teensy.rules" in message
    assert "\n" not in message and board.blocks == []


# --- several boards: SERIAL= ------------------------------------------------------------
def three_boards():
    return [HalfKayBoard(serial_number=number) for number in ("0000A001", "0000B002", "0000C003")]


def test_serial_picks_one_board(tmp_path):
    boards = three_boards()
    path = ti.write(ti.boot_image(), tmp_path / "a.hex")
    output = upload(path, ModelBus(*boards), serial="0000b002")     # case does not matter
    assert [bool(board.blocks) for board in boards] == [False, True, False]
    assert "serial number 0000B002" in output
    assert_flash_reproduces(boards[1], path)


def test_several_boards_without_serial_are_refused(tmp_path):
    boards = three_boards()
    with pytest.raises(UserError, match=r"3 Teensy boards are in the bootloader \(serial "
                                        r"numbers: 0000A001, 0000B002, 0000C003\); name the "
                                        r"one to program with SERIAL="):
        upload(ti.write(ti.boot_image(), tmp_path / "a.hex"), ModelBus(*boards))
    assert not any(board.blocks for board in boards)


def test_unknown_serial_lists_the_present_ones(tmp_path):
    with pytest.raises(UserError, match=r"with serial number 0000D004 appeared within 0.2 s\. "
                                        r"Bootloaders present have serial numbers 0000A001, "
                                        r"0000B002, 0000C003; none is 0000D004"):
        upload(ti.write(ti.boot_image(), tmp_path / "a.hex"), ModelBus(*three_boards()),
               serial="0000D004", timeout=0.2)


# --- refused before any write ----------------------------------------------------------
@pytest.mark.parametrize("where, expected", [
    (mm.FLASH.end - 1, "too large"),
    (0x20000000, "outside the Teensy 4.0 program flash"),
])
def test_image_outside_flash_is_refused_before_opening(tmp_path, where, expected):
    image = ti.boot_image()
    image.puts(where, b"xx")
    board = HalfKayBoard()
    bus = ModelBus(board)
    with pytest.raises(UserError, match=expected):
        program(ti.write(image, tmp_path / "a.hex"), "halfkay", timeout=0.5,
                out=io.StringIO(), bus=bus)
    assert bus.opened == 0 and board.blocks == []


def test_program_entry_point_uses_the_bus(tmp_path):
    board = HalfKayBoard()
    out = io.StringIO()
    assert program(ti.write(ti.boot_image(), tmp_path / "a.hex"), "halfkay", timeout=1,
                   out=out, bus=ModelBus(board)) == "halfkay"
    assert board.booted
    assert out.getvalue().startswith("Flashing a.hex (")


# --- the model enforces the protocol (so the tests above mean something) ------------------
def report(offset, data=bytes(1024), length=1089):
    raw = b"\x00" + offset.to_bytes(3, "little") + bytes(61) + data
    return (raw + bytes(length))[:length]


@pytest.mark.parametrize("reports, complaint", [
    ([report(0, length=1088)], "report of 1088 bytes"),
    ([b"\x01" + report(0)[1:]], "report id 1"),
    ([report(0x400)], "block 0 must come first"),
    ([report(0), report(0x800), report(0x400)], "blocks must ascend"),
    ([report(0), report(0x123)], "not a block of program flash"),
    ([report(0), report(mm.FLASH_PROGRAM_SIZE)], "not a block of program flash"),
    ([report(0)[:10] + b"\x01" + report(0)[11:]], "header bytes 3..63 not zero"),
    ([report(0xFFFFFF)], "boot report before any block"),
    ([report(0), report(0xFFFFFF, data=b"\x01" * 1024)], "boot report carries data"),
])
def test_model_rejects_protocol_breaches(reports, complaint):
    board = HalfKayBoard()
    with pytest.raises(ProtocolViolation, match=complaint):
        for each in reports:
            board.receive(each)


def test_model_rejects_reports_after_boot():
    board = HalfKayBoard()
    board.receive(report(0))
    board.receive(report(0xFFFFFF))
    board._present = True          # still on the bus: the check is about order
    with pytest.raises(ProtocolViolation, match="after the boot report"):
        board.receive(report(0x400))


# --- the real hidapi, no board attached ---------------------------------------------------
def test_real_hidapi_finds_no_bootloader(tmp_path):
    bus = halfkay.HidapiBus()
    assert bus.enumerate(0x16C0, 0x0478) == []
    out = io.StringIO()
    with pytest.raises(UserError, match="No Teensy bootloader appeared within 0.3 s"):
        program(ti.write(ti.boot_image(), tmp_path / "a.hex"), "halfkay", timeout=0.3, out=out)
    assert "Waiting up to 0.3 s for the Teensy bootloader (USB 16c0:0478)" in out.getvalue()


def test_progress_bar_on_a_terminal(tmp_path):
    """With a terminal as output the uploader draws a bar; with a log (the
    tests above) it prints only its summary."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    reader = Reader(master)
    image = ti.boot_image()
    image.puts(ti.BASE + 0x10000, bytes(range(256)) * 400)       # 100 KB: 100 blocks
    board = HalfKayBoard(erase_seconds=0.2)
    try:
        with os.fdopen(slave, "w") as terminal:
            halfkay.upload(check_teensy40(load_image(ti.write(image, tmp_path / "a.hex"))),
                           ModelBus(board), out=terminal, **FAST)
        reader.wait_for(r"Programmed 104 blocks")
        assert re.search(r"Flashing: +\d+%\|.*\| \d+(\.\d+)?k?/104k \[", reader.text())
    finally:
        reader.stop()
        os.close(master)
