"""SCons tool: `scons flash` programs the board with the firmware's HEX.

    env.Tool("teensy_flash")
    env.FlashCommand(firmware)      # firmware: {'elf', 'hex', 'map'} nodes

The alias depends on the HEX, so `scons flash` first builds what is out of
date; its settings (teensyml.flash.Settings: FLASHER, REBOOT, SERIAL,
TIMEOUT) come from env['TEENSY_OPTIONS'], as tools/flash.py builds them. The
work is teensyml.flash, imported when the action runs so reading the
SConscripts stays fast. Ctrl-C and SIGTERM stop it
(teensyml.interrupts: SCons runs the action on a worker thread).
"""
from SCons.Script import Action

from teensyml import interrupts
from teensyml.errors import build_action


@build_action
def _flash(target, source, env):
    from teensyml import flash
    flash.run(str(source[0]), flash.Settings.from_options(env["TEENSY_OPTIONS"]))


def flash_command(env, firmware, name="flash"):
    """The alias `name`: check and program firmware['hex']. Returns it."""
    alias = env.Alias(name, firmware["hex"], Action(_flash, None))
    env.AlwaysBuild(alias)
    return alias


def generate(env):
    interrupts.listen_in_scons()     # the main thread, while SCons reads the build
    env.AddMethod(flash_command, "FlashCommand")


def exists(env):
    return True
