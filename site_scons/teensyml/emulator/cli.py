"""`tools/emulate.py` and `scons emulate`: run a Teensy 4.0 image with no board.

Output conventions (also in docs/emulator.md):
  stdout  the firmware's console, byte for byte (with --pty: only the line
          "emulate: console on <path>")
  stderr  "emulate: ..." lines: notes, why the run stopped when that is not a
          normal end, the crash report, the counters (--stats)
  exit    0 normal end (input exhausted while the firmware waits for more,
          --until matched, WFI with nothing to wake it, reset request),
          1 crash (fault or BKPT), 2 bad usage or image, 3 time limit,
          4 instruction limit, 128 + n a signal: 130 Ctrl-C, 143 SIGTERM
"""
import argparse
import sys

from .. import interrupts
from ..atomic_file import write_text
from ..errors import UserError, cli
from ..option_values import unescape
from ..options import OPTIONS_BY_KEY
from .firmware_file import load_firmware

PREFIX = "emulate: "
TIMING_CHOICES = OPTIONS_BY_KEY["TIMING"].choices


def make_console(args, stdout):
    from .console import PtyConsole, ScriptedConsole, StdioConsole
    send = unescape(args.send).encode("latin-1") if args.send else b""
    if args.send_file:
        try:
            with open(args.send_file, "rb") as stream:
                send += stream.read()
        except OSError as error:
            raise UserError(f"Cannot read --send-file {args.send_file}: "
                            f"{error.strerror}.") from None
    if args.pty:
        return PtyConsole(send, args.until, link=args.pty_link)
    if args.headless:
        return ScriptedConsole(send, args.until, stream=stdout.buffer)
    return StdioConsole(send, args.until)


def parser():
    from ..option_values import options_help
    p = argparse.ArgumentParser(
        prog="emulate.py", description="Run a Teensy 4.0 firmware image (HEX or ELF) with "
        "no board: an i.MX RT1062 emulator with a console, counters and a cycle model.",
        epilog="exit status: 0 normal end, 1 crash, 2 bad usage or image, 3 time limit, "
               "4 instruction limit, 130 Ctrl-C, 143 SIGTERM\n\nsettings (KEY=VALUE, as "
               "for `scons emulate`; the same as the flags):\n" + options_help(option_keys()),
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


@cli
def main(argv=None):
    with interrupts.listening():
        return run(argv)


def run(argv):
    from .counters import WaitStates
    from .machine import Machine
    from .report import stats_json, stats_lines
    stdout, stderr = sys.stdout, sys.stderr
    args = parser().parse_args(expand_assignments(sys.argv[1:] if argv is None else argv))
    _positive("--max-seconds", args.max_seconds)
    _positive("--max-instructions", args.max_instructions)
    if args.until:
        import re
        try:
            re.compile(args.until)
        except re.error as error:
            raise UserError(f"--until {args.until!r} is not a valid regular expression "
                            f"({error}).") from None
    wait_states = WaitStates.parse(args.wait_states)
    image, symbols = load_firmware(args.firmware, args.elf)

    def note(text):
        print(PREFIX + text, file=stderr, flush=True)

    console = make_console(args, stdout)
    try:
        machine = Machine(image, symbols, console, wait_states, args.measure, report=note,
                          timing=args.timing)
        for query in args.between:
            machine.add_marker(query)
        if args.pty:
            print(f"{PREFIX}console on {console.path}", file=stdout, flush=True)
        stop = machine.run(args.max_seconds, args.max_instructions)
    finally:
        console.close()
    for text in machine.notes:
        note(text)
    if stop.crash is not None:
        for line in stop.crash.lines():
            note(line)
    elif stop.exit_status != 0:
        note(f"stopped: {stop.message}")
    if args.stats:
        for line in stats_lines(machine, args.profile):
            note(line)
    if args.stats_json:
        write_text(args.stats_json, stats_json(machine, stop) + "\n")   # whole or absent
    return stop.exit_status


def option_keys():
    from ..option_values import keys_of
    return keys_of("emulate") + ("SEND", "EXPECT")


def expand_assignments(argv):
    """KEY=VALUE words (the `scons emulate` options) as command-line flags."""
    from ..option_values import from_assignments
    words = [word for word in argv if "=" in word and word.split("=", 1)[0].isupper()
             and not word.startswith("-")]
    if not words:
        return list(argv)
    rest = [word for word in argv if word not in words]
    return rest + options_argv(from_assignments(words, option_keys()), None)[1:]


def options_argv(values, firmware):
    """The command line of `scons emulate` from the option table's values."""
    from ..option_values import option_value
    argv = [firmware]
    if values.get("PTY"):
        argv.append("--pty")
    if values.get("HEADLESS") or values.get("SEND") or values.get("EXPECT"):
        argv.append("--headless")
    for key, flag in (("SEND", "--send"), ("EXPECT", "--until"),
                      ("WAIT_STATES", "--wait-states"), ("TIMING", "--timing")):
        if values.get(key):
            argv += [flag, values[key]]
    # Numbers the option table has typed and range-checked (0: not asked for).
    for key, flag in (("MAX_SECONDS", "--max-seconds"),
                      ("MAX_INSTRUCTIONS", "--max-instructions"), ("PROFILE", "--profile")):
        number = option_value(key, values.get(key, 0))
        if number:
            argv += [flag, str(number)]
    for key, flag in (("STATS", "--stats"), ("MEASURE", "--measure")):
        if values.get(key):
            argv.append(flag)
    # Semicolons: C++ signatures have commas.
    for name in filter(None, (part.strip() for part in str(values.get("BETWEEN", "")).split(";"))):
        argv += ["--between", name]
    return argv


if __name__ == "__main__":
    sys.exit(main())
