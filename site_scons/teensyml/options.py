"""The one table of build options: names, types, defaults, valid values, help.

SConstruct turns this table into SCons Variables (so `scons -h` lists every
option); tests and tools validate with `resolve()` without SCons. Options in
the "configuration" group change the firmware and so name its variant
directory; the others only steer commands (flash, monitor, emulate, ...).
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


@dataclass(frozen=True)
class Option:
    key: str
    help: str
    default: object
    # bool | enum | model | globs (ITCM_EXTRA) | str | path, or a number:
    # int | bytes (whole numbers) | seconds (a float), checked against the
    # fields below when the options are resolved.
    kind: str = "str"
    choices: tuple = ()
    group: str = "configuration"  # or the command it steers
    aliases: tuple = field(default=())
    positive: bool = False       # numbers: greater than 0 (else 0 or more)
    multiple: int = 1            # whole numbers: a multiple of this
    words: tuple = ()            # numbers: words also accepted as they are ("auto")
    zero: str = ""               # numbers: what 0 means ("no limit"), shown in messages

    @property
    def configures_firmware(self):
        return self.group == "configuration"


OPTIONS = (
    # --- the firmware configuration (one build/<variant>/ each) -------------
    Option("MODEL", "model to run: float32, int8, or a path to a .tflite file",
           "int8", kind="model"),
    Option("USE_CMSIS_NN", "use the CMSIS-NN optimized kernels", False, kind="bool"),
    Option("TUNED_KERNELS", "with USE_CMSIS_NN=1: our Cortex-M7 versions of CMSIS-NN "
           "files (src/cmsis_nn_tuned/) replace the files of the same name; 0: "
           "CMSIS-NN's own", True, kind="bool"),
    Option("BUILD", "build type, as TFLM's Makefile: release (TFLM's messages compiled "
           "out), release_with_logs, debug (-Og)", DEFAULT_BUILD, kind="enum",
           choices=tuple(BUILD_TYPES)),
    Option("ITCM", "code placed in ITCM: none (all from flash, as the original), "
           "kernels (TFLM kernels, CMSIS-NN and their runtime helpers), all",
           "kernels", kind="enum", choices=("none", "kernels", "all")),
    Option("ITCM_EXTRA", "more objects or functions for ITCM: comma-separated "
           "object-file globs (foo.o, *conv*.o) or function names", "", kind="globs"),
    Option("MODEL_MEM", "where the model weights live", "flash", kind="enum",
           choices=("flash", "dtcm", "ocram")),
    Option("ARENA_MEM", "where the tensor arena lives", "dtcm", kind="enum",
           choices=("dtcm", "ocram")),
    Option("ARENA_SIZE", "tensor arena bytes; auto = the model's measured need "
           "plus a margin", "auto", kind="bytes", positive=True, multiple=16,
           words=("auto",)),
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
           kind="str", group="flash"),
    Option("TIMEOUT", "seconds to wait for the bootloader, for EXPECT, or for each answer "
           "of run-model", "60",
           kind="seconds", positive=True, group="flash"),
    # --- scons monitor ----------------------------------------------------------
    Option("PORT", "serial port (default: the only candidate)", "", kind="str",
           group="monitor"),
    Option("BAUD", "baud rate", "115200", kind="int", positive=True, group="monitor"),
    Option("SEND", "scripted mode: text to send (\\n allowed)", "", kind="str",
           group="monitor"),
    Option("EXPECT", "scripted mode: regular expression to wait for", "",
           kind="str", group="monitor"),
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
           "tflite::MicroInterpreter::Invoke); several: separate with ;", "", kind="str",
           group="emulate"),
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
           "empty: those of the model's operators", "", kind="str", group="kernel-tests"),
    # --- scons size-report ------------------------------------------------------
    Option("FORMAT", "report format", "text", kind="enum",
           choices=("text", "json", "csv"), group="size-report"),
    Option("DIFF", "earlier json report to compare with", "", kind="str",
           group="size-report"),
    Option("TOP", "symbols listed per region (0: all)", "10", kind="int", zero="all",
           group="size-report"),
    Option("COMPONENT", "only these components (comma-separated: app, tflm-kernels, "
           "cmsis-nn, model, ...)", "", kind="str", group="size-report"),
    Option("SYMBOL", "only symbols whose name matches this glob (*Conv*) or "
           "contains this text", "", kind="str", group="size-report"),
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
        itcm_extra_patterns(text)          # a UserError if the linker cannot take it
    return text


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


def kernel_set(values):
    """The kernels USE_CMSIS_NN= chooses: "cmsis_nn" or "reference" (the
    name in directories, the firmware's banner and its `1` answer)."""
    return "cmsis_nn" if values["USE_CMSIS_NN"] else "reference"


def objects_variant_name(values):
    """The build/obj/<name> directory of the objects every model shares (the
    third-party components and the board): only the options that change how
    they compile, so switching MODEL recompiles the app alone and the object
    cache (whose keys include the path) serves every model."""
    parts = [kernel_set(values)]
    if values["BUILD"] != DEFAULT_BUILD:
        parts.append(values["BUILD"])
    return "-".join(parts)


def compile_variant_name(values):
    """The build/obj/<name> directory of a configuration's app objects and
    libraries: the options that change what is compiled (placement changes
    only the link)."""
    model = values["MODEL"]
    if model not in BUILTIN_MODELS:
        # Only plain characters: the name becomes a path SCons substitutes ($).
        stem = re.sub(r"[^A-Za-z0-9_.+-]", "_", os.path.splitext(os.path.basename(model))[0])
        model = stem + "_" + _digest(model)
    parts = [model, kernel_set(values)]
    if values["USE_CMSIS_NN"] and not values["TUNED_KERNELS"]:
        parts.append("upstream")
    if values["BUILD"] != DEFAULT_BUILD:
        parts.append(values["BUILD"])
    if values["ARENA_SIZE"] != "auto":
        parts.append(f"arena_{values['ARENA_SIZE']}")
    return "-".join(parts)


def variant_name(values):
    """The build/<variant> directory of a configuration's firmware: short for
    the defaults, every non-default placement spelled out."""
    return _with_placement(compile_variant_name(values), values)


def placement_variant_name(prefix, values):
    """Directory name of a firmware that only the placement options (and the
    build type) change: the CI fixture."""
    name = prefix if values["BUILD"] == DEFAULT_BUILD else f"{prefix}-{values['BUILD']}"
    return _with_placement(name, values)


def _with_placement(name, values):
    parts = [name]
    for key in ("ITCM", "MODEL_MEM", "ARENA_MEM"):
        if values[key] != OPTIONS_BY_KEY[key].default:
            parts.append(f"{key.lower()}_{values[key]}")
    if values["ITCM_EXTRA"]:
        parts.append("itcm_extra_" + _digest(values["ITCM_EXTRA"]))
    return "-".join(parts)


def _digest(text):
    import hashlib
    return hashlib.sha1(text.encode()).hexdigest()[:8]
