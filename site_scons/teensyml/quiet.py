"""The build's one-line progress (`  CC   build/.../conv.o`) in place of each
command; VERBOSE=1 shows the commands. Every step's *COMSTR comes from here."""

# The compiler tools' command strings and their verbs ("": silent; the
# archive index comes with `ar s`, so ranlib never runs).
TOOL_COMMANDS = {
    "CCCOMSTR": "CC", "SHCCCOMSTR": "CC", "CXXCOMSTR": "CXX", "SHCXXCOMSTR": "CXX",
    "ASCOMSTR": "AS", "ASPPCOMSTR": "AS", "ARCOMSTR": "AR", "RANLIBCOMSTR": "",
    "LINKCOMSTR": "LINK",
}


def line(verb, verbose=False, what="$TARGET"):
    """A step's *COMSTR: `  VERB what`; None with VERBOSE (SCons then prints
    the command itself); "" for a silent step."""
    if verbose:
        return None
    return f"  {verb:<4} {what}" if verb else ""
