"""The one table of build options: names, kinds, defaults, valid values, help,
and the build directory each one names.

SConstruct turns this table into SCons Variables (so `scons -h` lists every
option); tests and tools validate with `resolve()` without SCons, which
parses and range-checks every value once: the values it returns are typed
(numbers, tuples of globs or names, real text for SEND=) and nothing
downstream parses them again. Options in the "configuration" group change the
firmware: each names a build directory (`names`), and the variant names below
are derived from those entries alone. The other options steer commands
(flash, monitor, emulate, ...), each of which takes them as one settings
object (option_values.CommandSettings).
"""
import math
import os
import re
from dataclasses import dataclass, field

from .build_types import BUILD_TYPES, DEFAULT_BUILD
from .errors import UserError

BUILTIN_MODELS = ("float32", "int8")
TRUE_WORDS = ("1", "yes", "true", "on", "y")
FALSE_WORDS = ("0", "no", "false", "off", "n", "")


# Arguments SCons' ninja tool adds to the scons command lines it runs (to
# regenerate build.ninja): accepted, and left to the tool.
NINJA_TOOL_ARGUMENTS = ("NINJA_DISABLE_AUTO_RUN", "__NINJA_NO")


# The build directories an option can name, each inside the next: every
# model's objects (build/obj/<kernels>/), a configuration's app objects and
# libraries (build/obj/<configuration>/), its image (build/<variant>/). An
# option naming one names the directories after it too.
DIRECTORIES = ("objects", "configuration", "image")
# Which firmware has what a naming option steers: every one (""), those with
# TFLM's kernels ("kernels": the firmware and the kernel tests), the firmware
# alone ("model"). The fixture and the kernel tests leave the others out of
# their names.
SCOPES = ("", "kernels", "model")


@dataclass(frozen=True)
class Option:
    key: str
    help: str
    default: object
    # What `resolve` makes of the text (parsed and checked once, there):
    #   bool, enum (one of `choices`), model (built-in name or .tflite path),
    #   globs (ITCM_EXTRA: Globs), list (a tuple of the words between
    #   `separator`s), regex (text that compiles), text (SEND: \n escapes
    #   made real), word (stripped), str and path (as given), or a number:
    #   int | bytes (whole numbers) | seconds (a float), checked against the
    #   number fields below.
    kind: str = "str"
    choices: tuple = ()
    group: str = "configuration"  # or the command it steers
    aliases: tuple = field(default=())
    positive: bool = False       # numbers: greater than 0 (else 0 or more)
    multiple: int = 1            # whole numbers: a multiple of this
    words: tuple = ()            # numbers: words also accepted as they are ("auto")
    zero: str = ""               # numbers: what 0 means ("no limit"), shown in messages
    separator: str = ","         # list: what separates the words
    # The build directory the option names (DIRECTORIES), or "" for none,
    # and for which firmware (SCOPES).
    names: str = ""
    scope: str = ""
    # Its part of a directory name when its value is not the default: a
    # format of {key} (lower case), {value} and {digest} (of the value as
    # given), or a function of all the values (text, "" for none).
    spell: object = "{key}_{value}"

    @property
    def configures_firmware(self):
        return self.group == "configuration"

    def part(self, values):
        """This option's part of a directory name, or ""."""
        if callable(self.spell):
            return self.spell(values)
        text = str(values[self.key])
        if text == str(self.default):
            return ""
        return self.spell.format(key=self.key.lower(), value=text, digest=_digest(text))


class Globs(tuple):
    """ITCM_EXTRA's entries, with the value as given (`text`), which names
    the image's directory."""

    def __new__(cls, text, patterns):
        globs = super().__new__(cls, patterns)
        globs.text = text
        return globs

    def __str__(self):
        return self.text


def kernel_set(values):
    """The kernels USE_CMSIS_NN= chooses: "cmsis_nn" or "reference" (the
    name in directories, the firmware's banner and its `1` answer)."""
    return "cmsis_nn" if values["USE_CMSIS_NN"] else "reference"


