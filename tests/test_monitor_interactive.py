"""The interactive monitor in a pseudo-terminal, against a pty peer: keys go
out to the board with end-of-line translation, answers come back, Ctrl+]
quits, the log holds the session."""
import sys
from pathlib import Path

import pytest

from pty_peer import PtyPeer, Terminal

MONITOR = Path(__file__).resolve().parent.parent / "tools" / "monitor.py"
EXIT_KEY = "\x1d"


def echo_peer(link):
    return PtyPeer(link, answer=lambda line: b"board got [" + line + b"]\r\n")


@pytest.fixture
def port(tmp_path):
    return tmp_path / "ttyTEENSY"


def monitor(*settings):
    return Terminal([sys.executable, str(MONITOR), *settings])


def test_keys_out_answers_back_and_exit_key(port, tmp_path):
    peer = echo_peer(port)
    log = tmp_path / "session.log"
    terminal = monitor(f"PORT={port}", f"LOG={log}")
    try:
        terminal.wait_for(r"--- monitor on .*ttyTEENSY at 115200 baud \| quit: Ctrl\+\]")
        terminal.type("h")
        terminal.type("i\r")                           # Enter on a terminal is CR
        terminal.wait_for(r"board got \[hi\]\r\n")
        assert peer.received == b"hi\r\n"            # EOL=crlf: Enter sends CR LF
        peer.send(b"unprompted line\r\n")
        terminal.wait_for("unprompted line")
        terminal.type(EXIT_KEY)
        assert terminal.wait() == 0
        assert "--- exit" in terminal.text()
        assert "Traceback" not in terminal.text()
    finally:
        terminal.close()
        peer.close()
    session = log.read_text()
    assert "--- monitor on" in session and "board got [hi]\n" in session
    assert "unprompted line\n" in session and session.endswith("--- exit\n")


def test_eol_lf_and_local_echo(port):
    peer = PtyPeer(port)                             # a board that never answers
    terminal = monitor(f"PORT={port}", "EOL=lf", "ECHO=1")
    try:
        terminal.wait_for("echo on")
        terminal.type("typed\r")
        terminal.wait_for(r"typed\r\n")              # shown although nobody answered
        peer.reader.wait_for("typed\n")
        assert peer.received == b"typed\n"
        terminal.type(EXIT_KEY)
        assert terminal.wait() == 0
    finally:
        terminal.close()
        peer.close()


def test_no_local_echo_by_default(port):
    peer = PtyPeer(port)
    terminal = monitor(f"PORT={port}")
    try:
        terminal.wait_for("echo off")
        terminal.type("secret\r")
        peer.reader.wait_for("secret\r\n")
        terminal.type(EXIT_KEY)
        assert terminal.wait() == 0
        assert "secret" not in terminal.text()
    finally:
        terminal.close()
        peer.close()


def test_interactive_needs_a_terminal(port):
    import subprocess
    peer = PtyPeer(port)
    try:
        result = subprocess.run([sys.executable, str(MONITOR), f"PORT={port}"],
                                stdin=subprocess.PIPE, capture_output=True, text=True)
    finally:
        peer.close()
    assert result.returncode == 2
    assert "needs a terminal" in result.stderr and "SEND=" in result.stderr
    assert "Traceback" not in result.stderr
