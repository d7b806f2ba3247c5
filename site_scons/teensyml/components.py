"""Which component every byte of the image belongs to.

The rules are data: the first rule whose origin glob (and input-section glob,
when it has one) matches an input section names its component. Origins are
what the map file says each input section came from, seen through
map_file.origin_key(): `libname.a(member.o)` for archive members, `/path.o`
for objects. In origin globs `*` stays within one path component and `**`
spans any number, so `**/fixture/*.o` is not fooled by build/fixture/board_core/.
Bytes no input section owns are padding (fill inside a section, alignment
between sections) or linker-generated (stubs, veneers, LONG(...) tables). An
object no rule names lands in OTHER, and reports list it. The libraries the
build makes come from the component table (component_table.py), which names
each one's component here.
"""
import bisect
import functools
import re
from collections import Counter
from dataclasses import dataclass
from fnmatch import fnmatchcase

from . import component_table, map_file
from .errors import UserError


@dataclass(frozen=True)
class Component:
    key: str
    label: str
    origins: tuple = ()     # globs over map_file.origin_key()
    sections: tuple = ()    # globs over input-section names; empty: any


def size_components(libraries=component_table.LIBRARIES):
    """The components, in the order classify() tries them; the archives of the
    libraries the build makes come from the component table."""
    built = {key: component_table.component_archives(key, libraries)
             for key in {library.component for library in libraries}}
    rows = (
        # The weights: whatever object holds them, the .model_data input section.
        Component("model", "model data", ("**",), (".model_data", ".model_data.*")),
        Component("app", "application",
                  ("**/app/**", "**/fixture/*.o", "**/tensor_console/*.o")),
        Component("tflm-core", "TFLM core", built.pop("tflm-core", ())),
        Component("tflm-kernels", "TFLM kernels", built.pop("tflm-kernels", ())),
        Component("tflm-testing", "TFLM test support (kernel-test images)",
                  built.pop("tflm-testing", ())),
        Component("cmsis-nn", "CMSIS-NN", built.pop("cmsis-nn", ())),
        Component("tinyusb", "TinyUSB (USB device stack)", built.pop("tinyusb", ())),
        Component("nxp-sdk", "NXP SDK", built.pop("nxp-sdk", ()) + ("**/mcux-sdk/**",)),
        Component("board", "board support",
                  built.pop("board", ()) + ("**/board_core/*.o", "**/board/**")),
        Component("newlib", "newlib (libc, libm)",
                  ("libc_nano.a(*)", "libc.a(*)", "libg_nano.a(*)", "libg.a(*)", "libm.a(*)",
                   "libnosys.a(*)")),
        Component("libstdc++", "libstdc++/libsupc++",
                  ("libstdc++_nano.a(*)", "libstdc++.a(*)", "libsupc++_nano.a(*)",
                   "libsupc++.a(*)")),
        Component("libgcc", "libgcc (compiler runtime)", ("libgcc.a(*)", "**/crt*.o")),
        Component("linker", "linker-generated (stubs, veneers, copy tables)",
                  (map_file.LINKER_STUBS,)),
    )
    if built:
        raise component_table.UnknownLibrary(
            f"The component table names size-report component(s) {', '.join(sorted(built))} "
            f"that components.py does not define: add them there with a label.")
    return rows


COMPONENTS = size_components()
PADDING = Component("padding", "padding (alignment, fill, gaps)")
OTHER = Component("other", "objects no rule in components.py names")
# Bytes inside a section the map lists nothing for: none in a consistent
# link; reports say so when there are any rather than call them padding.
UNLISTED = Component("unlisted", "bytes the map lists no input section or fill for")

ALL = COMPONENTS + (PADDING, OTHER, UNLISTED)
BY_KEY = {component.key: component for component in ALL}