def _model_part(values):
    model = values["MODEL"]
    if model in BUILTIN_MODELS:
        return model
    # Only plain characters: the name becomes a path SCons substitutes ($).
    stem = re.sub(r"[^A-Za-z0-9_.+-]", "_", os.path.splitext(os.path.basename(model))[0])
    return stem + "_" + _digest(model)


def _digest(text):
    import hashlib
    return hashlib.sha1(text.encode()).hexdigest()[:8]


OPTIONS = (
    # --- the firmware configuration -----------------------------------------
    # Each names a build directory; their order here is the order of their
    # parts in the directory names (int8-cmsis_nn-debug-itcm_none).
    Option("MODEL", "model to run: float32, int8, or a path to a .tflite file",
           "int8", kind="model", names="configuration", scope="model", spell=_model_part),
    Option("USE_CMSIS_NN", "use the CMSIS-NN optimized kernels", False, kind="bool",
           names="objects", scope="kernels", spell=kernel_set),
    Option("TUNED_KERNELS", "with USE_CMSIS_NN=1: our Cortex-M7 versions of CMSIS-NN "
           "files (src/cmsis_nn_tuned/) replace the files of the same name; 0: "
           "CMSIS-NN's own", True, kind="bool", names="configuration", scope="kernels",
           spell=lambda values: "upstream" if values["USE_CMSIS_NN"] and
           not values["TUNED_KERNELS"] else ""),
    Option("BUILD", "build type, as TFLM's Makefile: release (TFLM's messages compiled "
           "out), release_with_logs, debug (-Og)", DEFAULT_BUILD, kind="enum",
           choices=tuple(BUILD_TYPES), names="objects", spell="{value}"),
    Option("ARENA_SIZE", "tensor arena bytes; auto = the model's measured need "
           "plus a margin", "auto", kind="bytes", positive=True, multiple=16,
           words=("auto",), names="configuration", scope="model", spell="arena_{value}"),
    Option("ITCM", "code placed in ITCM: none (all from flash, as the original), "
           "kernels (TFLM kernels, CMSIS-NN and their runtime helpers), all",
           "kernels", kind="enum", choices=("none", "kernels", "all"), names="image"),
    Option("MODEL_MEM", "where the model weights live", "flash", kind="enum",
           choices=("flash", "dtcm", "ocram"), names="image"),
    Option("ARENA_MEM", "where the tensor arena lives", "dtcm", kind="enum",
           choices=("dtcm", "ocram"), names="image"),
    Option("ITCM_EXTRA", "more objects or functions for ITCM: comma-separated "
           "object-file globs (foo.o, *conv*.o) or function names", "", kind="globs",
           names="image", spell="{key}_{digest}"),
    Option("CONSOLE", "the firmware's console: usb (a USB serial port on the Teensy's "
           "own USB connector, as Teensyduino's) or uart (LPUART2 on pins 14/15, through a "
           "USB-UART adapter)", "usb", kind="enum", choices=("usb", "uart"), names="image",
           scope="model"),
    # --- how the build runs ---------------------------------------------------
    Option("VERBOSE", "print full command lines", False, kind="bool", group="build"),
    Option("TOOLCHAIN_DIR", "directory holding arm-none-eabi-gcc (default: PATH)",
           "", kind="path", group="build"),
    Option("MIRROR", "with `scons deps`: directory of local git repositories, "
           "one per dependency, used instead of the network", "", kind="path",
           group="build"),
    Option("CACHE", "shared object cache: auto (the user's cache directory), a "
           "directory (e.g. on shared storage for a team or CI), or 0 for none", "auto",
           kind="str", group="build"),
    Option("CCACHE", "compile through ccache (does not change what SCons rebuilds)",
           False, kind="bool", group="build"),
    Option("CC_WRAPPER", "compile through this wrapper command, e.g. distcc or icecc "
           "(does not change what SCons rebuilds)", "", kind="str", group="build"),
    Option("NINJA", "also write build.ninja (SCons' ninja generator) and build through "
           "it; then `ninja` alone rebuilds after an edit", False, kind="bool",
           group="build"),
    # --- scons flash ------------------------------------------------------------
    Option("FLASHER", "programming back end", "auto", kind="enum",
           choices=("auto", "teensy_loader_cli", "halfkay"), group="flash"),
    Option("REBOOT", "ask a running board to reboot into the bootloader first",
           False, kind="bool", group="flash"),
    Option("SERIAL", "USB serial number of the board to program (halfkay)", "",
           kind="word", group="flash"),
    Option("TIMEOUT", "seconds to wait for the bootloader, for EXPECT, or for each answer "
           "of run-model", "60",
           kind="seconds", positive=True, group="flash"),
    # --- scons monitor ----------------------------------------------------------
    Option("PORT", "serial port (default: the only candidate)", "", kind="word",
           group="monitor"),
    Option("BAUD", "baud rate", "115200", kind="int", positive=True, group="monitor"),
    Option("SEND", "scripted mode: text to send (\\n allowed)", "", kind="text",
           group="monitor"),
    Option("EXPECT", "scripted mode: regular expression to wait for", "",
           kind="regex", group="monitor"),
    Option("TIMESTAMPS", "prefix each received line with the time", False,
           kind="bool", group="monitor"),
    Option("LOG", "also write the session to this file", "", kind="str",
           group="monitor"),
    Option("EOL", "end of line: what Enter sends, and what received text "
           "uses (as miniterm's --eol)", "crlf", kind="enum",
           choices=("crlf", "cr", "lf"), group="monitor"),
    Option("ECHO", "show what you type (local echo)", False, kind="bool",
           group="monitor"),
    # --- scons emulate ----------------------------------------------------------
    Option("PTY", "put the emulated console on a pseudo-terminal", False,
           kind="bool", group="emulate"),
    Option("STATS", "print the emulator's counters at exit", False, kind="bool",
           group="emulate"),
    Option("HEADLESS", "do not read the terminal: input only from SEND (scripts); "
           "SEND or EXPECT imply it", False, kind="bool", group="emulate"),
    Option("MAX_SECONDS", "stop the emulation after this many seconds (exit status 3); "
           "0: no limit", "0", kind="seconds", zero="no limit", group="emulate"),
    Option("MAX_INSTRUCTIONS", "stop once this many instructions ran (exit status 4); "
           "0: no limit", "0", kind="int", zero="no limit", group="emulate"),
    Option("TIMING", "cycle model: calibrated (caches, FlexSPI, dual-issue core; "
           "docs/emulator.md) or simple (instructions plus wait states per region)",
           "calibrated", kind="enum", choices=("calibrated", "simple"), group="emulate"),
    Option("MEASURE", "with TIMING=simple: count every data access by memory region and "
           "charge its wait states (slower); TIMING=calibrated always does", False,
           kind="bool", group="emulate"),
    Option("BETWEEN", "also count from entry to return of this function (e.g. "
           "tflite::MicroInterpreter::Invoke); several: separate with ;", "", kind="list",
           separator=";", group="emulate"),
    Option("PROFILE", "with STATS=1: list the N functions that ran most instructions",
           "0", kind="int", zero="no list", group="emulate"),
    Option("WAIT_STATES", "with TIMING=simple: wait states per region as "
           "REGION:fetch/data, e.g. FLASH:30/30,OCRAM:2/2 (defaults in docs/emulator.md)",
           "", kind="str",
           group="emulate"),
    # --- scons run-model --------------------------------------------------------
    Option("INPUT", "the model's inputs: a .npy (input 0) or a .npz (inputs by index or "
           "tensor name); a leading axis gives several samples", "", kind="path",
           group="run-model"),
    Option("OUTPUT", "also write the firmware's outputs to this .npz (output_0, ...)", "",
           kind="path", group="run-model"),
    Option("COMPARE", "compare the outputs with TFLM's host runtime on the same model "
           "(integers bit for bit, float32 within 1e-5 + 1e-5 x |host|)", False,
           kind="bool", group="run-model"),
    # --- scons kernel-tests -----------------------------------------------------
    Option("OPS", "TFLM kernel test files to build and run: all, or comma-separated "
           "names of tensorflow/lite/micro/kernels/<name>_test.cc (conv,pooling); "
           "empty: those of the model's operators", "", kind="word", group="kernel-tests"),
    # --- scons size-report ------------------------------------------------------
    Option("FORMAT", "report format", "text", kind="enum",
           choices=("text", "json", "csv"), group="size-report"),
    Option("DIFF", "earlier json report to compare with", "", kind="str",
           group="size-report"),
    Option("TOP", "symbols listed per region (0: all)", "10", kind="int", zero="all",
           group="size-report"),
    Option("COMPONENT", "only these components (comma-separated: app, tflm-kernels, "
           "cmsis-nn, model, ...)", "", kind="list", group="size-report"),
    Option("SYMBOL", "only symbols whose name matches this glob (*Conv*) or "
           "contains this text", "", kind="word", group="size-report"),
    Option("STACK_MARGIN", "warn when the stack has fewer spare bytes than this "
           "beyond its reserved size", "4096", kind="bytes", group="size-report"),
)

