"""`scons flash` and `scons flash monitor` through the SCons tools, with the
teensy_loader_cli stand-in (no board here) and a pty peer as the board's port."""
import time

import pytest

from loader_stand_in import BANNER, FOUND, stand_in  # noqa: F401
from conftest import flash_blocks
from pty_peer import PtyPeer
from scons_commands import make_project, run_scons


@pytest.fixture
def project(tmp_path, fixture_firmware):
    return make_project(tmp_path / "project", fixture_firmware["elf"], fixture_firmware["hex"])


@pytest.fixture
def blocks(fixture_firmware):
    """The fixture's HalfKay blocks: what the stand-in prints a dot for."""
    return flash_blocks(fixture_firmware["hex"])[0]


def programs(tool, blocks, pause=0.0):
    tool.script(["out", BANNER + FOUND + "Programming"], ["sleep", pause],
                *[["out", "."] for _ in range(blocks)], ["out", "\nBooting\n"])


def test_flash_builds_the_hex_then_programs_it(stand_in, project, fixture_firmware):
    count, kilobytes = flash_blocks(fixture_firmware["hex"])
    programs(stand_in, count)
    result = run_scons(project, "flash", "FLASHER=teensy_loader_cli")
    assert result.returncode == 0, result.stdout + result.stderr
    hex_path = project / "build" / "firmware.hex"
    assert hex_path.read_bytes() == (project / "firmware.hex.in").read_bytes()
    assert stand_in.recorded()["argv"][1:] == ["--mcu=TEENSY40", "-w", "-v", "build/firmware.hex"]
    assert f"Flashing firmware.hex ({kilobytes:.1f} KB, {count} blocks) with " \
        "teensy_loader_cli" in result.stdout
    assert f"Programmed {count} blocks ({count} KB) with teensy_loader_cli" in result.stdout


def test_no_running_board_asks_for_the_button(stand_in, project, blocks):
    """REBOOT=auto (the default) on a machine with no Teensy USB serial port."""
    programs(stand_in, blocks)
    result = run_scons(project, "flash", "FLASHER=teensy_loader_cli")
    assert result.returncode == 0
    assert "was found to reboot into the bootloader: press the button" in result.stdout
    assert "-s" not in stand_in.recorded()["argv"]


def test_flash_failure_is_one_paragraph(stand_in, project, blocks):
    stand_in.script(["out", BANNER + FOUND + "Programming..."],
                    ["err", "error writing to Teensy\n"], status=1)
    result = run_scons(project, "flash", "FLASHER=teensy_loader_cli")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"lost the board while writing block 3 of {blocks}" in errors[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_no_bootloader_with_the_real_hidapi(project):
    result = run_scons(project, "flash", "FLASHER=halfkay", "TIMEOUT=0.5")
    assert result.returncode != 0
    assert "error: No Teensy bootloader appeared within 0.5 s." in result.stderr


def test_monitor_alone_does_not_flash(stand_in, project, tmp_path, blocks):
    programs(stand_in, blocks)
    peer = PtyPeer(tmp_path / "tty", answer=lambda line: b"predicted: 4\r\n")
    try:
        result = run_scons(project, "monitor", f"PORT={tmp_path / 'tty'}", "SEND=2",
                           "EXPECT=predicted", "TIMEOUT=10")
    finally:
        peer.close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "predicted: 4" in result.stdout and not stand_in.ran
    assert (project / "build" / "firmware.elf").exists()      # built for decoding


def test_flash_monitor_flashes_first_even_in_parallel(stand_in, project, tmp_path, blocks):
    programs(stand_in, blocks, pause=1.0)
    received = {}

    def board(line):
        received.setdefault("at", time.time())
        return b"predicted: 4\r\n"

    peer = PtyPeer(tmp_path / "tty", answer=board)
    try:
        result = run_scons(project, "-j4", "monitor", "flash", "FLASHER=teensy_loader_cli",
                           f"PORT={tmp_path / 'tty'}", "SEND=2", "EXPECT=predicted",
                           "TIMEOUT=10")
    finally:
        peer.close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert stand_in.recorded()["finished"] < received["at"]
    assert result.stdout.index(f"Programmed {blocks} blocks") < \
        result.stdout.index("predicted: 4")


def test_monitor_pattern_missing_fails_the_build(project, tmp_path):
    peer = PtyPeer(tmp_path / "tty", answer=lambda line: b"nothing useful\r\n")
    try:
        result = run_scons(project, "monitor", f"PORT={tmp_path / 'tty'}", "SEND=2",
                           "EXPECT=predicted", "TIMEOUT=1")
    finally:
        peer.close()
    assert result.returncode != 0
    assert "--- /predicted/ did not arrive within 1 s" in result.stdout
