"""SCons tool: `scons emulate` runs the firmware image with no board.

    env.Tool("teensy_emulate")
    env.EmulateCommand(firmware)                      # alias "emulate"
    env.EmulateCommand(fixture, alias="emulate-fixture")

`firmware` is the {'elf', 'hex', 'map'} dict of teensy_firmware's Firmware():
the alias depends on the HEX and the ELF, so they are built first, and runs
the HEX (what `scons flash` programs) with the ELF's function names. Its
settings (teensyml.emulator.cli.Settings: PTY, STATS, HEADLESS, SEND, EXPECT,
MAX_SECONDS, MAX_INSTRUCTIONS, MEASURE, BETWEEN, PROFILE, WAIT_STATES) come
from env['TEENSY_OPTIONS'], as tools/emulate.py builds them from its flags;
the work is teensyml.emulator, imported only when the action runs. Ctrl-C and SIGTERM
stop it (teensyml.interrupts: SCons runs the action on a worker thread).
"""
from SCons.Script import Action

from teensyml import interrupts
from teensyml.errors import build_action


@build_action
def _emulate(target, source, env):
    from teensyml.emulator import cli
    return cli.emulate(cli.Settings.from_options(
        env["TEENSY_OPTIONS"], firmware=str(source[0]), elf=str(source[1])))


def emulate_command(env, firmware, alias="emulate"):
    node = env.Alias(alias, [firmware["hex"], firmware["elf"]], Action(_emulate, None))
    env.AlwaysBuild(node)
    return node


def generate(env):
    interrupts.listen_in_scons()     # the main thread, while SCons reads the build
    env.AddMethod(emulate_command, "EmulateCommand")


def exists(env):
    return True
