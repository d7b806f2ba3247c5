"""`scons monitor`: the serial console to the board, on pyserial.

Interactive: keys go to the board, what it sends comes to the screen, Ctrl+]
quits (as in miniterm, whose terminal handling and end-of-line translations
this uses). Scripted, for CI and benchmarks (SEND= and/or EXPECT=): send a
line, print what comes until a regular expression matches or TIMEOUT passes;
status 0 only if it matched. Both modes survive the port going away
(serial_link), can stamp received lines with the time (TIMESTAMPS=1), copy the
session to a file (LOG=) and decode fault addresses with the ELF (addr2line).

The port is only a path: a USB-UART adapter, a board's USB serial, or the
pseudo-terminal of `scons emulate PTY=1` are all monitored the same way.

SIGTERM, SIGHUP and a Ctrl-C not typed into the console (interactive mode
sends it to the board) stop either mode: the session ends with a line saying
so (in the log too) and the status is 128 + the signal (teensyml.interrupts).
"""
import codecs
import datetime
import os
import re
import select
import sys
import threading
import time
from dataclasses import dataclass

from serial.tools import miniterm

from . import interrupts
from .errors import UserError
from .option_values import CommandSettings
from .serial_link import SerialLink, board_locator, pick_port, wait_for_candidates

EXIT_KEY = "\x1d"          # Ctrl+], as miniterm
LINE = re.compile(r"[^\n]*\n|[^\n]+")
LINE_GRACE = 0.5           # seconds scripted mode waits for the end of the matching line


class CrLf(miniterm.CRLF):
    """EOL=crlf: Enter sends CR LF (miniterm's), and a received CR LF becomes
    one newline, so screen and log see plain lines. A CR ending a chunk waits
    for the next one, which may start with its LF."""

    def __init__(self):
        self._cr = ""

    def rx(self, text):
        text = self._cr + text
        self._cr = "\r" if text.endswith("\r") else ""
        return text[:len(text) - len(self._cr)].replace("\r\n", "\n")


EOL_TRANSFORMATIONS = {**miniterm.EOL_TRANSFORMATIONS, "crlf": CrLf}


class Session:
    """Everything the monitor shows, to the screen and to the log; received
    lines get their timestamp and, once complete, their decoded addresses."""

    def __init__(self, out, log=None, timestamps=False, decoder=None):
        self._out, self._log = out, log
        self._timestamps, self._decoder = timestamps, decoder
        self._lock = threading.Lock()
        self._line = ""
        self._at_line_start = True

    def _emit(self, text):
        self._out.write(text)
        self._out.flush()
        if self._log is not None:
            self._log.write(text)
            self._log.flush()
        self._at_line_start = text.endswith("\n")

    def received(self, text):
        with self._lock:
            for piece in LINE.findall(text):
                if self._timestamps and self._at_line_start:
                    self._emit(datetime.datetime.now().strftime("[%H:%M:%S.%f")[:-3] + "] ")
                self._emit(piece)
                self._line += piece
                if piece.endswith("\n"):
                    notes = self._decoder.decode(self._line) if self._decoder else []
                    self._line = ""
                    for note in notes:
                        self._emit(note + "\n")

    def notice(self, text):
        """A line of the monitor's own, on a line of its own."""
        with self._lock:
            if not self._at_line_start:
                self._emit("\n")
            self._emit(text + "\n")

    def echo(self, text):
        with self._lock:
            self._emit(text)


class Monitor:
    """A SerialLink and a Session joined by the end-of-line translation."""

    def __init__(self, link, session, eol="crlf"):
        self.link, self.session = link, session
        self.transform = EOL_TRANSFORMATIONS[eol]()
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.stop = threading.Event()

    def pump(self, deadline=None):
        """Show what one read brings (reconnecting when needed); return it."""
        data = self.link.read(self.stop, deadline)
        text = self.transform.rx(self._decoder.decode(data)) if data else ""
        if text:
            self.session.received(text)
        return text

    def send(self, text):
        if self.link.write(self.transform.tx(text).encode("utf-8")):
            return True
        self.session.notice(f"--- not sent: {self.link.port} is not connected")
        return False


def scripted(monitor, send, pattern, timeout):
    """Send `send` as a line, show what comes until `pattern` matches it
    (0) or `timeout` s pass (1). Only answers count: input pending before the
    line is sent is dropped."""
    started = time.monotonic()
    deadline = started + timeout
    port = monitor.link.port
    if not monitor.link.connect(monitor.stop, deadline):
        if not monitor.stop.is_set():
            monitor.session.notice(f"--- {port} did not appear within {timeout:g} s")
        return 1
    if send:
        monitor.link.discard_input()
        monitor.send(send if send.endswith("\n") else send + "\n")
    received = ""
    while time.monotonic() < deadline and not monitor.stop.is_set():
        received += monitor.pump(deadline)
        if pattern is not None and pattern.search(received):
            # Show the rest of the matching line, and so its decoded addresses.
            grace = time.monotonic() + LINE_GRACE
            while not received.endswith("\n") and time.monotonic() < grace:
                received += monitor.pump(grace)
            monitor.session.notice(f"--- /{pattern.pattern}/ arrived after "
                                   f"{time.monotonic() - started:.1f} s")
            return 0
    if pattern is None or monitor.stop.is_set():
        return 0
    monitor.session.notice(f"--- /{pattern.pattern}/ did not arrive within {timeout:g} s")
    return 1


