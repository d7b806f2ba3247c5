"""Ctrl-C (SIGINT) and SIGTERM stop `scons emulate`, `scons monitor` and
`scons flash` (and the tools) within a bound, with status 128 + the signal,
leaving no process behind and no file half-written.

Each test starts the real command in a session of its own, waits until it is
in its long-running part (the emulator serving its console, the monitor
waiting for an answer, the flasher waiting for a board), sends the signal
with os.kill, and then looks at the status, the time taken and /proc.
"""
import json
import os
import re
import signal
import subprocess
import sys
import termios
import threading
import time

import pytest

from conftest import ROOT, layout, requires_third_party, run_scons
from halfkay_model import HalfKayBoard, ModelBus
from loader_stand_in import BANNER, FOUND, WAITING, stand_in  # noqa: F401
from pty_peer import PtyPeer, Terminal
from scons_commands import make_project, scons_command
from teensyml import interrupts
from teensyml.flash import halfkay, teensy_loader_cli
from teensyml.flash.halfkay_protocol import plan_blocks
from teensyml.image.teensy_image import load_bootable

BOUND = 2.0                       # seconds from the signal to the exit status
STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}
SIGNALS = pytest.mark.parametrize("signum", list(STATUS), ids=lambda s: s.name)
SCONS = [sys.executable, "-m", "SCons", "-Q"]
EMULATE = [sys.executable, str(ROOT / "tools" / "emulate.py")]


class Command:
    """A command in a session of its own, its output in files."""

    def __init__(self, argv, directory, cwd=ROOT):
        self.out, self.err = directory / "stdout", directory / "stderr"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.process = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=err, start_new_session=True)

    def text(self):
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def wait_for(self, pattern, timeout=60):
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} did not come (status "
                                     f"{self.process.poll()}):\n{self.text()}")
            time.sleep(0.05)
        time.sleep(0.3)           # into the loop that follows the line

    def stop(self, signum):
        """(exit status, seconds it took) after sending `signum`."""
        return stop(self.process, signum)

    def close(self):
        kill_session(self.process)


def stop(process, signum):
    started = time.monotonic()
    os.kill(process.pid, signum)
    try:
        status = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        status = None
    return status, time.monotonic() - started


