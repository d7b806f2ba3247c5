"""Shared test helpers: where things are, how to run scons, what to skip."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
THIRD_PARTY = ROOT / "third_party"
NEEDS_DEPS_REASON = ("third_party is absent: run `scons deps` (MIRROR=<dir> offline) "
                     "to enable the real-firmware tests")


def layout(directory=None, **arguments):
    """Where the build puts the configuration of `arguments` (option: value),
    under `directory` (a checkout; default: this one): teensyml.build_layout."""
    sys.path.insert(0, str(ROOT / "site_scons"))
    from teensyml.build_layout import build_layout
    from teensyml.options import resolve
    return build_layout(resolve({key: str(value) for key, value in arguments.items()}),
                        Path(directory, "build") if directory else None)


def third_party_ready():
    sys.path.insert(0, str(ROOT / "site_scons"))
    from teensyml import deps
    manifest = deps.load_manifest(THIRD_PARTY / "manifest.toml")
    return all(deps.problem(dep, THIRD_PARTY) is None for dep in deps.required(manifest))


requires_third_party = pytest.mark.skipif(not third_party_ready(), reason=NEEDS_DEPS_REASON)


@pytest.fixture
def assemble(tmp_path):
    """assemble(source) -> the bytes of Thumb-2 `source` for the Cortex-M7
    (the firmware's toolchain; skips without it)."""
    if shutil.which("arm-none-eabi-as") is None:
        pytest.skip("arm-none-eabi-as is not installed (the firmware toolchain: ./setup.sh)")

    def run(source):
        (tmp_path / "code.s").write_text(".syntax unified\n.thumb\n" + source + "\n")
        subprocess.run(["arm-none-eabi-as", "-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mthumb",
                        "-o", str(tmp_path / "code.o"), str(tmp_path / "code.s")], check=True)
        subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", str(tmp_path / "code.o"),
                        str(tmp_path / "code.bin")], check=True)
        return (tmp_path / "code.bin").read_bytes()
    return run


def host_program(directory, driver, sources, include_dirs=()):
    """Our C `sources` with a test's `driver` (C text) built for the host, in
    `directory` (its include path first); skips without a host compiler."""
    compiler = shutil.which("cc")
    if compiler is None:
        pytest.skip("no host C compiler (cc): ./setup.sh installs gcc")
    (directory / "driver.c").write_text(driver)
    program = directory / "program"
    includes = [flag for path in (directory, *include_dirs) for flag in ("-I", str(path))]
    subprocess.run([compiler, "-O2", "-Wall", "-Wextra", "-Werror", *includes, "-o",
                    str(program), str(directory / "driver.c"), *map(str, sources)],
                   check=True)
    return program


def load_bench(name):
    """bench/<name>.py as a module (bench/ is scripts, not a package; they
    import their neighbours, such as bootstrap, as a script would)."""
    import importlib.util
    if str(ROOT / "bench") not in sys.path:
        sys.path.append(str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_scons(*arguments, cwd=ROOT, check=True, env=None):
    """Run scons in the project; returns the CompletedProcess (text)."""
    result = subprocess.run([sys.executable, "-m", "SCons", "-Q", *arguments], cwd=cwd,
                            capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"scons {' '.join(arguments)} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


def clean_checkout(destination):
    """A copy of the project as a fresh clone has it: the files git tracks or
    would track, no third_party sources, no build outputs."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


@pytest.fixture(scope="session")
def fixture_firmware():
    """The CI fixture firmware with default placement: {'elf', 'hex', 'map'} paths."""
    run_scons("fixture")
    return layout().fixture


def flash_blocks(hex_path):
    """(HalfKay blocks, KB of data) of an image, as the flash tools count them."""
    sys.path.insert(0, str(ROOT / "site_scons"))
    from teensyml.flash.halfkay_protocol import plan_blocks
    from teensyml.image.teensy_image import load_bootable
    image = load_bootable(str(hex_path))
    return len(plan_blocks(image)), image.size / 1024
