"""The toolchain is checked whole before anything compiles: a PATH with
arm-none-eabi-gcc but not the rest of the tools the build runs is one
paragraph naming them, not a failure at the first archive a minute later."""
import os
import shutil

import pytest

from conftest import clean_checkout, layout, run_scons

PREFIX = "arm-none-eabi-"
BUILD_TOOLS = ("gcc", "g++", "ar")

pytestmark = pytest.mark.skipif(
    not all(shutil.which(PREFIX + tool) for tool in BUILD_TOOLS),
    reason="the Arm toolchain is not installed (./setup.sh)")


def environment_with(directory, tools):
    """An environment whose PATH is only `directory`, holding links to the
    named toolchain programs (and sh: SCons runs commands through it)."""
    directory.mkdir()
    for tool in tools:
        os.symlink(shutil.which(PREFIX + tool), directory / (PREFIX + tool))
    os.symlink(shutil.which("sh"), directory / "sh")
    return {**os.environ, "PATH": str(directory)}


@pytest.fixture
def checkout(tmp_path):
    return clean_checkout(tmp_path / "checkout")


@pytest.mark.parametrize("present,missing", [(("gcc", "g++"), ("ar",)),
                                             (("gcc",), ("g++", "ar"))])
def test_a_partial_toolchain_fails_before_compiling_naming_what_is_missing(
        checkout, tmp_path, present, missing):
    result = run_scons("fixture", "CACHE=0", cwd=checkout, check=False,
                       env=environment_with(tmp_path / "bin", present))
    assert result.returncode == 2
    named = {tool for tool in BUILD_TOOLS if f"{PREFIX}{tool} (" in result.stderr}
    assert named == set(missing), result.stderr      # each missing tool, with its role
    assert "sudo apt-get install gcc-arm-none-eabi" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not list(checkout.glob("build/**/*.o"))


def test_toolchain_dir_is_checked_the_same_way(checkout, tmp_path):
    environment_with(tmp_path / "bin", ("gcc", "ar"))
    result = run_scons("fixture", "CACHE=0", f"TOOLCHAIN_DIR={tmp_path / 'bin'}",
                       cwd=checkout, check=False)
    assert result.returncode == 2
    assert f"{PREFIX}g++ (compiles C++ and links)" in result.stderr
    assert not list(checkout.glob("build/**/*.o"))


def test_gcc_gxx_and_ar_are_all_the_build_needs(checkout, tmp_path):
    """The check asks for nothing the build does not run, and misses nothing
    it does: with exactly these tools on PATH the fixture builds."""
    run_scons("fixture", "CACHE=0", cwd=checkout,
              env=environment_with(tmp_path / "bin", BUILD_TOOLS))
    assert layout(checkout).fixture["hex"].is_file()