OPTIONS_BY_KEY = {option.key: option for option in OPTIONS}


def parse_bool(key, text):
    if isinstance(text, bool):
        return text
    word = str(text).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise UserError(f"{key}={text} is not valid; give 1 or 0 (also yes/no, true/false, "
                    f"on/off).")


NUMBER_KINDS = ("int", "bytes", "seconds")


def valid_numbers(option):
    """What a number option takes, in words: the one wording of every
    message about a bad number."""
    what = {"int": "a whole number", "bytes": "a whole number of bytes",
            "seconds": "a number of seconds"}[option.kind]
    what += " greater than 0" if option.positive else ", 0 or more"
    if option.zero:
        what += f" (0: {option.zero})"
    if option.multiple > 1:
        what += f", a multiple of {option.multiple}"
    default = str(option.default)
    example = default if default not in option.words and default != "0" else \
        {"int": "10", "bytes": "65536", "seconds": "60"}[option.kind]
    what += f", e.g. {option.key}={example}"
    if option.kind == "bytes":
        what += f" or 0x{int(example):X}"
    return what + "".join(f", or {word}" for word in option.words)


def _number(option, text):
    """The value of `text` for a number option; ValueError if it is none."""
    if option.kind == "seconds":
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(text)
    else:
        value = int(text.strip(), 0)
    if value < 0 or (option.positive and value == 0) or \
            (option.multiple > 1 and value % option.multiple):
        raise ValueError(text)
    return value