def session_processes(session):
    """Live processes (not zombies) of the session `session`, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stream:
                stat = stream.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        state, _ppid, _group, sid = stat[stat.rindex(")") + 2:].split()[:4]
        if int(sid) == session and state != "Z":
            found.append(f"{entry} {name}")
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stream:
            return stream.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def kill_session(process):
    if process.poll() is None or session_processes(process.pid):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def assert_stopped(status, seconds, signum, process, text):
    assert status == STATUS[signum], f"status {status}:\n{text}"
    assert seconds < BOUND, f"took {seconds:.2f} s"
    assert session_processes(process.pid) == []    # children were ended and reaped
    assert "Traceback" not in text


# --- the mechanism ----------------------------------------------------------------------------
def test_listening_notes_the_signal_then_restores_what_it_replaced():
    before = {signum: signal.getsignal(signum) for signum in interrupts.SIGNALS}
    with interrupts.listening():
        os.kill(os.getpid(), signal.SIGTERM)          # our no-op handler takes it
        assert interrupts.wait(5) == signal.SIGTERM
        with pytest.raises(interrupts.Interrupted, match="Stopped by SIGTERM while testing"):
            interrupts.check("while testing")
    assert {signum: signal.getsignal(signum) for signum in interrupts.SIGNALS} == before
    assert signal.set_wakeup_fd(-1) == -1              # no wakeup descriptor left set
    assert interrupts.received() is None


# --- scons emulate ------------------------------------------------------------------------
@SIGNALS
def test_scons_emulate_on_a_pty_stops(signum, tmp_path, fixture_firmware):
    command = Command(SCONS + ["emulate-fixture", "PTY=1"], tmp_path)
    try:
        command.wait_for(r"emulate: console on /dev/pts/\d+")
        status, seconds = command.stop(signum)
        assert_stopped(status, seconds, signum, command.process, command.text())
        assert f"emulate: stopped: interrupted by {signum.name}" in command.text()
    finally:
        command.close()


def test_scons_emulate_in_a_terminal_stops_and_restores_it(fixture_firmware):
    terminal = Terminal(SCONS + ["emulate-fixture"], cwd=ROOT)
    try:
        terminal.wait_for(r"fixture: boot ok", timeout=60)
        terminal.type("h")
        terminal.wait_for(r"fixture: hello")
        assert not termios.tcgetattr(terminal.master)[3] & termios.ICANON   # cbreak
        status, seconds = stop(terminal.process, signal.SIGINT)
        assert_stopped(status, seconds, signal.SIGINT, terminal.process, terminal.text())
        assert termios.tcgetattr(terminal.master)[3] & termios.ICANON      # restored
    finally:
        terminal.close()


def test_emulate_tool_writes_whole_stats_and_removes_its_link(tmp_path, fixture_firmware):
    stats, link = tmp_path / "stats.json", tmp_path / "teensy"
    command = Command(EMULATE + [str(fixture_firmware["hex"]), "--pty", "--pty-link",
                                 str(link), "--stats-json", str(stats)], tmp_path)
    try:
        command.wait_for(r"emulate: console on")
        status, seconds = command.stop(signal.SIGTERM)
        assert_stopped(status, seconds, signal.SIGTERM, command.process, command.text())
        assert json.loads(stats.read_text())["stop"] == {
            "reason": "interrupted", "message": "interrupted by SIGTERM", "exit_status": 143}
        assert not os.path.lexists(link)
        assert [path.name for path in tmp_path.iterdir() if ".tmp" in path.name] == []
    finally:
        command.close()


# --- scons monitor ---------------------------------------------------------------------------
@pytest.fixture
def project(tmp_path, fixture_firmware):
    return make_project(tmp_path / "project", fixture_firmware["elf"], fixture_firmware["hex"])


@SIGNALS
def test_scons_monitor_scripted_stops_and_closes_its_log(signum, project, tmp_path):
    peer = PtyPeer(tmp_path / "tty")                 # a board that never answers
    log = tmp_path / "session.log"
    command = Command(scons_command("monitor", f"PORT={tmp_path / 'tty'}", "SEND=2",
                                    "EXPECT=predicted", "TIMEOUT=60", f"LOG={log}"),
                      tmp_path, cwd=project)
    try:
        deadline = time.monotonic() + 60
        while peer.received != b"2\r\n" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert peer.received == b"2\r\n", command.text()
        status, seconds = command.stop(signum)
        assert_stopped(status, seconds, signum, command.process, command.text())
        assert log.read_text().endswith(f"--- Stopped by {signum.name}.\n")
        assert "did not arrive" not in command.text()
    finally:
        command.close()
        peer.close()


def test_scons_monitor_interactive_stops_on_sigterm(project, tmp_path):
    peer = PtyPeer(tmp_path / "tty", answer=lambda line: b"fixture: hello\r\n")
    terminal = Terminal(scons_command("monitor", f"PORT={tmp_path / 'tty'}"), cwd=project)
    try:
        terminal.wait_for(r"quit: Ctrl\+\]", timeout=60)
        terminal.type("h\r")
        terminal.wait_for(r"fixture: hello")
        status, seconds = stop(terminal.process, signal.SIGTERM)
        assert_stopped(status, seconds, signal.SIGTERM, terminal.process, terminal.text())
        assert "--- Stopped by SIGTERM." in terminal.text()
        assert termios.tcgetattr(terminal.master)[3] & termios.ICANON      # restored
    finally:
        terminal.close()
        peer.close()


# --- scons flash --------------------------------------------------------------------------------
@SIGNALS
def test_scons_flash_ends_the_waiting_loader(signum, stand_in, project, tmp_path):
    stand_in.script(["out", BANNER + WAITING], ["hang"])
    command = Command(scons_command("flash", "FLASHER=teensy_loader_cli", "TIMEOUT=60"),
                      tmp_path, cwd=project)
    try:
        command.wait_for(r"Waiting for Teensy device")
        assert stand_in.ran
        status, seconds = command.stop(signum)
        assert_stopped(status, seconds, signum, command.process, command.text())
        assert (f"Stopped by {signum.name} while waiting for the Teensy bootloader; "
                f"nothing was written.") in command.text()
        assert not alive(stand_in.recorded()["pid"])
    finally:
        command.close()


def test_scons_flash_halfkay_stops_waiting_for_a_board(project, tmp_path):
    command = Command(scons_command("flash", "FLASHER=halfkay", "TIMEOUT=60"), tmp_path,
                      cwd=project)
    try:
        command.wait_for(r"Waiting up to 60 s for the Teensy bootloader")
        status, seconds = command.stop(signal.SIGTERM)
        assert_stopped(status, seconds, signal.SIGTERM, command.process, command.text())
        assert "nothing was written" in command.text()
    finally:
        command.close()


def signal_soon(signum, seconds=0.5):
    """This process gets `signum` in `seconds` (inside interrupts.listening())."""
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signum))
    timer.start()
    return timer


def test_halfkay_stopped_mid_flash_says_it_is_partly_written(fixture_firmware):
    board = HalfKayBoard(erase_seconds=float("inf"))      # block 0 taken, then busy
    image = load_bootable(fixture_firmware["hex"])
    total = len(plan_blocks(image))
    with interrupts.listening():
        started = time.monotonic()
        timer = signal_soon(signal.SIGTERM)
        with pytest.raises(interrupts.Interrupted, match=rf"Stopped by SIGTERM after 1 of {total} "
                           r"blocks: the flash is only partly written"):
            halfkay.upload(image, ModelBus(board), timeout=5, erase_timeout=60)
        timer.join()
    assert time.monotonic() - started < 0.5 + BOUND and board.blocks == [0]


def test_loader_stopped_mid_flash_is_ended(stand_in, fixture_firmware):
    stand_in.script(["out", BANNER + FOUND + "Programming..."], ["hang"])
    with interrupts.listening():
        timer = signal_soon(signal.SIGINT, 1.0)
        with pytest.raises(interrupts.Interrupted, match=r"Stopped by SIGINT after 3 of 11 "
                           r"blocks: the flash is only partly written"):
            teensy_loader_cli.program(str(fixture_firmware["hex"]), 11, timeout=60)
        timer.join()
    assert not alive(stand_in.recorded()["pid"])


def test_flash_tool_ends_the_loader_on_sigterm(stand_in, tmp_path, fixture_firmware):
    stand_in.script(["out", BANNER + WAITING], ["hang"])
    command = Command([sys.executable, str(ROOT / "tools" / "flash.py"),
                       str(fixture_firmware["hex"]), "FLASHER=teensy_loader_cli"], tmp_path)
    try:
        command.wait_for(r"Waiting for Teensy device")
        status, seconds = command.stop(signal.SIGTERM)
        assert_stopped(status, seconds, signal.SIGTERM, command.process, command.text())
        assert not alive(stand_in.recorded()["pid"])
    finally:
        command.close()


# --- a plain build ---------------------------------------------------------------------------
@SIGNALS
def test_an_interrupted_build_ends_with_the_signals_status(signum, tmp_path):
    """Ctrl-C in a terminal signals the whole foreground group: scons and the
    compilers it runs. The build ends at once with 130 (143 for SIGTERM),
    instead of SCons' own 2, leaves no process, and the next build is whole."""
    from conftest import clean_checkout
    directory = clean_checkout(tmp_path / "checkout")
    mark = tmp_path / "compiling"
    wrapper = tmp_path / "slow-compiler"
    wrapper.write_text(f'#!/bin/sh\ntouch "{mark}"\nsleep 60\nexec "$@"\n')
    wrapper.chmod(0o755)
    logs = tmp_path / "logs"
    logs.mkdir()
    command = Command(SCONS + ["fixture", "CACHE=0", f"CC_WRAPPER={wrapper}"], logs,
                      cwd=directory)
    try:
        deadline = time.monotonic() + 60
        while not mark.exists():
            assert command.process.poll() is None and time.monotonic() < deadline, \
                command.text()
            time.sleep(0.05)
        started = time.monotonic()
        os.killpg(command.process.pid, signum)
        try:
            status = command.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # Seen once in a clean clone, never reproduced: keep what scons said.
            pytest.fail(f"scons still running 30 s after {signum.name}:\n{command.text()}")
        assert_stopped(status, time.monotonic() - started, signum, command.process,
                       command.text())
    finally:
        command.close()
    rebuilt = subprocess.run(SCONS + ["fixture", "CACHE=0"], cwd=directory,
                             capture_output=True, text=True)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    load_bootable(str(layout(directory).fixture["hex"]))


