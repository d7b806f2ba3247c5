"""Reproducible images: the same commit and options give the same
firmware.hex from any checkout path, with no checkout path inside, and a
second checkout builds from the first one's object cache without compiling.

Two clean checkouts at paths of different lengths, each with a copy of
third_party (as `scons deps` would extract it), one configuration, one
shared CACHE= directory.
"""
import shutil

import pytest

from conftest import THIRD_PARTY, clean_checkout, layout, requires_third_party, run_scons
from teensyml import deps
from test_build_speed import compile_lines

pytestmark = requires_third_party

CONFIGURATION = {"USE_CMSIS_NN": 1}


def checkout_with_third_party(destination):
    directory = clean_checkout(destination)
    for dep in deps.required(deps.load_manifest(THIRD_PARTY / "manifest.toml")):
        # copytree keeps mtimes: the tree matches its record without hashing.
        shutil.copytree(THIRD_PARTY / dep.name, directory / "third_party" / dep.name,
                        symlinks=True)
    return directory


def hex_data(path):
    """The bytes of an Intel HEX file's data records, in file order."""
    return b"".join(bytes.fromhex(line[9:-2]) for line in path.read_text().split()
                    if line[7:9] == "00")


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    places = [tmp_path_factory.mktemp("first") / "teensyml",
              tmp_path_factory.mktemp("second") / "a" / "longer" / "path" / "teensyml"]
    found = []
    for place in places:
        directory = checkout_with_third_party(place)
        result = run_scons(*(f"{key}={value}" for key, value in CONFIGURATION.items()),
                           f"CACHE={cache}", cwd=directory)
        image = layout(directory, **CONFIGURATION).firmware
        found.append({"dir": directory, "output": result.stdout,
                      "hex": image["hex"], "elf": image["elf"]})
    return found


def test_two_checkouts_give_the_same_firmware_hex(builds):
    first, second = builds
    assert compile_lines(first["output"]), "the first checkout compiled nothing"
    assert first["hex"].read_bytes() == second["hex"].read_bytes()
    # The ELF too, debug information included.
    assert first["elf"].read_bytes() == second["elf"].read_bytes()


def test_no_checkout_path_in_the_image(builds):
    for build in builds:
        path = str(build["dir"]).encode()
        assert path not in hex_data(build["hex"])
        # Nor in the ELF's debug information (-ffile-prefix-map).
        assert path not in build["elf"].read_bytes()
    # What the debug information names instead: paths from the top directory
    # (BUILD=release compiles TFLM's messages, and their __FILE__, out of the image).
    assert b"third_party/tflite-micro/tensorflow/" in builds[0]["elf"].read_bytes()


def test_a_second_checkout_compiles_nothing_from_a_warm_cache(builds):
    output = builds[1]["output"]
    assert compile_lines(output) == [], output
    assert "from cache" in output
