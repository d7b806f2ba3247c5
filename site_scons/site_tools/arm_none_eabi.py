"""SCons tool: the GNU Arm Embedded toolchain for the Teensy 4.0's Cortex-M7.

Finds arm-none-eabi-gcc (TOOLCHAIN_DIR=, else PATH) and checks that the tools
the build runs beside it are there; sets the CPU, language and section flags
shared by every component, and the quiet one-line progress that VERBOSE=1
turns back into full command lines.
"""
import os
import shutil

from SCons.Action import Action

from teensyml import quiet
from teensyml.build_types import BUILD_TYPES, DEFAULT_BUILD
from teensyml.errors import UserError
from teensyml.options import scons_escape

PREFIX = "arm-none-eabi-"
INSTALL_HINT = ("sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi "
                "libstdc++-arm-none-eabi-newlib")

CPU_FLAGS = ["-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mfloat-abi=hard", "-mthumb"]
# Every function and object in its own section, so --gc-sections drops what
# nothing calls and the linker script can place single functions.
COMMON_FLAGS = CPU_FLAGS + ["-ffunction-sections", "-fdata-sections", "-fno-common",
                            "-fno-unwind-tables", "-fno-asynchronous-unwind-tables",
                            "-Wall", "-g"]
CXX_FLAGS = ["-std=c++17", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics",
             "-fno-use-cxa-atexit"]
C_FLAGS = ["-std=gnu11"]
# Paths in the objects (__FILE__, debug info) as seen from the top directory,
# whatever the checkout's location: the same sources give the same image. The
# flag names that location, so it sits inside $( $), out of every signature
# (and of the object cache's keys), where it changes nothing it would guard.
PREFIX_MAP_FLAGS = ["$(", "-ffile-prefix-map=${TOP_DIR}=.", "$)"]
LINK_FLAGS = CPU_FLAGS + ["--specs=nano.specs", "--specs=nosys.specs", "-nostartfiles",
                          "-Wl,--gc-sections", "-Wl,--no-warn-rwx-segments"]

def find_compiler(toolchain_dir=""):
    """Path of arm-none-eabi-gcc, or a UserError saying how to install it."""
    if toolchain_dir:
        candidate = os.path.join(toolchain_dir, PREFIX + "gcc")
        if os.access(candidate, os.X_OK):
            return candidate
        raise UserError(f"TOOLCHAIN_DIR={toolchain_dir} holds no {PREFIX}gcc. Point it at "
                        f"the toolchain's bin directory, or drop it to use the one on PATH "
                        f"(install: `{INSTALL_HINT}`).")
    found = shutil.which(PREFIX + "gcc")
    if not found:
        raise UserError(f"The Arm cross compiler ({PREFIX}gcc) is not installed or not on "
                        f"PATH. Install it with `{INSTALL_HINT}`, or give TOOLCHAIN_DIR=.")
    return found


# What the build runs, beside gcc: checked before anything compiles, so a
# partial toolchain fails at once rather than at the first archive or link.
# (objcopy, size, nm: the HEX file and the size report are made in Python.)
REQUIRED_TOOLS = {"g++": "compiles C++ and links", "ar": "archives the libraries"}


def check_toolchain(bin_dir):
    """A UserError naming every required tool missing beside the compiler."""
    missing = [f"{PREFIX}{name} ({role})" for name, role in REQUIRED_TOOLS.items()
               if not os.access(os.path.join(bin_dir, PREFIX + name), os.X_OK)]
    if missing:
        raise UserError(f"The Arm toolchain in {bin_dir} is incomplete: {PREFIX}gcc is "
                        f"there but not {', '.join(missing)}. Install the whole toolchain "
                        f"with `{INSTALL_HINT}`, or give TOOLCHAIN_DIR= a directory that "
                        f"holds all of them.")


def generate(env):
    for tool in ("gcc", "g++", "gnulink", "ar", "as"):
        env.Tool(tool)
    compiler = find_compiler(env.get("TOOLCHAIN_DIR", ""))
    bin_dir = os.path.dirname(compiler)
    check_toolchain(bin_dir)
    # Escaped: SCons substitutes these into command lines ($ in a path stays).
    tool = lambda name: scons_escape(os.path.join(bin_dir, PREFIX + name))  # noqa: E731
    env.Replace(CC=tool("gcc"), CXX=tool("g++"), AS=tool("gcc"), AR=tool("ar"),
                RANLIB=tool("ranlib"), LINK=tool("g++"), OBJCOPY=tool("objcopy"),
                SIZE=tool("size"), NM=tool("nm"), READELF=tool("readelf"),
                PROGSUFFIX=".elf", ARFLAGS="rcsD")
    build = BUILD_TYPES[env.get("BUILD", DEFAULT_BUILD)]
    # $OPTFLAGS so a component can choose its own level (TFLM's core is -Os).
    env["OPTFLAGS"] = build.optimization
    env["TOP_DIR"] = env.Dir("#").abspath
    env.Append(CCFLAGS=COMMON_FLAGS + ["$OPTFLAGS"] + PREFIX_MAP_FLAGS,
               CXXFLAGS=CXX_FLAGS, CFLAGS=C_FLAGS, ASFLAGS=CPU_FLAGS,
               ASPPFLAGS=CPU_FLAGS + PREFIX_MAP_FLAGS, LINKFLAGS=LINK_FLAGS)
    env["ASPPCOM"] = "$CC -c -x assembler-with-cpp $ASPPFLAGS $_CPPDEFFLAGS $_CPPINCFLAGS " \
                     "-o $TARGET $SOURCES"
    # `s` in ARFLAGS already writes the archive index: no ranlib step.
    env["BUILDERS"]["StaticLibrary"].action = Action("$ARCOM", "$ARCOMSTR")
    if build.optimized:
        env.Append(CPPDEFINES=["NDEBUG"])
    if not env.get("VERBOSE"):
        for variable, verb in quiet.TOOL_COMMANDS.items():
            env[variable] = quiet.line(verb)


def exists(env):
    try:
        find_compiler(env.get("TOOLCHAIN_DIR", ""))
        return True
    except UserError:
        return False
