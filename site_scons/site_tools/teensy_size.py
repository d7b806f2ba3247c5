"""SCons tool: `scons size-report`, where every byte of a firmware goes.

    env.Tool("teensy_size")
    env.SizeReportCommand(firmware)                      # alias size-report
    env.SizeReportCommand(fixture, alias="size-report-fixture")

The report itself is teensyml.size_report; its settings
(teensyml.size_report.Settings: FORMAT, DIFF, TOP, COMPONENT, SYMBOL,
STACK_MARGIN) come from env['TEENSY_OPTIONS'], as tools/size_report.py
builds them. Every link
already writes name.size.json through the link guard; this tool only adds the
command that prints a report on demand.
"""
from SCons.Script import Action

from teensyml.errors import build_action
from teensyml.option_values import STACK_MARGIN_VARIABLE, option_value


@build_action
def _print_report(target, source, env):
    from teensyml import size_report
    elf, map_file = source
    return size_report.run(str(elf), size_report.Settings.from_options(env["TEENSY_OPTIONS"]),
                           map_path=str(map_file))


def size_report_command(env, firmware, alias="size-report"):
    """An always-run alias printing the size report of `firmware` (a dict of
    nodes 'elf', 'hex', 'map'); it depends on the ELF and its map, so a stale
    firmware is linked first."""
    node = env.Alias(alias, [firmware["elf"], firmware["map"]], Action(_print_report, None))
    env.AlwaysBuild(node)
    return node


def generate(env):
    """Raises a UserError for a STACK_MARGIN that is not a byte count."""
    # The link guard warns about the stack after every link. The margin goes
    # through the environment, not the link command: changing a warning
    # threshold must not relink.
    margin = env.get("TEENSY_OPTIONS", {}).get("STACK_MARGIN")
    if margin is not None:
        env["ENV"][STACK_MARGIN_VARIABLE] = str(option_value("STACK_MARGIN", margin))
    env.AddMethod(size_report_command, "SizeReportCommand")


def exists(env):
    return True
