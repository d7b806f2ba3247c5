"""The component table: every library the build makes, and who reads its name.

A library's name is a contract between the SConscript that builds it
(lib<name>.a), the linker script (ITCM=kernels moves code by archive name) and
the size report (which attributes bytes by archive name). All three read it
here, so a rename here renames it everywhere, and a library the table lacks
is refused when a firmware is declared (link_order).

To add a library: a row below (name, size-report component, ITCM role, the
SConscript that builds it) placed in LIBRARIES' link order; in that SConscript
`env.StaticLibrary(f"{library_dir}/{ROW.name}", ...)` returned as
`Built(libraries={ROW: node})`; in SConstruct, that Built passed to
link_order(). A new size-report component also needs its label in
components.py.

SConscripts hand each other a Built (libraries, objects, include
directories, defines) rather than dicts keyed by strings.
"""
from dataclasses import dataclass, field

# ITCM roles, what ITCM=kernels does with a library's code (ITCM=all moves
# every library's, ITCM=none none).
KERNEL_CODE = "kernel code"   # to ITCM, its set-up functions excepted (linker_script)
STAYS = "stays in flash"
ITCM_ROLES = (KERNEL_CODE, STAYS)


@dataclass(frozen=True)
class Library:
    name: str          # the archive is lib<name>.a
    component: str     # its size-report component (components.py)
    itcm: str          # one of ITCM_ROLES
    sconscript: str    # the SConscript that builds it, from the top directory

    @property
    def archive(self):
        return f"lib{self.name}.a"


TFLM_TESTING = Library("tflm_testing", "tflm-testing", STAYS, "src/kernel_tests/SConscript")
TFLM_KERNELS = Library("tflm_kernels", "tflm-kernels", KERNEL_CODE,
                       "third_party/tflm.SConscript")
CMSIS_NN = Library("cmsis_nn", "cmsis-nn", KERNEL_CODE, "third_party/cmsis_nn.SConscript")
TFLM_CORE = Library("tflm_core", "tflm-core", STAYS, "third_party/tflm.SConscript")
BOARD = Library("board", "board", STAYS, "src/board/teensy40/SConscript")
TINYUSB = Library("tinyusb", "tinyusb", STAYS, "third_party/tinyusb.SConscript")
NXP_SDK = Library("nxp_sdk", "nxp-sdk", STAYS, "third_party/nxp_sdk.SConscript")

# In link order: the images' layout follows it (and so the ITCM lines'
# order in the linker script).
LIBRARIES = (TFLM_TESTING, TFLM_KERNELS, CMSIS_NN, TFLM_CORE, BOARD, TINYUSB, NXP_SDK)


class UnknownLibrary(ValueError):
    """A library the component table does not list: the linker script and the
    size report would not know it (a mistake in the build's code, not the user's)."""


def check(libraries=LIBRARIES):
    """`libraries`, checked: unique names, known ITCM roles."""
    names = [library.name for library in libraries]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"The component table lists {', '.join(duplicates)} twice.")
    for library in libraries:
        if library.itcm not in ITCM_ROLES:
            raise ValueError(f"{library.name}: ITCM role {library.itcm!r} is not one of "
                             f"{', '.join(ITCM_ROLES)}.")
    return libraries


def archives(itcm, libraries=LIBRARIES):
    """The archive names (libX.a) of the libraries with ITCM role `itcm`, in order."""
    return tuple(library.archive for library in libraries if library.itcm == itcm)


def component_archives(component, libraries=LIBRARIES):
    """Origin globs of a size-report component's libraries ("libX.a(*)")."""
    return tuple(f"{library.archive}(*)" for library in libraries
                 if library.component == component)


@dataclass(frozen=True)
class Built:
    """What a component's SConscript hands back."""
    libraries: dict = field(default_factory=dict)   # Library -> its archive node
    objects: tuple = ()          # linked as objects: nothing refers to them by name
    include: tuple = ()          # -I directories its users need (Dir nodes)
    defines: tuple = ()          # CPPDEFINES its users need
    kernel_defines: tuple = ()   # TFLM: the kernels' own, for code that names kernels
    link_flags: tuple = ()       # what the image's link needs from it


def link_flags(*parts):
    """The link flags of the Built `parts` (None: a component not built), in order."""
    return [flag for part in parts if part is not None for flag in part.link_flags]


def check_archives(names, libraries=LIBRARIES):
    """UnknownLibrary naming the archives among `names` (libX.a) the table lacks."""
    known = {library.archive for library in libraries}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UnknownLibrary(
            f"{', '.join(unknown)}: not in the component table "
            f"(site_scons/teensyml/component_table.py). Add a row, so that the linker "
            f"script and the size report know the library.")


def link_order(*parts, libraries=LIBRARIES):
    """The archive nodes of the Built `parts` (None: a component not built),
    in the table's link order; UnknownLibrary for a library it lacks."""
    found = {row.archive: node for part in parts if part is not None
             for row, node in part.libraries.items()}
    check_archives(found, libraries)
    return [found[library.archive] for library in libraries if library.archive in found]


check()
