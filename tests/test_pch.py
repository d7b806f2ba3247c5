"""The transient precompiled header's logic (teensyml.pch), without SCons
or GCC: a stand-in compiler writes the .gch (slowly when asked, so that a
signal can arrive while it writes). The builds that use it are in
test_build_speed.py."""
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from teensyml import pch

STAND_IN = r"""
import os, sys, time
out = sys.argv[sys.argv.index("-o") + 1]
with open(os.environ["PCH_LOG"], "a") as log:
    log.write(out + "\n")
with open(out, "wb") as stream:
    stream.write(b"partial ")
    stream.flush()
    if os.environ.get("PCH_SLOW"):
        open(os.environ["PCH_SLOW"], "w").close()     # now writing
        time.sleep(60)
    if os.environ.get("PCH_FAIL"):
        sys.exit(1)
    stream.write(b"gch")
"""


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """A header, an input, a stand-in compiler and its log of outputs."""
    compiler = tmp_path / "compiler.py"
    compiler.write_text(STAND_IN)
    log = tmp_path / "log"
    log.write_text("")
    monkeypatch.setenv("PCH_LOG", str(log))
    header = tmp_path / "kernels_pch.h"
    header.write_text('#include "a.h"\n')
    stamp = tmp_path / "stamp.json"
    stamp.write_text("1")
    paths = pch.Paths(str(header))

    class Setup:
        pass
    s = Setup()
    s.paths, s.header, s.stamp, s.tmp = paths, header, stamp, tmp_path
    s.command = [sys.executable, str(compiler), "-x", "c++-header", str(header)]
    s.inputs = [str(header), str(stamp)]
    s.compiles = lambda: len(log.read_text().split())
    s.announced = []
    s.announce = s.announced.append
    return s


def leftovers(directory):
    return sorted(path.name for path in directory.iterdir()
                  if path.name.endswith(".tmp") or ".gch" in path.name
                  and not path.name.endswith(".lock"))


def test_the_key_follows_the_command_and_the_inputs_contents(setup):
    first = pch.key(setup.command, setup.inputs)
    assert pch.key(setup.command, setup.inputs) == first
    assert pch.key(setup.command + ["-DX"], setup.inputs) != first
    setup.stamp.write_text("2")
    assert pch.key(setup.command, setup.inputs) != first


def test_build_writes_the_gch_and_its_key_once(setup):
    assert pch.build(setup.paths, setup.command, setup.inputs, setup.announce) == 0
    assert open(setup.paths.gch, "rb").read() == b"partial gch"
    assert pch.is_valid(setup.paths, pch.key(setup.command, setup.inputs))
    assert pch.build(setup.paths, setup.command, setup.inputs, setup.announce) == 0
    assert setup.compiles() == 1 and len(setup.announced) == 1
    setup.stamp.write_text("2")                 # another input: built again
    pch.build(setup.paths, setup.command, setup.inputs, setup.announce)
    assert setup.compiles() == 2


def test_a_failed_compile_leaves_no_gch(setup, monkeypatch):
    monkeypatch.setenv("PCH_FAIL", "1")
    assert pch.build(setup.paths, setup.command, setup.inputs, setup.announce) == 1
    assert leftovers(setup.tmp) == []


def test_prepare_uses_a_valid_gch(setup):
    pch.build(setup.paths, setup.command, setup.inputs, setup.announce)
    assert pch.prepare(setup.paths, setup.command, setup.inputs, "a.o", setup.announce) == "use"
    assert setup.compiles() == 1


def test_prepare_builds_only_after_enough_objects_compiled_without(setup):
    results = [pch.prepare(setup.paths, setup.command, setup.inputs, f"k{n}.o",
                           setup.announce, misses_before=2) for n in range(4)]
    assert results == ["without", "without", "built", "use"]
    assert setup.compiles() == 1
    # The same object compiled twice counts once.
    pch.remove(str(setup.header))
    for _ in range(3):
        assert pch.prepare(setup.paths, setup.command, setup.inputs, "k0.o",
                           setup.announce, misses_before=2) == "without"


def test_prepare_removes_a_stale_gch_before_the_compiler_runs(setup):
    pch.build(setup.paths, setup.command, setup.inputs, setup.announce)
    setup.stamp.write_text("2")                 # the .gch is now from other inputs
    assert pch.prepare(setup.paths, setup.command, setup.inputs, "a.o", setup.announce) \
        == "without"
    assert not os.path.exists(setup.paths.gch) and not os.path.exists(setup.paths.key)


def test_a_gch_without_its_key_is_not_used(setup):
    pch.build(setup.paths, setup.command, setup.inputs, setup.announce)
    os.unlink(setup.paths.key)                  # as between the rename and the key
    assert not pch.is_valid(setup.paths, pch.key(setup.command, setup.inputs))
    assert pch.prepare(setup.paths, setup.command, setup.inputs, "a.o", setup.announce) \
        == "without"
    assert not os.path.exists(setup.paths.gch)


def test_prepare_does_not_wait_for_another_process_building_it(setup):
    with pch.locked(setup.paths) as held:       # another open file: as another process
        assert held
        assert pch.prepare(setup.paths, setup.command, setup.inputs, "a.o",
                           setup.announce, misses_before=0) == "without"
    assert setup.compiles() == 0


def test_remove_deletes_everything_but_the_lock_and_not_while_it_is_held(setup):
    pch.build(setup.paths, setup.command, setup.inputs, setup.announce)
    pch.prepare(setup.paths, setup.command + ["-DX"], setup.inputs, "a.o", setup.announce)
    (setup.tmp / (os.path.basename(setup.paths.gch) + ".x1y2.tmp")).write_text("partial")
    with pch.locked(setup.paths):
        pch.remove(str(setup.header))
        assert leftovers(setup.tmp) != []
    pch.remove(str(setup.header))
    assert leftovers(setup.tmp) == []


def test_the_command_line_builds_and_writes_the_stamp(setup):
    stamp_out = setup.tmp / "pch.stamp"
    result = subprocess.run([sys.executable, "-m", "teensyml.pch", "build", str(setup.header),
                             str(stamp_out), str(setup.stamp), "--", *setup.command],
                            cwd=ROOT / "site_scons", capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"  PCH  {setup.paths.gch}\n"
    assert stamp_out.is_file() and pch.is_valid(setup.paths, pch.key(setup.command,
                                                                     setup.inputs))
    usage = subprocess.run([sys.executable, "-m", "teensyml.pch", "build"],
                           cwd=ROOT / "site_scons", capture_output=True, text=True)
    assert usage.returncode == 2 and "usage:" in usage.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_signal_while_the_gch_is_written_leaves_none(setup, signum, monkeypatch):
    """Ctrl-C signals the whole foreground group (the compiler too), SIGTERM
    may come to this process alone: either way the partial file goes, and
    the status is 128 + the signal."""
    writing = setup.tmp / "writing"
    monkeypatch.setenv("PCH_SLOW", str(writing))
    process = subprocess.Popen([sys.executable, "-m", "teensyml.pch", "build",
                                str(setup.header), str(setup.tmp / "pch.stamp"), "--",
                                *setup.command], cwd=ROOT / "site_scons",
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not writing.exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        if signum == signal.SIGINT:
            os.killpg(process.pid, signum)
        else:
            os.kill(process.pid, signum)
        assert process.wait(timeout=10) == 128 + signum
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert leftovers(setup.tmp) == []
    assert not (setup.tmp / "pch.stamp").exists()
