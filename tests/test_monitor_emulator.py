"""The monitor against the emulated firmware: the CI fixture running in
`tools/emulate.py --pty`, whose console is a pseudo-terminal like a board's
USB-UART adapter. The emulator stopping (the fixture's deliberate fault)
and starting again is the board going away and coming back."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pty_peer import Terminal

pytest.importorskip("unicorn")

ROOT = Path(__file__).resolve().parent.parent
MONITOR = ROOT / "tools" / "monitor.py"
EMULATE = ROOT / "tools" / "emulate.py"


class Emulator:
    """The fixture firmware on a pty at `link`, until it stops or is stopped."""

    def __init__(self, firmware, link):
        self.process = subprocess.Popen(
            [sys.executable, str(EMULATE), str(firmware), "--pty", "--pty-link", str(link),
             "--max-seconds", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        line = self.process.stdout.readline()
        assert line.startswith("emulate: console on /dev/"), line + self.process.stderr.read()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
        self.process.communicate(timeout=30)
        return self.process.returncode


def test_scripted_against_the_emulator(fixture_firmware, tmp_path):
    port = tmp_path / "ttyEMU"
    emulator = Emulator(fixture_firmware["elf"], port)
    try:
        result = subprocess.run([sys.executable, str(MONITOR), f"PORT={port}", "SEND=h",
                                 "EXPECT=fixture: hello", "TIMEOUT=20"], capture_output=True,
                                text=True, stdin=subprocess.DEVNULL, timeout=60)
    finally:
        emulator.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fixture: hello\n" in result.stdout


def test_interactive_across_an_emulator_restart(fixture_firmware, tmp_path):
    port, log = tmp_path / "ttyEMU", tmp_path / "session.log"
    first = Emulator(fixture_firmware["elf"], port)
    terminal = Terminal([sys.executable, str(MONITOR), f"PORT={port}", f"LOG={log}",
                         "--elf", str(fixture_firmware["elf"])])
    second = None
    try:
        terminal.wait_for("quit: Ctrl", timeout=20)
        terminal.type("h")
        terminal.wait_for("fixture: hello", timeout=20)
        terminal.type("f")                  # the fixture's deliberate fault ends the run
        terminal.wait_for(re.escape(f"--- {port} went away"), timeout=30)
        assert first.process.wait(timeout=30) == 1     # the emulator's status for a crash
        second = Emulator(fixture_firmware["elf"], port)
        terminal.wait_for(re.escape(f"--- reconnected to {port}"), timeout=20)
        terminal.type("b")
        terminal.wait_for(r"banks GPR17=0x[0-9A-F]{8}", timeout=20)
        terminal.type("\x1d")
        assert terminal.wait(timeout=20) == 0
        assert "Traceback" not in terminal.text()
    finally:
        terminal.close()
        first.stop()
        if second:
            second.stop()
    session = log.read_text()
    assert session.index("fixture: hello") < session.index("went away") \
        < session.index("reconnected") < session.index("banks GPR17=")
