"""The port goes away and comes back (board reset, replugged adapter, an
emulator restarted): the monitor says so, waits, reconnects, and carries on,
without a traceback."""
import re
import subprocess
import sys
import threading
from pathlib import Path

from pty_peer import PtyPeer, Terminal

MONITOR = Path(__file__).resolve().parent.parent / "tools" / "monitor.py"
EXIT_KEY = "\x1d"


def answering(name):
    return lambda line: f"{name} got [".encode() + line + b"]\r\n"


def test_port_removed_and_recreated(tmp_path):
    port, log = tmp_path / "ttyUSB-link", tmp_path / "session.log"
    first = PtyPeer(port, answer=answering("first"))
    terminal = Terminal([sys.executable, str(MONITOR), f"PORT={port}", f"LOG={log}"])
    second = None
    try:
        terminal.wait_for("quit: Ctrl")
        terminal.type("1\r")
        terminal.wait_for(r"first got \[1\]")
        first.close()                                   # unplugged: link and pty gone
        terminal.wait_for(re.escape(f"--- {port} went away; waiting for it to come back"))
        second = PtyPeer(port, answer=answering("second"))
        terminal.wait_for(re.escape(f"--- reconnected to {port}"))
        terminal.type("2\r")
        terminal.wait_for(r"second got \[2\]")
        assert second.received == b"2\r\n"
        terminal.type(EXIT_KEY)
        assert terminal.wait() == 0
        assert "Traceback" not in terminal.text()
    finally:
        terminal.close()
        first.close()
        if second:
            second.close()
    session = log.read_text()
    order = ["first got [1]", "went away", "reconnected", "second got [2]", "--- exit"]
    positions = [session.index(text) for text in order]
    assert positions == sorted(positions)


def test_path_pointing_at_another_device_is_followed(tmp_path):
    """The old device stays open (no read error), but the port path now names
    a new one, as when an adapter comes back under the same name."""
    port = tmp_path / "ttyUSB-link"
    first = PtyPeer(port, answer=answering("first"))
    terminal = Terminal([sys.executable, str(MONITOR), f"PORT={port}"])
    second = None
    try:
        terminal.wait_for("quit: Ctrl")
        first.unlink()
        second = PtyPeer(port, answer=answering("second"))
        terminal.wait_for(re.escape(f"--- reconnected to {port}"))
        terminal.type("3\r")
        terminal.wait_for(r"second got \[3\]")
        assert first.received == b""
        terminal.type(EXIT_KEY)
        assert terminal.wait() == 0
    finally:
        terminal.close()
        first.close()
        if second:
            second.close()


def test_scripted_mode_rides_out_a_reset(tmp_path):
    """The board resets while the benchmark runs: the answer comes on the new
    connection and still counts."""
    port = tmp_path / "ttyUSB-link"
    first = PtyPeer(port)
    peers = [first]

    def reset(line):
        def come_back():
            first.close()
            peers.append(PtyPeer(port, answer=None))
            threading.Timer(0.5, peers[-1].send, [b"after reset: predicted: 9\r\n"]).start()
        threading.Timer(0.2, come_back).start()
        return b"resetting\r\n"

    first.answer = reset
    try:
        result = subprocess.run([sys.executable, str(MONITOR), f"PORT={port}", "SEND=r",
                                 "EXPECT=predicted: 9", "TIMEOUT=10"],
                                capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                timeout=30)
    finally:
        for peer in peers:
            peer.close()
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout
    assert lines.index("resetting") < lines.index("went away") < \
        lines.index("reconnected") < lines.index("after reset: predicted: 9")
