"""SCons tool: from objects to a Teensy 4.0 image.

Adds the builders every firmware (the TFLM app and the CI fixture) goes
through: the memory-map header for C, the generated linker script, the link
with its map file and post-link check, the Intel HEX, and a one-line summary.
"""
import sys

from SCons.Script import Action, Value

from teensyml import component_table, firmware_config, linker_script, memory_map, quiet
from teensyml.atomic_file import update_text
from teensyml.errors import build_action
from teensyml.paths import SITE_SCONS

LINKER_TEMPLATE = "#linker/teensy40.ld.in"


@build_action
def _write_text(target, source, env):
    update_text(str(target[0]), source[0].read())


def generated_text(env, target, text):
    """`target` holding `text`, a value computed when SCons reads the build:
    rewritten when the text changes (SCons compares the Value's content),
    and only then, so what includes it recompiles only then."""
    return env.Command(target, Value(text), Action(_write_text, env.QuietLine("GEN")))


def memory_map_header(env, target):
    return env.GeneratedText(target, memory_map.c_header())


def linker_script_node(env, target, placement):
    """The linker script for `placement` (a linker_script.Placement). Rendered
    now (a string substitution): its text is the node's value, so a change to
    the template, the memory map or the generator's rules rewrites it."""
    with open(env.File(LINKER_TEMPLATE).abspath) as stream:
        text = linker_script.render(stream.read(), placement)
    return env.GeneratedText(target, text)


def rebuild_damaged_outputs(env):
    """Make `env`'s targets rebuild when their own content changed since the
    build wrote them (a HEX cut short, an ELF overwritten): SCons decides from
    the dependencies only, so it would keep a damaged output, and flash it."""
    inner_source, inner_target = env.decide_source, env.decide_target

    def decide(dependency, target, prev_ni, repo_node=None):
        inner = inner_target if dependency.has_builder() else inner_source
        # Always asked first: it also records the dependency's state.
        changed = inner(dependency, target, prev_ni, repo_node)
        return changed or _changed_since_built(target)
    env.Decider(decide)


def _changed_since_built(target):
    recorded = getattr(target.get_stored_info().ninfo, "csig", None)
    return target.exists() and recorded is not None and recorded != target.get_csig()


def firmware(env, name, sources, script, libs=(), link_flags=()):
    """Link `sources` and `libs` with `script` (and the components'
    `link_flags`) into name.elf, name.map and name.hex. Returns {'elf',
    'hex', 'map'} nodes."""
    # Only libraries the component table lists: the linker script and the
    # size report know them by name.
    component_table.check_archives([node.name for node in env.Flatten(list(libs))])
    env = env.Clone()
    rebuild_damaged_outputs(env)     # what flash and emulate read
    map_file = env.File(f"{name}.map")
    env.Append(LINKFLAGS=list(link_flags) + ["-T", script[0].abspath,
                                             f"-Wl,-Map={map_file.abspath}"],
               LIBS=list(libs) + ["m"])
    # The components' libraries call each other both ways: one group.
    env["_LIBFLAGS"] = "-Wl,--start-group " + env["_LIBFLAGS"] + " -Wl,--end-group"
    # The guard runs the link, explains a full region, checks FlexRAM and prints
    # the size line. Plain command lines (no Python actions) keep ninja fast.
    env["LINKCOM"] = "$TEENSY_PYTHON -m teensyml.link_guard --elf $TARGET -- " + env["LINKCOM"]
    # The map is a target too: a missing map relinks.
    env.Append(PROGEMITTER=[lambda target, source, env: (target + [map_file], source)])
    elf = env.Program(f"{name}.elf", sources)
    env.Depends(elf, script)
    # The link also writes the size report (keeping the previous one), which
    # an ELF from the object cache would come without. Links are quick; the
    # cache is for the compiles.
    env.NoCache(elf)
    hex_file = env.Command(f"{name}.hex", elf[0], Action(
        "$TEENSY_PYTHON -m teensyml.hexfile $SOURCE $TARGET", env.QuietLine("HEX")))
    return {"elf": elf[0], "hex": hex_file[0], "map": map_file}


def firmware_config_header(env, target, model, kernels):
    """firmware_config.h for the app: model name, kernel set, arena size."""
    option = env["TEENSY_OPTIONS"]["ARENA_SIZE"]
    arena = firmware_config.arena_bytes(option, model)
    warning = firmware_config.arena_warning(option, model)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return env.GeneratedText(target, firmware_config.header_text(model.name, kernels, arena))


def quiet_line(env, verb):
    """The *COMSTR of a step: a short line, or the full command with VERBOSE=1."""
    return quiet.line(verb, env.get("VERBOSE"))


def generate(env):
    env["TEENSY_PYTHON"] = sys.executable
    env["ENV"]["PYTHONPATH"] = SITE_SCONS
    env.AddMethod(quiet_line, "QuietLine")
    env.AddMethod(generated_text, "GeneratedText")
    env.AddMethod(memory_map_header, "MemoryMapHeader")
    env.AddMethod(linker_script_node, "LinkerScript")
    env.AddMethod(firmware, "Firmware")
    env.AddMethod(firmware_config_header, "FirmwareConfig")


def exists(env):
    return True
