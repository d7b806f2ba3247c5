"""The host end of the emulated LPUART2: where its bytes go and come from.

  ScriptedConsole  bytes given up front (--send); output to a stream or only
                   kept; input is exhausted once the firmware has read it all
  StdioConsole     the terminal: keys go to the firmware as typed (cbreak
                   mode, Ctrl-C still stops), output to stdout; with a pipe
                   on stdin, its end of file exhausts the input
  PtyConsole       a pseudo-terminal in raw mode; any serial program (scons
                   monitor PORT=..., pyserial) opens its path

Every console keeps a transcript and can stop the run when the output matches
a regular expression (--until).
"""
import os
import re
import select
import sys
import termios
import time
import tty

TRANSCRIPT_LIMIT = 1 << 20
BAUD_RATES = {getattr(termios, name): int(name[1:]) for name in dir(termios)
              if name[0] == "B" and name[1:].isdigit()}
PTY_BACKLOG_LIMIT = 1 << 20


class Console:
    def __init__(self, send=b"", until=None):
        self._input = bytearray(send)
        self._output = bytearray()
        self.transcript = bytearray()
        self._until = re.compile(until.encode() if isinstance(until, str) else until) \
            if until else None
        self._searched = 0
        self._expected_from = 0
        self.matched = None           # the match object once `until` matched
        self.notes = []               # one-line messages for the user

    # --- the UART side --------------------------------------------------------------
    def transmit(self, byte):
        self._output.append(byte)
        self.transcript.append(byte)
        if byte == 0x0A or len(self._output) >= 4096:
            self.flush()

    def receive(self, count):
        if len(self._input) < count:
            self._input += self._read_host()
        taken = bytes(self._input[:count])
        del self._input[:count]
        return taken

    def exhausted(self):
        """True when no byte will ever come again."""
        if not self._input:
            self._input += self._read_host()
        return not self._input and self._host_finished()

    def wait(self, timeout):
        """Block until the host may have sent something, or `timeout` seconds."""
        if not self._input:
            self._wait_host(timeout)

    def send(self, data):
        """Queue bytes as if the host had sent them."""
        self._input += data

    def expect(self, pattern):
        """Stop the next run when output from now on matches `pattern`
        (bytes or str regular expression); None: no pattern."""
        self._until = re.compile(pattern.encode() if isinstance(pattern, str) else pattern) \
            if pattern else None
        self.matched = None
        self._searched = self._expected_from = len(self.transcript)

    def flush(self):
        if self._output:
            self._write(bytes(self._output))
            self._output.clear()
        self._check_until()
        if len(self.transcript) > TRANSCRIPT_LIMIT:
            cut = len(self.transcript) - TRANSCRIPT_LIMIT // 2
            del self.transcript[:cut]
            self._searched = max(0, self._searched - cut)
            self._expected_from = max(0, self._expected_from - cut)

    def text(self):
        return self.transcript.decode(errors="replace")

    def _check_until(self):
        if self._until is None or self.matched:
            return
        # Re-search a little before the new bytes, for matches across flushes
        # (never before the point expect() was called).
        start = max(self._expected_from, self._searched - 256)
        self.matched = self._until.search(self.transcript, start)
        self._searched = len(self.transcript)

    def close(self):
        self.flush()

    def line_rate(self):
        """The baud rate the host side set (a USB serial port passes it on as
        SET_LINE_CODING), or None when there is no such setting."""
        return None

    def cable(self, attached):
        """The USB cable was pulled out (False) or plugged back (True)."""

    # --- the host side: override ---------------------------------------------------------
    def _read_host(self):
        return b""

    def _host_finished(self):
        return True

    def _wait_host(self, timeout):
        pass

    def _write(self, data):
        pass


