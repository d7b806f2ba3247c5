"""Run the firmware link, then check the image fits the chip and print its size.

    python -m teensyml.image.link_guard --elf OUT.elf -- <the link command line>

The linker's own answer to a full region is one raw line ("region `DTCM'
overflowed by 1234 bytes"). When that happens this guard links again with
--noinhibit-exec into a scratch file, only to see what is in the region, and
fails with the region, the bytes over and the largest contributors. A link
that succeeds is checked the same way against the FlexRAM rules the linker
cannot express (ITCM banks plus DTCM plus stack within 512 KB), and each
ITCM_EXTRA entry the generated linker script records must have selected some
code (one that matches nothing would leave the image unchanged, silently). A
failed check removes the ELF: an image that cannot run, or is not what was
asked for, is never left behind.

After a good link it writes the size report next to the ELF (name.size.json,
the previous one kept as name.size.prev.json) and warns when the stack has
less than STACK_MARGIN spare bytes: --stack-margin, else the environment's
TEENSY_STACK_MARGIN (the teensy_size tool sets it, outside the link command's
signature, so changing the margin relinks nothing), else the option's default.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

from .. import linker_script, size_report
from . import map_file, region_usage
from .. import memory_map as mm
from ..errors import UserError, cli
from ..option_values import STACK_MARGIN_VARIABLE, option_value

OVERFLOW = re.compile(r"region `(\w+)' overflowed by (\d+) bytes")
MAP_OPTION = re.compile(r"(?:^|,)-Map[=,](.+)$")


def _replace_output(command, elf, scratch):
    """The link command writing `scratch` instead of `elf`."""
    result = list(command)
    for index, word in enumerate(result):
        if word == elf and index and result[index - 1] == "-o":
            result[index] = scratch
        elif word == f"-o{elf}":
            result[index] = f"-o{scratch}"
    return result + ["-Wl,--noinhibit-exec"]


def map_path_of(command):
    """The map file the link command writes (-Wl,-Map=...), or None."""
    for word in command:
        match = MAP_OPTION.search(word)
        if match:
            return match.group(1)
    return None


def script_path_of(command):
    """The linker script the link command reads (-T path, -Tpath), or None."""
    for index, word in enumerate(command):
        if word == "-T" and index + 1 < len(command):
            return command[index + 1]
        if word.startswith("-T") and len(word) > 2:
            return word[2:]
    return None


def check_itcm_extra(command, map_path):
    """A UserError when an ITCM_EXTRA entry recorded in the linker script
    selected no code input section of the link (its map tells)."""
    script = script_path_of(command)
    if not script or not map_path:
        return
    try:
        with open(script, encoding="utf-8") as stream:
            patterns = linker_script.recorded_itcm_extra(stream.read())
    except OSError:
        return
    if patterns:
        code = [(piece.name, piece.origin, piece.size)
                for section in map_file.read(map_path).values() for piece in section.pieces
                if piece.kind == "input" and piece.size
                and (piece.name == ".text" or piece.name.startswith(".text."))]
        linker_script.check_itcm_extra(patterns, code, map_path)


def _attribution(usage, map_path, warn=False):
    """Components of a measured image, when its map can tell them (a map
    that cannot is worth a warning after a good link, not a failed build)."""
    if not map_path:
        return None
    try:
        return size_report.attribute(usage, map_path)
    except UserError as error:
        if warn:
            print(f"warning: no size report: {error}", file=sys.stderr)
        return None


def explain_overflow(command, elf, region_name, over):
    region = mm.REGIONS_BY_NAME.get(region_name)
    handle, scratch = tempfile.mkstemp(suffix=".elf")
    os.close(handle)
    try:
        # The scratch link rewrites the map too: it describes the scratch ELF.
        subprocess.run(_replace_output(command, elf, scratch), capture_output=True)
        usage = region_usage.measure(scratch)
        largest = region_usage.contributors(usage, region, _attribution(
            usage, map_path_of(command))) if region else "Largest there: unknown."
    except UserError:
        largest = "Largest there: unknown (the scratch link failed too)."
    finally:
        os.unlink(scratch)
    return UserError(f"The firmware does not fit: {region_name} overflows by {int(over):,} "
                     f"bytes. {largest} {region_usage.MOVE_HINT}")


def stack_margin(given):
    text = given if given is not None else os.environ.get(STACK_MARGIN_VARIABLE)
    if text is None:
        return size_report.DEFAULT_STACK_MARGIN
    return option_value("STACK_MARGIN", text)


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elf", required=True)
    parser.add_argument("--stack-margin", help="bytes (default: $TEENSY_STACK_MARGIN)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    margin = stack_margin(args.stack_margin)
    result = subprocess.run(command, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        overflows = OVERFLOW.findall(result.stderr)
        if overflows:
            raise explain_overflow(command, args.elf, *overflows[0])
        sys.stderr.write(result.stderr)
        return result.returncode
    sys.stderr.write(result.stderr)
    usage = region_usage.measure(args.elf)
    map_path = map_path_of(command)
    attribution = _attribution(usage, map_path, warn=True)
    try:
        check_itcm_extra(command, map_path)
        region_usage.check(args.elf, usage, attribution)
    except UserError:
        os.remove(args.elf)
        raise
    print(region_usage.summary_line(os.path.basename(args.elf), usage), flush=True)
    if attribution is not None:
        size_report.write_build_json(size_report.from_usage(
            usage, map_path, stack_margin=margin, attribution=attribution), args.elf)
    warning = region_usage.stack_warning(usage, margin, attribution)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
