"""Scripted monitor (SEND=, EXPECT=, TIMEOUT=) against a pty peer: exit 0
only when the pattern came; timestamps, the log, and bad settings."""
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pty_peer import PtyPeer

MONITOR = Path(__file__).resolve().parent.parent / "tools" / "monitor.py"


def run_monitor(*settings, timeout=30):
    return subprocess.run([sys.executable, str(MONITOR), *settings], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=timeout)


def digit_classifier(line):
    if line.isdigit():
        return b"running inference on sample " + line + b"\r\npredicted: 7 (score 0.98)\r\n"
    return b"unknown command\r\n"


@pytest.fixture
def port(tmp_path):
    return tmp_path / "ttyTEENSY"


def test_pattern_found(port, tmp_path):
    peer = PtyPeer(port, answer=digit_classifier)
    log = tmp_path / "scripted.log"
    try:
        result = run_monitor(f"PORT={port}", "SEND=2", "EXPECT=predicted: \\d", "TIMEOUT=10",
                             f"LOG={log}")
    finally:
        peer.close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert peer.received == b"2\r\n"
    assert "running inference on sample 2\npredicted: 7 (score 0.98)\n" in result.stdout
    assert re.search(r"--- /predicted: \\d/ arrived after \d+\.\d s", result.stdout)
    assert log.read_text() == result.stdout


def test_timeout_without_the_pattern(port):
    peer = PtyPeer(port, answer=digit_classifier)
    started = time.monotonic()
    try:
        result = run_monitor(f"PORT={port}", "SEND=hello", "EXPECT=predicted", "TIMEOUT=1")
    finally:
        peer.close()
    assert result.returncode == 1
    assert 1 <= time.monotonic() - started < 6
    assert "unknown command" in result.stdout          # what came is printed
    assert "--- /predicted/ did not arrive within 1 s" in result.stdout


def test_send_escapes_and_timestamps(port):
    peer = PtyPeer(port, answer=digit_classifier)
    try:
        result = run_monitor(f"PORT={port}", "SEND=4\\n5", "EXPECT=sample 5", "TIMEOUT=10",
                             "TIMESTAMPS=1")
    finally:
        peer.close()
    assert result.returncode == 0
    assert peer.received == b"4\r\n5\r\n"
    stamped = re.findall(r"^\[\d\d:\d\d:\d\d\.\d{3}\] (.*)$", result.stdout, re.MULTILINE)
    assert "running inference on sample 4" in stamped and "predicted: 7 (score 0.98)" in stamped
    assert all(line.startswith(("[", "---")) for line in result.stdout.splitlines())


def test_answers_only_count_after_the_send(port):
    """Output waiting from before the command does not satisfy EXPECT."""
    peer = PtyPeer(port, answer=lambda line: b"busy\r\n")
    peer.send(b"predicted: 3 (left over from an earlier run)\r\n")
    try:
        result = run_monitor(f"PORT={port}", "SEND=2", "EXPECT=predicted", "TIMEOUT=1")
    finally:
        peer.close()
    assert result.returncode == 1 and "left over" not in result.stdout


def test_expect_without_send_sees_what_the_board_prints(port):
    peer = PtyPeer(port)
    timer = threading.Timer(0.5, peer.send, [b"fixture: boot ok data ok\r\n"])
    timer.start()
    try:
        result = run_monitor(f"PORT={port}", "EXPECT=boot ok", "TIMEOUT=10")
    finally:
        timer.join()
        peer.close()
    assert result.returncode == 0 and "fixture: boot ok data ok" in result.stdout


def test_port_appearing_late_is_waited_for(port):
    peers = []
    timer = threading.Timer(0.8, lambda: peers.append(PtyPeer(port, answer=digit_classifier)))
    timer.start()
    try:
        result = run_monitor(f"PORT={port}", "SEND=1", "EXPECT=predicted", "TIMEOUT=10")
    finally:
        timer.join()
        for peer in peers:
            peer.close()
    assert result.returncode == 0
    assert f"--- waiting for {port} to appear" in result.stdout


def test_port_never_appearing(port):
    result = run_monitor(f"PORT={port}", "SEND=1", "EXPECT=predicted", "TIMEOUT=0.5")
    assert result.returncode == 1
    assert f"--- {port} did not appear within 0.5 s" in result.stdout


@pytest.mark.parametrize("setting, message", [
    ("EXPECT=predicted (", "EXPECT=predicted ( is not a valid regular expression"),
    ("BAUD=fast", "BAUD=fast is not valid; give a whole number greater than 0"),
    ("TIMEOUT=soon", "TIMEOUT=soon is not valid; give a number of seconds greater than 0"),
    ("EOL=crcr", "EOL=crcr is not valid; choose one of: crlf, cr, lf"),
    ("FLASHER=halfkay", "FLASHER=halfkay is not an option of this command"),
])
def test_bad_settings_are_one_paragraph(port, setting, message):
    peer = PtyPeer(port)
    try:
        result = run_monitor(f"PORT={port}", "SEND=1", setting)
    finally:
        peer.close()
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {message}")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert peer.received == b""                 # nothing was sent


def test_unwritable_log_is_refused_before_sending(port, tmp_path):
    peer = PtyPeer(port)
    try:
        result = run_monitor(f"PORT={port}", "SEND=1", "EXPECT=x",
                             f"LOG={tmp_path}/missing/dir/log.txt")
    finally:
        peer.close()
    assert result.returncode == 2 and "cannot be written" in result.stderr
    assert peer.received == b""
