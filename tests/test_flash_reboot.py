"""REBOOT=: `scons flash` reboots a board running a USB serial port into its
bootloader with the 134-baud request, for both back ends, and asks for the
button otherwise. The board's port is a real pseudo-terminal whose line rate
the test watches (pyserial cannot list a pty, so the port list naming it is
handed in); the bootloader is the HalfKay device model or the
teensy_loader_cli stand-in."""
import io
import os
import termios
import threading
import time

import pytest
from serial.tools.list_ports_common import ListPortInfo

import teensy_images as ti
from halfkay_model import HalfKayBoard, ModelBus
from loader_stand_in import BANNER, FOUND, READ, WAITING, stand_in  # noqa: F401
from scons_commands import make_project, run_scons
from teensyml.errors import UserError
from teensyml.flash import program
from teensyml.flash.reboot import reboot_into_bootloader
from teensyml.options import resolve


def teensy_port(device, serial_number="12345670"):
    info = ListPortInfo(str(device), skip_link_detection=True)
    info.description = "USB Serial"
    info.vid, info.pid, info.serial_number = 0x16C0, 0x0483, serial_number
    return info


class RunningBoard:
    """A board running a USB serial port, as a pseudo-terminal: when the
    host sets 134 baud on it, it "reboots": the port goes away and, when
    given, the HalfKay model appears."""

    def __init__(self, bootloader=None):
        self.master, slave = os.openpty()
        self.device = os.ttyname(slave)
        os.close(slave)
        self.bootloader = bootloader
        self.rebooted_at = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self):
        while not self._stop.wait(0.005):
            if termios.tcgetattr(self.master)[4] == termios.B134:
                self.rebooted_at = time.time()
                if self.bootloader is not None:
                    self.bootloader.replug()
                return

    def close(self):
        self._stop.set()
        self._thread.join()
        os.close(self.master)


@pytest.fixture
def image_hex(tmp_path):
    return ti.write(ti.boot_image(), tmp_path / "firmware.hex")     # 4 blocks


FAST_BUS = dict(timeout=5.0)


def test_halfkay_back_end_reboots_the_running_board_then_programs_it(image_hex):
    bootloader = HalfKayBoard(present=False)
    board = RunningBoard(bootloader)
    out = io.StringIO()
    try:
        program(image_hex, "halfkay", reboot="auto", out=out, bus=ModelBus(bootloader),
                ports=[teensy_port(board.device)], **FAST_BUS)
    finally:
        board.close()
    assert board.rebooted_at is not None
    assert bootloader.booted and bootloader.blocks[0] == 0
    assert f"Rebooting the Teensy on {board.device} (serial number 12345670) into its " \
           f"bootloader (134-baud request)" in out.getvalue()


def test_teensy_loader_cli_back_end_reboots_first_without_its_own_s(stand_in, image_hex):
    stand_in.script(["out", BANNER + READ + WAITING + FOUND + "Programming"],
                    *[["out", "."] for _ in range(4)], ["out", "\nBooting\n"])
    board = RunningBoard()
    out = io.StringIO()
    try:
        program(image_hex, "teensy_loader_cli", reboot="auto", out=out,
                ports=[teensy_port(board.device)], timeout=5.0)
    finally:
        board.close()
    assert board.rebooted_at is not None
    assert board.rebooted_at < stand_in.recorded()["finished"]
    assert stand_in.recorded()["argv"][1:] == ["--mcu=TEENSY40", "-w", "-v", str(image_hex)]
    assert "134-baud request" in out.getvalue()


def test_no_running_board_asks_for_the_button_and_waits(image_hex):
    bootloader = HalfKayBoard(appear_after=0.3)            # the user presses it
    out = io.StringIO()
    program(image_hex, "halfkay", reboot="auto", out=out, bus=ModelBus(bootloader), ports=[],
            **FAST_BUS)
    assert bootloader.booted
    assert "No Teensy running a USB serial port (USB 16c0:0483: our firmware built with " \
           "CONSOLE=usb, or a Teensyduino sketch with USB serial) was found to reboot " \
           "into the bootloader: press the button on the Teensy" in out.getvalue()


def test_reboot_1_without_a_board_is_refused_before_waiting(image_hex):
    bootloader = HalfKayBoard()
    with pytest.raises(UserError) as caught:
        program(image_hex, "halfkay", reboot="1", out=io.StringIO(), bus=ModelBus(bootloader),
                ports=[], **FAST_BUS)
    message = str(caught.value)
    assert message.startswith("REBOOT=1: No Teensy running a USB serial port") and \
        "\n" not in message
    assert not bootloader.blocks                            # nothing was written


def test_reboot_0_never_opens_the_port(image_hex):
    bootloader = HalfKayBoard()
    board = RunningBoard()
    out = io.StringIO()
    try:
        program(image_hex, "halfkay", reboot="0", out=out, bus=ModelBus(bootloader),
                ports=[teensy_port(board.device)], **FAST_BUS)
        time.sleep(0.05)
    finally:
        board.close()
    assert board.rebooted_at is None and bootloader.booted
    assert "Rebooting" not in out.getvalue() and "button" not in out.getvalue()


def test_several_boards_need_serial(tmp_path):
    boards = [RunningBoard(), RunningBoard()]
    ports = [teensy_port(boards[0].device, "111"), teensy_port(boards[1].device, "222")]
    try:
        out = io.StringIO()
        assert not reboot_into_bootloader("auto", "", out, ports)
        assert "Several Teensy boards run a USB serial port" in out.getvalue()
        assert "name the one to program with SERIAL=<serial number>, or press the button" \
            in out.getvalue()
        with pytest.raises(UserError, match=r"^REBOOT=1: Several Teensy boards"):
            reboot_into_bootloader("1", "", io.StringIO(), ports)
        assert reboot_into_bootloader("auto", "222", io.StringIO(), ports)
        deadline = time.monotonic() + 2
        while boards[1].rebooted_at is None and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        for board in boards:
            board.close()
    assert boards[1].rebooted_at is not None and boards[0].rebooted_at is None


def test_a_port_that_cannot_be_opened_is_one_paragraph(tmp_path):
    with pytest.raises(UserError) as caught:
        reboot_into_bootloader("auto", "", io.StringIO(), [teensy_port(tmp_path / "gone")])
    message = str(caught.value)
    assert "could not be opened to ask for the bootloader" in message and "\n" not in message


def test_reboot_option_values():
    assert resolve({})["REBOOT"] == "auto"
    assert resolve({"REBOOT": "1"})["REBOOT"] == "1"
    with pytest.raises(UserError, match=r"REBOOT=yes is not valid; choose one of: auto, 1, 0"):
        resolve({"REBOOT": "yes"})


def test_scons_flash_reboot_1_with_no_board_stops_before_the_tool(stand_in, tmp_path,
                                                                   fixture_firmware):
    """No Teensy with USB serial on this machine: REBOOT=1 fails at once."""
    project = make_project(tmp_path / "project", fixture_firmware["elf"], fixture_firmware["hex"])
    result = run_scons(project, "flash", "FLASHER=teensy_loader_cli", "REBOOT=1")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "REBOOT=1: No Teensy running a USB serial port" in errors[0]
    assert not stand_in.ran
    assert "Traceback" not in result.stdout + result.stderr