def validate(option, text):
    """The typed value of `text` for `option`, or a UserError naming the valid ones."""
    if option.kind == "bool":
        return parse_bool(option.key, text)
    if option.kind == "enum":
        if text not in option.choices:
            raise UserError(f"{option.key}={text} is not valid; choose one of: "
                            f"{', '.join(option.choices)}.")
        return text
    if option.kind == "model":
        if text in BUILTIN_MODELS:
            return text
        if text.endswith(".tflite") and os.path.isfile(text):
            return os.path.abspath(text)
        raise UserError(f"MODEL={text} is not valid; choose one of: "
                        f"{', '.join(BUILTIN_MODELS)}, or give the path of an "
                        f"existing .tflite file.")
    if option.kind in NUMBER_KINDS:
        if text.strip() in option.words:
            return text.strip()
        try:
            return _number(option, text)
        except ValueError:
            raise UserError(f"{option.key}={text} is not valid; give "
                            f"{valid_numbers(option)}.") from None
    if option.kind == "globs":
        from .linker_script import itcm_extra_patterns
        return Globs(text, itcm_extra_patterns(text))   # a UserError if ld cannot take it
    if option.kind == "list":
        return tuple(filter(None, (word.strip() for word in text.split(option.separator))))
    if option.kind == "word":
        return text.strip()
    if option.kind == "text":
        return unescape(text)
    if option.kind == "regex" and text:
        try:
            re.compile(text)
        except re.error as error:
            raise UserError(f"{option.key}={text} is not a valid regular expression "
                            f"({error}); quote it for the shell, e.g. "
                            f"{option.key}='predicted [0-9]'.") from None
    return text