def classify(origin, section_name, components=COMPONENTS):
    """The component key of one input section."""
    key = map_file.origin_key(origin)
    for component in components:
        if component.sections and not any(fnmatchcase(section_name, pattern)
                                           for pattern in component.sections):
            continue
        if any(_origin_glob(pattern).fullmatch(key) for pattern in component.origins):
            return component.key
    return OTHER.key


@functools.lru_cache(maxsize=None)
def _origin_glob(pattern):
    parts = re.split(r"(\*\*/|\*\*|\*|\?)", pattern)
    wild = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(wild.get(part, re.escape(part)) for part in parts))


def check_keys(keys):
    """Validate component names a user typed; returns them as a tuple."""
    unknown = [key for key in keys if key not in BY_KEY]
    if unknown:
        raise UserError(f"COMPONENT={','.join(unknown)} names no component; choose from: "
                        f"{', '.join(BY_KEY)}.")
    return tuple(keys)


@dataclass
class Attribution:
    """Bytes per component in each region, and who owns each address range."""
    regions: dict         # region name -> Counter(component key -> bytes)
    owners: dict          # section index -> [(start, end, component key)], run addresses
    other_origins: set    # origins that fell to OTHER


def attribute(image, usage, link_map):
    """Attribute every byte `usage` counts in each region to a component,
    using the map's input sections. Raises a UserError when the map does
    not describe this image (stale, or another link's)."""
    regions = {name: Counter() for name in usage.regions}
    owners, other = {}, set()
    for section in image.sections:
        output = link_map.get((section.name, section.address))
        if output is None or output.size != section.size:
            raise _stale(image, section, output)
        counts, ranges = _split(section, output, other)
        owners[section.index] = ranges
        for region, _ in section.placements():
            if region is not None:
                regions[region.name].update(counts)
    for name, use in usage.regions.items():
        if use.gap_bytes:
            regions[name][PADDING.key] += use.gap_bytes
    return Attribution({name: Counter({k: v for k, v in counts.items() if v})
                        for name, counts in regions.items()}, owners, other)


def _split(section, output, other):
    """Counter of component bytes of one output section, and the address
    ranges of its input sections."""
    counts, ranges = Counter(), []
    pieces = [piece for piece in output.pieces if piece.size]
    # The linker lays pieces out one after the other, so each ends where the
    # next begins. Clamping matters for string sections merged into others:
    # the map lists them with their size before merging, at the address of
    # the piece after them, though they hold no byte of their own.
    limits = [piece.address for piece in pieces[1:]] + [section.address + section.size]
    for piece, limit in zip(pieces, limits):
        size = max(0, min(piece.size, limit - piece.address))
        if piece.kind == "fill":
            counts[PADDING.key] += size
            continue
        component = classify(piece.origin, piece.name)
        if component == OTHER.key:
            other.add(piece.origin)
        counts[component] += size
        if size:
            ranges.append((piece.address, piece.address + size, component))
    rest = section.size - sum(counts.values())
    if rest < 0:
        raise UserError(f"The map lists {-rest:,} bytes more in {section.name} than the "
                        f"ELF holds; relink so the map and the ELF come from one link.")
    counts[UNLISTED.key] += rest
    ranges.sort()
    return counts, ranges


def owner(attribution, symbol):
    """The component of a symbol: the input section that holds its address."""
    ranges = attribution.owners.get(symbol.section, ())
    at = bisect.bisect_right(ranges, (symbol.address, float("inf"), "")) - 1
    if at >= 0 and ranges[at][0] <= symbol.address < ranges[at][1]:
        return ranges[at][2]
    return UNLISTED.key


def _stale(image, section, output):
    where = ("not at all" if output is None else
             f"as {output.size:,} bytes at 0x{output.address:08X}")
    return UserError(f"The map file does not belong to {image.path}: the ELF has "
                     f"{section.name} ({section.size:,} bytes at 0x{section.address:08X}), "
                     f"the map {where}. The map is stale or from another link; relink "
                     f"(`scons`) so both come from the same link.")