@requires_third_party
@SIGNALS
def test_a_build_interrupted_while_the_precompiled_header_is_written_leaves_none(signum,
                                                                                 tmp_path):
    """The kernels' .gch (teensyml.pch) is written under a temporary name:
    a build stopped while GCC writes it leaves neither, and the next build
    builds it again and is whole."""
    third_party = layout(USE_CMSIS_NN=1).shared_objects / "third_party"
    stamp = third_party / "tflm_kernels_pch.h.stamp"
    run_scons("USE_CMSIS_NN=1", "CACHE=0")
    stamp.unlink()                              # the next build builds the .gch first
    command = Command(SCONS + ["USE_CMSIS_NN=1", "CACHE=0"], tmp_path)
    try:
        command.wait_for(r"  PCH  ", timeout=120)
        time.sleep(1.0)                         # GCC is parsing or writing
        os.killpg(command.process.pid, signum)
        status = command.process.wait(timeout=30)
        assert status == STATUS[signum], command.text()
    finally:
        command.close()
    assert [path.name for path in third_party.iterdir() if ".gch" in path.name
            and not path.name.endswith(".lock")] == []
    rebuilt = run_scons("USE_CMSIS_NN=1", "CACHE=0")
    assert "  PCH  " in rebuilt.stdout and stamp.is_file()
    assert list((ROOT / "build").rglob("*.gch")) == []
