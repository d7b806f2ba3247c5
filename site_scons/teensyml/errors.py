"""Errors a user can act on, and how they reach the terminal.

A UserError carries one paragraph that says what went wrong and what to do.
Entry points (SConstruct, build actions, command-line tools) print it without a
traceback and exit with status 2. A command stopped by Ctrl-C or SIGTERM
(interrupts.Interrupted) says so in one line and exits with 128 + the signal.
"""
import functools
import signal
import sys

from . import interrupts

EXIT_USER_ERROR = 2


class UserError(Exception):
    """Something the user can fix; the message is the whole explanation."""


def report(error, stream=None):
    """Print a UserError the way every entry point does."""
    print(f"error: {error}", file=stream or sys.stderr)


def cli(main):
    """Decorate a command-line `main(argv) -> int` so a UserError or Ctrl-C
    ends it with a message and a status instead of a traceback."""
    @functools.wraps(main)
    def wrapper(argv=None):
        try:
            return main(argv)
        except UserError as error:
            report(error)
            return EXIT_USER_ERROR
        except interrupts.Interrupted as stop:
            print(stop, file=sys.stderr)
            return stop.status
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return interrupts.exit_status(signal.SIGINT)
    return wrapper


def build_action(function):
    """Decorate an SCons Python action `function(target, source, env)` so a
    UserError fails the build with its paragraph instead of a traceback, and
    a command stopped by a signal ends scons with 128 + the signal."""
    @functools.wraps(function)
    def wrapper(target, source, env):
        try:
            status = function(target, source, env) or 0
        except UserError as error:
            report(error)
            return EXIT_USER_ERROR
        except interrupts.Interrupted as stop:
            print(stop, file=sys.stderr)
            status = stop.status
        signum = interrupts.received()
        if signum is not None and status == interrupts.exit_status(signum):
            interrupts.keep_exit_status(status)
        return status
    return wrapper
