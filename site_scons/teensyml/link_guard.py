"""Run the firmware link, then check the image fits the chip and print its size.

    python -m teensyml.link_guard --elf OUT.elf -- <the link command line>

The linker's own answer to a full region is one raw line ("region `DTCM'
overflowed by 1234 bytes"). When that happens this guard links again with
--noinhibit-exec into a scratch file, only to see what is in the region, and
fails with the region, the bytes over and the largest contributors. A link
that succeeds is checked the same way against the FlexRAM rules the linker
cannot express (ITCM banks plus DTCM plus stack within 512 KB). A failed
check removes the ELF: an image that cannot run is never left behind.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

from . import memory_map as mm
from . import region_usage
from .errors import UserError, cli

OVERFLOW = re.compile(r"region `(\w+)' overflowed by (\d+) bytes")


def _replace_output(command, elf, scratch):
    """The link command writing `scratch` instead of `elf`."""
    result = list(command)
    for index, word in enumerate(result):
        if word == elf and index and result[index - 1] == "-o":
            result[index] = scratch
        elif word == f"-o{elf}":
            result[index] = f"-o{scratch}"
    return result + ["-Wl,--noinhibit-exec"]


def explain_overflow(command, elf, region_name, over):
    region = mm.REGIONS_BY_NAME.get(region_name)
    handle, scratch = tempfile.mkstemp(suffix=".elf")
    os.close(handle)
    try:
        subprocess.run(_replace_output(command, elf, scratch), capture_output=True)
        biggest = region_usage.largest_symbols(scratch, region) if region else []
    finally:
        os.unlink(scratch)
    listing = ", ".join(f"{name} ({size:,} B)" for name, size in biggest)
    return UserError(f"The firmware does not fit: {region_name} overflows by {int(over):,} "
                     f"bytes. Largest there: {listing or 'unknown'}. Move code out of ITCM "
                     f"(ITCM=none, fewer ITCM_EXTRA entries) or move the model or arena "
                     f"(MODEL_MEM=, ARENA_MEM=).")


@cli
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elf", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    result = subprocess.run(command, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        overflows = OVERFLOW.findall(result.stderr)
        if overflows:
            raise explain_overflow(command, args.elf, *overflows[0])
        sys.stderr.write(result.stderr)
        return result.returncode
    sys.stderr.write(result.stderr)
    usage = region_usage.measure(args.elf)
    try:
        region_usage.check(args.elf, usage)
    except UserError:
        os.remove(args.elf)
        raise
    print(region_usage.summary_line(os.path.basename(args.elf), usage))
    return 0


if __name__ == "__main__":
    sys.exit(main())
