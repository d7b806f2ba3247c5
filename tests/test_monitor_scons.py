"""`scons monitor` interactive, in a pseudo-terminal, against a pty peer."""
import pytest

from pty_peer import PtyPeer, Terminal
from scons_commands import make_project, scons_command
from teensyml.image import elf_image


@pytest.fixture
def project(tmp_path, fixture_firmware):
    return make_project(tmp_path / "project", fixture_firmware["elf"], fixture_firmware["hex"])


def test_scons_monitor_interactive(project, tmp_path, fixture_firmware):
    main = next(symbol for symbol in elf_image.read(fixture_firmware["elf"]).symbols
                if symbol.name == "main")
    fault = f"*** HardFault PC=0x{main.address + 4:08X} LR=0xFFFFFFF9\r\n".encode()
    port = tmp_path / "ttyUSB0"
    peer = PtyPeer(port, answer=lambda line: b"fixture: hello\r\n" + fault)
    terminal = Terminal(scons_command("monitor", f"PORT={port}", "TIMESTAMPS=1"),
                        cwd=project)
    try:
        terminal.wait_for(r"quit: Ctrl\+\]", timeout=30)
        terminal.type("h\r")
        terminal.wait_for(r"\[\d\d:\d\d:\d\d\.\d{3}\] fixture: hello")
        terminal.wait_for(rf"--- PC 0x{main.address + 4:08X}: main at src/fixture/main\.c:\d+")
        assert peer.received == b"h\r\n"
        terminal.type("\x1d")
        assert terminal.wait(timeout=30) == 0
        assert "Traceback" not in terminal.text()
    finally:
        terminal.close()
        peer.close()
