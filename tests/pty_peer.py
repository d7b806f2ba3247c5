"""Pseudo-terminals for the monitor tests: the board end of a serial line,
and the user's terminal the monitor runs in.

PtyPeer plays the board: a pty whose slave the monitor opens through a
symlink (the PORT path), so a test can remove the port and bring a new one
up at the same path, as a USB-UART adapter does when replugged. Terminal runs
a command with a pty as its stdin/stdout/stderr, as a user's terminal would.
Any other program that serves a pty (the emulator) can take PtyPeer's place.
"""
import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import threading
import time
import tty


class Reader:
    """Collects what arrives on a pty master in a background thread."""

    def __init__(self, master, on_data=None):
        self.master, self.on_data = master, on_data
        self.data = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.master], [], [], 0.05)
                if not ready:
                    continue
                chunk = os.read(self.master, 4096)
            except OSError:          # the other side closed (EIO) or we did
                return
            if not chunk:
                return
            with self._lock:
                self.data += chunk
            if self.on_data:
                self.on_data(chunk)

    def text(self):
        with self._lock:
            return self.data.decode("utf-8", "replace")

    def wait_for(self, pattern, timeout=10.0):
        """The match of regex `pattern` in what arrived, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.text())
            if match:
                return match
            if time.monotonic() >= deadline:
                raise AssertionError(f"{pattern!r} did not arrive within {timeout} s; got:\n"
                                     f"{self.text()}")
            time.sleep(0.02)

    def stop(self):
        self._stop.set()
        self._thread.join(2)


class PtyPeer:
    """The board end of a serial port at `link`. Each line it receives
    (ended by \\n) is passed to `answer(line) -> bytes`, whose result is sent
    back."""

    def __init__(self, link, answer=None):
        self.link = str(link)
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)            # no echo before the monitor configures it
        self.device = os.ttyname(self._slave)
        # Holding the slave open keeps the master readable (no EIO) between the
        # monitor's connections.
        self.answer = answer
        self._pending = b""
        self.reader = Reader(self.master, self._on_data)
        os.symlink(self.device, self.link)

    def _on_data(self, chunk):
        if self.answer is None:
            return
        self._pending += chunk
        while b"\n" in self._pending:
            line, self._pending = self._pending.split(b"\n", 1)
            reply = self.answer(line.rstrip(b"\r"))
            if reply:
                self.send(reply)

    @property
    def received(self):
        return bytes(self.reader.data)

    def send(self, data):
        os.write(self.master, data)

    def unlink(self):
        if os.path.lexists(self.link):
            os.unlink(self.link)

    def close(self):
        """The port goes away: the link is removed and the pty closed."""
        self.unlink()
        self.reader.stop()
        for descriptor in (self.master, self._slave):
            try:
                os.close(descriptor)
            except OSError:
                pass


class Terminal:
    """`command` running in a pseudo-terminal, as in a user's terminal window."""

    def __init__(self, command, cwd=None, env=None):
        self.master, slave = os.openpty()
        # A new pty is 0x0; programs size their output (progress bars) to it.
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        self.process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave,
                                        cwd=cwd, env=env, start_new_session=True)
        os.close(slave)
        self.reader = Reader(self.master)

    def type(self, text):
        os.write(self.master, text.encode())

    def wait_for(self, pattern, timeout=10.0):
        return self.reader.wait_for(pattern, timeout)

    def text(self):
        return self.reader.text()

    def wait(self, timeout=10.0):
        status = self.process.wait(timeout)
        time.sleep(0.1)                   # let the reader drain the last output
        return status

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.reader.stop()
        os.close(self.master)
