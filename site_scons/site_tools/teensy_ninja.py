"""SCons tool: NINJA=1, SCons' own ninja generator set up for this project.

    env.Tool("teensy_ninja")     # before any env.Clone(): clones inherit it

The SConscripts stay the one description of the build; SCons writes
build.ninja from them and runs ninja. After that, `ninja` alone serves the
edit-compile loop. build.ninja regenerates itself (ninja reruns the same
scons command) when an SConscript, SConstruct, one of our Python modules in
site_scons, the linker template or a model changes; a different option needs
a new `scons ... NINJA=1`.

Our generated sources (headers, linker script, model C++) come from Python
actions, which ninja could only run through a resident SCons process that it
asks on every run. Their inputs are exactly what regenerates build.ninja, so
they are written while build.ninja is, and ninja sees them as plain files:
a no-op `ninja` runs nothing at all.
"""
import glob
import os
import shutil
import sys

import SCons.Node
from SCons.Script import SetOption

from teensyml.errors import UserError
from teensyml.paths import SITE_SCONS


def _regenerate_deps(env):
    """What build.ninja is generated from: SConstruct and the SConscripts
    (each once: SCons lists one read twice twice, which ninja refuses), the
    Python behind our tools and generators, and the generators' inputs."""
    top = env.Dir("#").abspath
    scripts = {str(node) for node in SCons.Node.SConscriptNodes}
    modules = {os.path.relpath(path, top)
               for path in glob.glob(os.path.join(SITE_SCONS, "**", "*.py"), recursive=True)}
    inputs = {os.path.relpath(path, top) for pattern in REGENERATION_INPUTS
              for path in glob.glob(os.path.join(top, pattern))}
    return sorted(scripts | modules | inputs)


# Python actions (by function name) whose outputs are written with build.ninja.
GENERATED_AT_REGENERATION = ("_write_text", "_write_model_sources", "_write_builtin_digit",
                             "_write_kernel_exclusions")
# Inputs of those actions that are not Python: a change regenerates build.ninja.
REGENERATION_INPUTS = ("linker/*.in", "models/*.tflite", "models/test_digits.npz")


def _write_now(env, node):
    """Ninja handler of a generated source: write it now (only if its text
    changed), then hand ninja a phony edge, so it is a plain input."""
    # (SCons has released the node's executor by now: its parts are on the node.)
    targets = list(getattr(node, "target_peers", None) or [node])
    if node.builder.action(targets, list(node.sources), env, show=False):
        raise UserError(f"Could not write {targets[0]} (see above).")
    return {"outputs": [str(target) for target in targets], "rule": "phony", "implicit": []}


def _runnable_scons_command():
    """build.ninja reruns scons as sys.argv says; run as `python -m SCons`,
    argv[0] is SCons/__main__.py, which a shell cannot run: use the `scons`
    script that the same installation put on PATH."""
    if os.path.basename(sys.argv[0]) == "__main__.py":
        script = shutil.which("scons")
        if not script:
            raise UserError("NINJA=1 needs the `scons` command on PATH (build.ninja runs it "
                            "to regenerate itself): `python3 -m pip install -r "
                            "requirements.txt`.")
        sys.argv[0] = script


def generate(env):
    try:
        import ninja  # noqa: F401 (the tool runs the binary this package ships)
    except ImportError:
        raise UserError("NINJA=1 needs the ninja package from PyPI, which is not "
                        "installed: `python3 -m pip install -r requirements.txt`.") from None
    _runnable_scons_command()
    SetOption("experimental", "ninja")
    # NINJA is also the tool's name for the ninja binary (the option's value
    # is in env too): empty, the tool takes the package's binary.
    env.Replace(NINJA="", NINJA_DIR="#build/ninja", _TEENSY_NINJA_DEPS=_regenerate_deps,
                NINJA_REGENERATE_DEPS="${_TEENSY_NINJA_DEPS(__env__)}")
    env.Tool("ninja")
    for name in GENERATED_AT_REGENERATION:
        env.NinjaRegisterFunctionHandler(name, _write_now)
    # The tool adds the depfile flags ninja needs to every compile; outside
    # the signature, they do not make SCons rebuild objects ninja built.
    flags = list(env["CCFLAGS"])
    at = flags.index("$CCDEPFLAGS")
    env["CCFLAGS"] = flags[:at] + ["$(", "$CCDEPFLAGS", "$)"] + flags[at + 1:]


def exists(env):
    try:
        import ninja  # noqa: F401
        return True
    except ImportError:
        return False
