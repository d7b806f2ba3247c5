"""Values of the command options (flash, monitor) outside SCons.

The option table keeps TIMEOUT= and BAUD= as text, as typed; the commands turn
them into numbers here, with one wording for a bad value. The tools in tools/
take options as `scons` does (KEY=VALUE), checked by the same table.
"""
from .errors import UserError
from .options import OPTIONS_BY_KEY


def seconds(key, text):
    """A positive duration in seconds (TIMEOUT=10, TIMEOUT=0.5)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise UserError(f"{key}={text} is not a duration; give a number of seconds "
                        f"greater than 0, e.g. {key}=10.")
    return value


def positive_int(key, text):
    """A positive whole number (BAUD=115200)."""
    try:
        value = int(str(text), 0)
    except ValueError:
        value = 0
    if value <= 0:
        raise UserError(f"{key}={text} is not valid; give a positive whole number.")
    return value


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


def count_value(key, text):
    """A whole number of 0 or more from an option's text (TOP=, STACK_MARGIN=)."""
    try:
        value = int(str(text).strip(), 0)
    except ValueError:
        value = -1
    if value < 0:
        raise UserError(f"{key}={text} is not valid; give a whole number of 0 or more "
                        f"(the default is {key}={OPTIONS_BY_KEY[key].default}).")
    return value