def _read_until_stopped(monitor, failures):
    try:
        while not monitor.stop.is_set():
            monitor.pump()
    except UserError as error:
        failures.append(error)
        monitor.stop.set()


def _keys(stop):
    """Text typed on stdin, as it comes, until `stop` or end of input."""
    descriptor = sys.stdin.fileno()
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    while not stop.is_set():
        ready, _, _ = select.select([descriptor], [], [], 0.1)
        if ready:
            data = os.read(descriptor, 1024)
            if not data:
                return
            yield decoder.decode(data)


def interactive(monitor, echo=False, banner=""):
    """Keys to the board, its output to the screen, until Ctrl+]."""
    console = miniterm.Console()          # restores the terminal at exit too
    failures = []
    reader = threading.Thread(target=_read_until_stopped, args=(monitor, failures),
                              daemon=True)
    # The banner comes once keys no longer echo: anything typed after it goes
    # to the board only.
    console.setup()
    try:
        if banner:
            monitor.session.notice(banner)
        reader.start()
        for text in _keys(monitor.stop):
            if EXIT_KEY in text:
                text = text[:text.index(EXIT_KEY)]
                monitor.stop.set()
            if text and echo:
                monitor.session.echo(monitor.transform.echo(text))
            if text:
                monitor.send(text)
    finally:
        monitor.stop.set()
        reader.join(2)
        console.cleanup()
    if failures:
        raise failures[0]
    if interrupts.received() is None:
        monitor.session.notice("--- exit")
    return 0


def _interactive_session(monitor, settings):
    # Open the port now when it is there, so keys typed after the banner
    # reach it; otherwise the reader waits for it.
    monitor.link.connect(monitor.stop, deadline=time.monotonic())
    banner = (f"--- monitor on {monitor.link.port} at {settings.baud} baud | quit: "
              f"{miniterm.key_description(EXIT_KEY)} | EOL {settings.eol} | echo "
              f"{'on' if settings.echo else 'off'}"
              f"{' | log ' + settings.log if settings.log else ''} ---")
    return interactive(monitor, settings.echo, banner)


def _stopped_by_signal(session):
    """128 + the signal that stopped the session, said on screen and in the
    log; None when none did."""
    signum = interrupts.received()
    if signum is None:
        return None
    session.notice(f"--- {interrupts.Interrupted(signum)}")
    return interrupts.exit_status(signum)


def _open_log(path):
    if not path:
        return None
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as error:
        raise UserError(f"LOG={path} cannot be written: {error.strerror}. Give a file in "
                        f"a directory you can write to.") from None


@dataclass(frozen=True)
class Settings(CommandSettings):
    """What `scons monitor` and tools/monitor.py do, from resolved options."""
    port: str                   # "": the only candidate
    baud: int
    eol: str
    echo: bool
    timestamps: bool
    log: str                    # a file to copy the session to, or ""
    send: str                   # scripted mode: the line to send (escapes made real)
    expect: str                 # scripted mode: the regular expression to wait for
    timeout: float              # scripted mode: seconds

    @property
    def scripted(self):
        return bool(self.send or self.expect)


def run(settings, elf=None, out=None):
    """The monitor with `settings`; `elf` decodes fault addresses. Returns the
    exit status. The option table checked every setting (EXPECT's regular
    expression too) before any port opens."""
    with interrupts.listening():
        return _run(settings, elf, out)


def _run(settings, elf, out):
    from .image.addr2line import AddressDecoder
    out = out or sys.stdout
    candidates = [] if settings.port else wait_for_candidates(
        lambda text: print(text, file=out, flush=True))
    port = pick_port(settings.port, candidates)
    if not settings.scripted and not sys.stdin.isatty():
        raise UserError("The interactive monitor needs a terminal on its input. In scripts "
                        "use the scripted mode: SEND=<line> EXPECT=<regex> TIMEOUT=<s>.")
    decoder = AddressDecoder(elf) if elf else None
    log = _open_log(settings.log)
    session = Session(out, log, settings.timestamps, decoder)
    link = SerialLink(port, settings.baud, session.notice, board_locator(port, candidates))
    monitor = Monitor(link, session, settings.eol)
    try:
        # A signal ends the loops as Ctrl+] does; then the session says why.
        with interrupts.when_received(lambda _signum: monitor.stop.set()):
            if settings.scripted:
                pattern = re.compile(settings.expect) if settings.expect else None
                status = scripted(monitor, settings.send, pattern, settings.timeout)
            else:
                status = _interactive_session(monitor, settings)
        return _stopped_by_signal(session) or status
    finally:
        link.close()
        if log is not None:
            log.close()