class ScriptedConsole(Console):
    """Input given up front; output to `stream` (a binary file) if any."""

    def __init__(self, send=b"", until=None, stream=None):
        super().__init__(send, until)
        self.stream = stream

    def _write(self, data):
        if self.stream is not None:
            self.stream.write(data)
            self.stream.flush()


class StdioConsole(Console):
    def __init__(self, send=b"", until=None, stdin=None, stdout=None):
        super().__init__(send, until)
        self._in = (stdin or sys.stdin).fileno()
        self._out = (stdout or sys.stdout).fileno()
        self._eof = False
        self._saved_mode = None
        if os.isatty(self._in):
            self._saved_mode = termios.tcgetattr(self._in)
            tty.setcbreak(self._in)

    def _read_host(self):
        if self._eof or not select.select([self._in], [], [], 0)[0]:
            return b""
        data = os.read(self._in, 4096)
        self._eof = not data
        return data

    def _host_finished(self):
        return self._eof

    def _wait_host(self, timeout):
        if not self._eof:
            select.select([self._in], [], [], timeout)

    def _write(self, data):
        while data:
            data = data[os.write(self._out, data):]

    def close(self):
        super().close()
        if self._saved_mode is not None:
            termios.tcsetattr(self._in, termios.TCSADRAIN, self._saved_mode)
            self._saved_mode = None


class PtyConsole(Console):
    """A pseudo-terminal; `path` is the device a serial program opens. The
    emulator keeps the slave side open itself, so clients may come and go.
    Output nobody reads yet waits in the terminal, then in a backlog."""

    def __init__(self, send=b"", until=None, link=None):
        super().__init__(send, until)
        self.link = link
        self._backlog = bytearray()
        self._open()

    def _open(self):
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        # The console's rate, not the pty's 38400 default: a USB host would pass
        # that on (SET_LINE_CODING) before any program set a rate.
        attributes = termios.tcgetattr(self._slave)
        attributes[4] = attributes[5] = termios.B115200
        termios.tcsetattr(self._slave, termios.TCSANOW, attributes)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        if self.link:
            if os.path.lexists(self.link):
                os.unlink(self.link)
            os.symlink(self.path, self.link)

    def cable(self, attached):
        """Unplugged, the terminal and its link go away (a serial program sees
        its port vanish, as /dev/ttyACM0 does); plugged, a new one comes, at
        the same link. What was in flight is lost."""
        if attached and self._master is None:
            self._open()
            self.notes.append(f"USB cable plugged back: console on {self.path}")
        elif not attached and self._master is not None:
            self._close_terminal()
            self._backlog.clear()
            self._input.clear()

    def _read_host(self):
        if self._master is None:
            return b""
        try:
            return os.read(self._master, 4096)
        except (BlockingIOError, OSError):
            return b""

    def _host_finished(self):
        return False

    def line_rate(self):
        # What a serial program set with tcsetattr, as the USB host's driver sees it.
        if self._slave is None:
            return None
        try:
            speed = termios.tcgetattr(self._slave)[5]
        except termios.error:
            return None
        return BAUD_RATES.get(speed)

    def _wait_host(self, timeout):
        if self._master is None:
            time.sleep(timeout)
            return
        select.select([self._master], [], [], timeout)
        self._drain()

    def _write(self, data):
        self._backlog += data
        if len(self._backlog) > PTY_BACKLOG_LIMIT:
            del self._backlog[:len(self._backlog) - PTY_BACKLOG_LIMIT]
            if not self.notes:
                self.notes.append("console output nobody read was dropped "
                                  f"(kept the last {PTY_BACKLOG_LIMIT // 1024} KB)")
        self._drain()

    def _drain(self):
        while self._backlog and self._master is not None:
            try:
                written = os.write(self._master, self._backlog)
            except (BlockingIOError, OSError):
                return
            del self._backlog[:written]

    def close(self):
        super().close()
        self._close_terminal()

    def _close_terminal(self):
        if self.link and os.path.islink(self.link):
            os.unlink(self.link)
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None
