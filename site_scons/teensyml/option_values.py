"""Values of the command options outside SCons, and the commands' settings.

The option table types and range-checks every value when the options are
resolved (TIMEOUT= is a float, BAUD= an int); the functions here take such a
value as it is, and check text that arrives another way (the environment, a
caller's own dict) by the same table, with the same wording. The tools in
tools/ take options as `scons` does (KEY=VALUE), checked by the same table.

Every command (flash, monitor, emulate, size-report, run-model, kernel-tests)
takes its options as one settings object, a dataclass deriving from
CommandSettings: a field named after an option (lower case) holds that
option's resolved value, the other fields what the caller knows (the image,
its ELF). `scons <command>` (site_scons/site_tools/teensy_*.py) and the
command's tools/ script build it the same way, with `from_options`.
"""
import dataclasses

from .errors import UserError
from .options import OPTIONS, OPTIONS_BY_KEY, validate


def option_value(key, value):
    """The value of option `key`: resolved already, or text checked now."""
    return validate(OPTIONS_BY_KEY[key], value) if isinstance(value, str) else value


class CommandSettings:
    """What a command does, from resolved options (see the module's text)."""

    @classmethod
    def from_options(cls, values, **given):
        """The settings of option `values`, as options.resolve returns them
        (taken as they are: resolving parsed and checked them; a missing key
        takes the table's default); `given` sets the fields that are no
        option, or overrides one."""
        fields = {}
        for field in dataclasses.fields(cls):
            option = OPTIONS_BY_KEY.get(field.name.upper())
            if option is not None and field.name not in given:
                fields[field.name] = values[option.key] if option.key in values else \
                    option_value(option.key, option.default)
        return cls(**fields, **given)

    @classmethod
    def defaults(cls, **given):
        """The settings of the table's defaults, but for `given` fields."""
        from .options import resolve
        return cls.from_options(resolve({}), **given)

    @classmethod
    def option_keys(cls):
        """The options these settings take, in table order."""
        names = {field.name for field in dataclasses.fields(cls)}
        return tuple(option.key for option in OPTIONS if option.key.lower() in names)


def keys_of(*groups):
    """The option keys of `groups` (e.g. "configuration"), in table order."""
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
