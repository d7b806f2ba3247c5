"""Errors a user can act on, and how they reach the terminal.

A UserError carries one paragraph that says what went wrong and what to do.
Entry points (SConstruct, build actions, command-line tools) print it without a
traceback and exit with status 2.
"""
import functools
import sys

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
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
    return wrapper


def build_action(function):
    """Decorate an SCons Python action `function(target, source, env)` so a
    UserError fails the build with its paragraph instead of a traceback."""
    @functools.wraps(function)
    def wrapper(target, source, env):
        try:
            return function(target, source, env) or 0
        except UserError as error:
            report(error)
            return EXIT_USER_ERROR
    return wrapper
