"""`tools/emulate.py` and `scons emulate`: run a Teensy 4.0 image with no board.

Output conventions (also in docs/emulator.md):
  stdout  the firmware's console, byte for byte (with --pty: only the line
          "emulate: console on <path>")
  stderr  "emulate: ..." lines: notes, why the run stopped when that is not a
          normal end, the crash report, the counters (--stats)
  exit    0 normal end (input exhausted while the firmware waits for more,
          --until matched, WFI with nothing to wake it, reset request, the
          bootloader request: BKPT #251 after a 134-baud line coding),
          1 crash (fault or BKPT; a USB protocol or descriptor error), 2 bad usage or image, 3 time limit,
          4 instruction limit, 128 + n a signal: 130 Ctrl-C, 143 SIGTERM

Both take one Settings, built from resolved options: `scons emulate` with
Settings.from_options(values, firmware=..., elf=...); tools/emulate.py from
its flags and KEY=VALUE words (settings_from_argv), then run(settings).
"""
import dataclasses
import sys
from dataclasses import dataclass

from .. import interrupts
from ..atomic_file import write_text
from ..errors import UserError, cli
from ..option_values import CommandSettings
from ..options import OPTIONS_BY_KEY
from .machine.firmware_file import load_firmware

PREFIX = "emulate: "
TIMING_CHOICES = OPTIONS_BY_KEY["TIMING"].choices


@dataclass(frozen=True)
class Settings(CommandSettings):
    """What `scons emulate` and tools/emulate.py run, from resolved options."""
    firmware: str               # the .hex or .elf
    pty: bool
    headless: bool              # input only from `send`
    send: str                   # text to send first (escapes made real)
    expect: str                 # stop (status 0) when the console output matches
    max_seconds: float          # 0: no limit
    max_instructions: int       # 0: no limit
    stats: bool
    timing: str
    measure: bool
    between: tuple              # functions to count from entry to return
    profile: int
    wait_states: object         # TIMING=simple's: memory_map.WaitStates
    elf: str = None             # function names (default: the image, or the .elf beside it)
    pty_link: str = None        # with pty: also a symbolic link to it here
    send_file: str = None       # a file's bytes to send after `send`
    stats_json: str = None      # the counters as JSON, written at exit

    @classmethod
    def from_options(cls, values, **given):
        settings = super().from_options(values, **given)
        if "headless" in given:
            return settings
        # SEND= or EXPECT= make a script, which never reads the terminal.
        return dataclasses.replace(settings, headless=bool(
            settings.headless or settings.send or settings.expect))


def make_console(settings, stdout):
    from .peripherals.console import PtyConsole, ScriptedConsole, StdioConsole
    send = settings.send.encode("latin-1")
    if settings.send_file:
        try:
            with open(settings.send_file, "rb") as stream:
                send += stream.read()
        except OSError as error:
            raise UserError(f"Cannot read --send-file {settings.send_file}: "
                            f"{error.strerror}.") from None
    until = settings.expect or None
    if settings.pty:
        return PtyConsole(send, until, link=settings.pty_link)
    if settings.headless:
        return ScriptedConsole(send, until, stream=stdout.buffer)
    return StdioConsole(send, until)


def emulate(settings):
    """run(settings), stopped by Ctrl-C and SIGTERM: the exit status."""
    with interrupts.listening():
        return run(settings)


def run(settings):
    from .counting.report import stats_json, stats_lines
    from .machine.board import Machine
    stdout, stderr = sys.stdout, sys.stderr
    image, symbols = load_firmware(settings.firmware, settings.elf)

    def note(text):
        print(PREFIX + text, file=stderr, flush=True)

    console = make_console(settings, stdout)
    try:
        machine = Machine(image, symbols, console, settings.wait_states, settings.measure,
                          report=note, timing=settings.timing)
        for query in settings.between:
            machine.add_marker(query)
        _cable_on_sigusr1(machine)
        if settings.pty:
            print(f"{PREFIX}console on {console.path}", file=stdout, flush=True)
        stop = machine.run(settings.max_seconds or None, settings.max_instructions or None)
    finally:
        console.close()
    for text in machine.notes:
        note(text)
    if stop.crash is not None:
        for line in stop.crash.lines():
            note(line)
    elif stop.exit_status != 0 or stop.reason == "bootloader":
        note(f"stopped: {stop.message}")
    if settings.stats:
        for line in stats_lines(machine, settings.profile):
            note(line)
    if settings.stats_json:
        write_text(settings.stats_json, stats_json(machine, stop) + "\n")   # whole or absent
    return stop.exit_status


def _cable_on_sigusr1(machine):
    """`kill -USR1 <pid>` pulls the USB cable out, the next one plugs it back
    (the handler only asks: the run loop does it between ticks)."""
    import signal
    import threading
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGUSR1, lambda _signum, _frame: machine.usb.toggle_cable_later())


# --- tools/emulate.py: flags and KEY=VALUE words ---------------------------------------

@cli
def main(argv=None):
    return emulate(settings_from_argv(sys.argv[1:] if argv is None else argv))


