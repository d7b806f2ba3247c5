"""Shared test helpers: where things are, how to run scons, what to skip."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
THIRD_PARTY = ROOT / "third_party"
NEEDS_DEPS_REASON = ("third_party is absent: run `scons deps` (MIRROR=<dir> offline) "
                     "to enable the real-firmware tests")


def third_party_ready():
    sys.path.insert(0, str(ROOT / "site_scons"))
    from teensyml import deps
    manifest = deps.load_manifest(THIRD_PARTY / "manifest.toml")
    return all(deps.problem(dep, THIRD_PARTY) is None for dep in deps.required(manifest))


requires_third_party = pytest.mark.skipif(not third_party_ready(), reason=NEEDS_DEPS_REASON)


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
    base = ROOT / "build" / "fixture" / "fixture"
    return {kind: base / f"fixture.{kind}" for kind in ("elf", "hex", "map")}