# What SEND= text may escape (monitor and emulator alike).
SEND_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}


def unescape(text):
    """SEND= text with \\n, \\r, \\t and \\\\ made real."""
    return re.sub(r"\\(.)", lambda match: SEND_ESCAPES.get(match.group(1), match.group(0)),
                  text)


def resolve(arguments):
    """Validate command-line ARGUMENTS (a dict of strings) into typed values for
    every option. Unknown keys are left to the caller (SCons warns on them)."""
    arguments = dict(arguments)
    # The seed's name for the compressed (int8) model.
    if "USE_COMP_MODEL" in arguments:
        comp = parse_bool("USE_COMP_MODEL", arguments.pop("USE_COMP_MODEL"))
        implied = "int8" if comp else "float32"
        if arguments.get("MODEL", implied) != implied:
            raise UserError(f"USE_COMP_MODEL={int(comp)} means MODEL={implied}, "
                            f"but MODEL={arguments['MODEL']} was also given; "
                            f"give one of them.")
        arguments["MODEL"] = implied
    values = {}
    for option in OPTIONS:
        text = arguments.get(option.key, option.default)
        values[option.key] = validate(option, text) if isinstance(text, str) \
            else text
    return values


def scons_escaped(arguments):
    """ARGUMENTS as SCons may hold them in an environment: every `$` doubled,
    so SCons never expands an option's value (SEND='$x', a path with `$`)."""
    return {key: scons_escape(value) for key, value in arguments.items()}


def scons_escape(text):
    """`text` as a construction variable or a command-line word that SCons
    substitutes back to exactly `text`."""
    return text.replace("$", "$$") if isinstance(text, str) else text


def directory_name(values, directory, prefix="", scopes=SCOPES):
    """The name of a build directory (DIRECTORIES): `prefix`, then the part of
    every option of `scopes` that names it or a directory before it."""
    depth = DIRECTORIES.index(directory)
    parts = [prefix] if prefix else []
    for option in OPTIONS:
        if option.names and DIRECTORIES.index(option.names) <= depth and \
                option.scope in scopes:
            parts.append(option.part(values))
    return "-".join(filter(None, parts))


def objects_variant_name(values):
    """The build/obj/<name> directory of the objects every model shares (the
    third-party components and the board): only the options that change how
    they compile, so switching MODEL recompiles the app alone and the object
    cache (whose keys include the path) serves every model."""
    return directory_name(values, "objects")


def compile_variant_name(values):
    """The build/obj/<name> directory of a configuration's app objects and
    libraries: the options that change what is compiled (placement changes
    only the link)."""
    return directory_name(values, "configuration")


def variant_name(values):
    """The build/<variant> directory of a configuration's firmware: short for
    the defaults, every non-default placement spelled out."""
    return directory_name(values, "image")


def placement_variant_name(prefix, values, directory="image"):
    """Directory name of a firmware with neither model nor TFLM kernels (the CI
    fixture): only the options every firmware has (the build type and, for
    the image, the placement)."""
    return directory_name(values, directory, prefix, scopes=("",))
