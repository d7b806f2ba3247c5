"""SCons tool: `scons monitor` opens the serial console to the board.

    env.Tool("teensy_monitor")
    env.MonitorCommand(firmware)    # firmware: {'elf', 'hex', 'map'} nodes

The alias depends on the ELF (fault addresses are decoded with it), so it is
built first; with `scons flash monitor` the console waits for the flash to
finish, whatever -j says. Its settings (teensyml.monitor.Settings: PORT,
BAUD, EOL, ECHO, TIMESTAMPS, LOG, SEND, EXPECT, TIMEOUT) come from
env['TEENSY_OPTIONS'], as tools/monitor.py builds them; the work is
teensyml.monitor, imported when the action runs. Ctrl-C (when not typed
into the console) and SIGTERM stop it (teensyml.interrupts).
"""
from SCons.Script import COMMAND_LINE_TARGETS, Action

from teensyml import interrupts
from teensyml.errors import build_action


@build_action
def _monitor(target, source, env):
    from teensyml import monitor
    return monitor.run(monitor.Settings.from_options(env["TEENSY_OPTIONS"]),
                       elf=str(source[0]))


def monitor_command(env, firmware, name="monitor", flash="flash"):
    """The alias `name`: the console, decoding with firmware['elf']. When the
    command line also asks for the alias `flash`, the console waits for it."""
    alias = env.Alias(name, firmware["elf"], Action(_monitor, None))
    env.AlwaysBuild(alias)
    if flash in COMMAND_LINE_TARGETS:
        # Order only: `scons monitor` alone must not flash.
        env.Requires(alias, env.Alias(flash))
    return alias


def generate(env):
    interrupts.listen_in_scons()     # the main thread, while SCons reads the build
    env.AddMethod(monitor_command, "MonitorCommand")


def exists(env):
    return True
