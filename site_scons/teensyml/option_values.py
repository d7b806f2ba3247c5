"""Values of the command options (flash, monitor) outside SCons.

The option table types and range-checks every value when the options are
resolved (TIMEOUT= is a float, BAUD= an int); the functions here take such a
value as it is, and check text that arrives another way (the environment, a
caller's own dict) by the same table, with the same wording. The tools in
tools/ take options as `scons` does (KEY=VALUE), checked by the same table.
"""
import re

from .errors import UserError
from .options import OPTIONS_BY_KEY, validate

# What SEND= text may escape (monitor and emulator alike).
SEND_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}


def option_value(key, value):
    """The value of option `key`: resolved already, or text checked now."""
    return validate(OPTIONS_BY_KEY[key], value) if isinstance(value, str) else value


def unescape(text):
    """SEND= text with \\n, \\r, \\t and \\\\ made real."""
    return re.sub(r"\\(.)", lambda match: SEND_ESCAPES.get(match.group(1), match.group(0)),
                  text)


def keys_of(*groups):
    """The option keys of `groups` (e.g. "flash"), in table order."""
    from .options import OPTIONS
    return tuple(option.key for option in OPTIONS if option.group in groups)


def from_assignments(words, keys):
    """Option values from KEY=VALUE words, as `scons` takes them, for a tool
    that honours the options `keys` (the others keep their defaults)."""
    from .options import resolve
    given = {}
    for word in words:
        key, equals, value = word.partition("=")
        if not equals or key not in keys:
            raise UserError(f"{word} is not an option of this command; give KEY=VALUE with "
                            f"KEY one of: {', '.join(keys)}.")
        given[key] = value
    return resolve(given)


def options_help(keys):
    """Help lines for the options `keys`, from the one option table."""
    lines = []
    for key in keys:
        option = OPTIONS_BY_KEY[key]
        default = {True: "1", False: "0", "": '""'}.get(option.default, option.default)
        choices = f" ({'|'.join(option.choices)})" if option.choices else ""
        lines.append(f"  {key + '=' + str(default):<18} {option.help}{choices}")
    return "\n".join(lines)


# STACK_MARGIN reaches the link guard (which warns after every link) through
# the environment, so changing a warning threshold does not relink.
STACK_MARGIN_VARIABLE = "TEENSY_STACK_MARGIN"
