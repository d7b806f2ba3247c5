"""The firmware's USB console (CONSOLE=usb, TinyUSB) in the emulator, end to
end: the emulated host enumerates it and finds Teensyduino's USB serial, the
console protocol runs through the bulk endpoints, an unplug and replug
enumerate it again, and a 134-baud setting on the pseudo-terminal ends the
run as the bootloader request. (The 100 test images through USB:
test_emulator_firmware.py, whose firmware has the default console, usb.)"""
import re
import signal
import subprocess
import sys

import pytest
import serial

from conftest import ROOT, layout, requires_third_party, run_scons
from pty_peer import Terminal
from teensyml.emulator import Machine, ScriptedConsole, load_firmware

pytestmark = [pytest.mark.firmware, requires_third_party]

SETTINGS = {"MODEL": "int8", "USE_CMSIS_NN": "0", "CONSOLE": "usb"}


class OpenConsole(ScriptedConsole):
    """A script whose host side stays open (a terminal nobody types in): an
    idle firmware makes the emulator wait, not stop."""

    def _host_finished(self):
        return False


@pytest.fixture(scope="module")
def firmware():
    run_scons(*(f"{key}={value}" for key, value in SETTINGS.items()))
    path = layout(**SETTINGS).firmware["hex"]
    assert path.is_file(), f"no {path}"
    return path


def test_the_host_finds_a_teensy_usb_serial_and_the_console_answers(firmware):
    image, symbols = load_firmware(str(firmware))
    machine = Machine(image, symbols, ScriptedConsole(b"2", until=rb"predicted: \d+\r?\n"))
    stop = machine.run(max_seconds=300)
    assert stop.reason == "until", stop.message
    host = machine.usb.host
    assert (host.device.vendor, host.device.product) == (0x16C0, 0x0483)
    assert host.strings == {"manufacturer": "Teensyduino", "product": "USB Serial",
                            "serial": "12345678"}
    assert host.serial.bulk_in.max_packet == host.serial.bulk_out.max_packet == 512
    assert host.enumerations == 1 and machine.usb.controller.address == 1
    assert "predicted: " in machine.console.text()


def test_unplug_and_replug_enumerate_again(firmware):
    image, symbols = load_firmware(str(firmware))
    console = OpenConsole(b"1", until=rb"arena: ")
    machine = Machine(image, symbols, console)
    assert machine.run(max_seconds=300).reason == "until"
    machine.usb.detach()
    assert not machine.usb.host.configured
    console.send(b"1")
    console.expect(rb"arena: ")
    stop = machine.run(max_seconds=2)            # nobody on the bus: nothing moves
    assert stop.reason == "time-limit", stop.message
    machine.usb.attach()
    stop = machine.run(max_seconds=300)
    assert stop.reason == "until", stop.message
    assert machine.usb.host.enumerations == 2


def test_134_baud_on_the_pty_reboots_into_the_bootloader(firmware):
    process = subprocess.Popen([sys.executable, str(ROOT / "tools" / "emulate.py"),
                                str(firmware), "--pty", "--max-seconds", "300"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        match = re.fullmatch(r"emulate: console on (\S+)\n", process.stdout.readline())
        assert match, process.stderr.read()
        with serial.Serial(match.group(1), 115200, timeout=120) as port:
            port.write(b"1")
            assert b"arena: " in port.read_until(b"arena: ")
            port.baudrate = 134
            status = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    errors = process.stderr.read()
    assert status == 0, errors
    assert "stopped: the firmware asked to reboot into the bootloader (134-baud request)" \
        in errors


def test_the_monitor_reconnects_across_unplug_and_replug(firmware, tmp_path):
    """SIGUSR1 pulls the emulated cable out (the console's device node goes,
    as /dev/ttyACM0 does), the next plugs it back (the host enumerates the
    device again): the monitor says so and carries on."""
    link = tmp_path / "ttyACM-emulated"
    emulator = subprocess.Popen([sys.executable, str(ROOT / "tools" / "emulate.py"),
                                 str(firmware), "--pty", "--pty-link", str(link),
                                 "--max-seconds", "300"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    terminal = None
    try:
        assert emulator.stdout.readline().startswith("emulate: console on ")
        terminal = Terminal([sys.executable, str(ROOT / "tools" / "monitor.py"),
                             f"PORT={link}"])
        terminal.wait_for("quit: Ctrl", timeout=20)
        terminal.type("1")
        terminal.wait_for("arena: ", timeout=60)
        emulator.send_signal(signal.SIGUSR1)
        terminal.wait_for(re.escape(f"--- {link} went away"), timeout=30)
        emulator.send_signal(signal.SIGUSR1)
        terminal.wait_for(re.escape(f"--- reconnected to {link}"), timeout=30)
        terminal.type("1")
        terminal.wait_for(r"reconnected[\s\S]*arena: ", timeout=60)
        terminal.type("\x1d")
        assert terminal.wait(timeout=20) == 0
        assert "Traceback" not in terminal.text()
    finally:
        if terminal:
            terminal.close()
        emulator.send_signal(signal.SIGINT)
        emulator.communicate(timeout=60)