def parser():
    import argparse

    from ..option_values import options_help
    p = argparse.ArgumentParser(
        prog="emulate.py", description="Run a Teensy 4.0 firmware image (HEX or ELF) with "
        "no board: an i.MX RT1062 emulator with a console, counters and a cycle model.",
        epilog="exit status: 0 normal end, 1 crash, 2 bad usage or image, 3 time limit, "
               "4 instruction limit, 130 Ctrl-C, 143 SIGTERM\n\nsettings (KEY=VALUE, as "
               "for `scons emulate`; the same as the flags, which they override):\n"
               + options_help(Settings.option_keys()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("firmware", help="the .hex or .elf `scons flash` would program")
    p.add_argument("--elf", help="ELF for function names (default: the image, or the .elf "
                   "next to a .hex)")
    console = p.add_argument_group("console")
    console.add_argument("--pty", action="store_true",
                         help="put the console on a pseudo-terminal and print its path")
    console.add_argument("--pty-link", metavar="PATH",
                         help="with --pty: also make PATH a symbolic link to it")
    console.add_argument("--headless", action="store_true",
                         help="do not read the terminal: input only from --send/--send-file")
    console.add_argument("--send", metavar="TEXT", default="",
                         help="bytes to send first (\\n, \\r, \\t escapes)")
    console.add_argument("--send-file", metavar="PATH", help="bytes of a file to send first")
    console.add_argument("--until", metavar="REGEX",
                         help="stop (status 0) when the console output matches")
    limits = p.add_argument_group("limits")
    limits.add_argument("--max-seconds", type=float, metavar="S",
                        help="stop with status 3 after S seconds of host time")
    limits.add_argument("--max-instructions", type=int, metavar="N",
                        help="stop with status 4 once N instructions ran (checked every "
                             "0.1 s)")
    counting = p.add_argument_group("counters")
    counting.add_argument("--stats", action="store_true",
                          help="print the counters at exit (stderr)")
    counting.add_argument("--stats-json", metavar="PATH",
                          help="write the counters as JSON to PATH at exit")
    counting.add_argument("--timing", choices=TIMING_CHOICES,
                          default=OPTIONS_BY_KEY["TIMING"].default,
                          help="cycle model: calibrated (caches, FlexSPI, dual-issue core; "
                               "the default) or simple (instructions plus wait states)")
    counting.add_argument("--measure", action="store_true",
                          help="with --timing simple: count every data access by region and "
                               "charge its wait states (slower); calibrated always does")
    counting.add_argument("--between", metavar="FUNCTION", action="append", default=[],
                          help="also count from entry to return of FUNCTION (a name such as "
                               "tflite::MicroInterpreter::Invoke, or an address), over all "
                               "its calls; repeatable")
    counting.add_argument("--profile", type=int, default=0, metavar="N",
                          help="with --stats: the N functions that ran most instructions")
    counting.add_argument("--wait-states", metavar="SPEC", default="",
                          help="override the cycle model, e.g. FLASH:30/30,OCRAM:2/2 "
                               "(fetch/data wait states per region)")
    return p


def _positive(name, value):
    if value is not None and value <= 0:
        raise UserError(f"{name} {value:g} is not valid; give a number greater than 0, or "
                        f"leave the limit out.")
    return value


# Flags that stand for an option (the others have none: --elf, --pty-link,
# --send-file, --stats-json).
FLAG_OPTIONS = {"pty": "PTY", "headless": "HEADLESS", "send": "SEND", "until": "EXPECT",
                "max_seconds": "MAX_SECONDS", "max_instructions": "MAX_INSTRUCTIONS",
                "stats": "STATS", "timing": "TIMING", "measure": "MEASURE",
                "profile": "PROFILE", "wait_states": "WAIT_STATES"}


def settings_from_argv(argv):
    """The Settings of tools/emulate.py's command line: flags, and KEY=VALUE
    words (`scons emulate`'s options) that override them."""
    from ..option_values import from_assignments
    from ..options import resolve
    words = [word for word in argv if "=" in word and word.split("=", 1)[0].isupper()
             and not word.startswith("-")]
    args = parser().parse_args([word for word in argv if word not in words])
    _positive("--max-seconds", args.max_seconds)
    _positive("--max-instructions", args.max_instructions)
    given = from_assignments(words, Settings.option_keys())     # the words alone
    flags = {key: getattr(args, name) for name, key in FLAG_OPTIONS.items()
             if getattr(args, name) is not None}
    values = resolve({**flags, **dict(word.split("=", 1) for word in words)})
    return Settings.from_options(
        values, firmware=args.firmware, elf=args.elf, pty_link=args.pty_link,
        send_file=args.send_file, stats_json=args.stats_json,
        between=tuple(args.between) + values["BETWEEN"],      # the flags' and BETWEEN='s
        # --send reads the terminal after it unless --headless; SEND= is a script.
        headless=args.headless or Settings.from_options(given, firmware="").headless)


if __name__ == "__main__":
    sys.exit(main())
