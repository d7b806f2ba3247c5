"""Build speed (docs/build-speed.md): the object cache, the compiler wrapper,
the ninja generator and the model-driven kernel selection.

The settings' logic is tested directly; the builds run on the CI fixture (our
own code, toolchain only) in a clean checkout, and, with third_party, on the
TFLM firmware. Timings are bench/build.py's business, not the tests'.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, clean_checkout, layout, load_bench, requires_third_party, run_scons
from teensyml import build_speed, options, pch, tflm
from teensyml.component_table import TFLM_KERNELS
from teensyml.errors import UserError

FIXTURE_HEX = layout().fixture["hex"].relative_to(ROOT)
COMPILE_LINE_PREFIXES = ("  CC ", "  CXX ", "  AS ", "  PCH ")


def compile_lines(output):
    return [line for line in output.splitlines() if line.startswith(COMPILE_LINE_PREFIXES)]


def ninja_binary():
    ninja = pytest.importorskip("ninja", reason="the ninja package is not installed: "
                                "`python3 -m pip install -r requirements.txt`")
    return os.path.join(ninja.BIN_DIR, "ninja")


# --- settings -----------------------------------------------------------------------

def cache_option(text):
    return options.resolve({"CACHE": text})["CACHE"]


def wrapper_option(text):
    return options.resolve({"CC_WRAPPER": text})["CC_WRAPPER"]


@pytest.mark.parametrize("value", ["0", "off", "none", "no", ""])
def test_cache_can_be_turned_off(value):
    assert build_speed.cache_directory(cache_option(value), "/home/u/.cache/teensyml") is None


def test_cache_defaults_to_the_user_cache_and_moves_anywhere(tmp_path, monkeypatch):
    assert build_speed.cache_directory(cache_option("auto"), "/c/teensyml") == \
        "/c/teensyml/objects"
    assert build_speed.cache_directory(cache_option(str(tmp_path / "team")), "/c") == \
        str(tmp_path / "team")
    monkeypatch.chdir(tmp_path)
    assert cache_option("team") == str(tmp_path / "team")       # made absolute once


def test_a_cache_path_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("x")
    with pytest.raises(UserError, match="is a file, not a directory"):
        cache_option(str(path))


def test_a_wrapper_command_is_split_as_the_shell_would_and_checked_once():
    assert wrapper_option("distcc -j 'a b'") == ("distcc", "-j", "a b")
    with pytest.raises(UserError, match="CC_WRAPPER='distcc is not valid"):
        wrapper_option("'distcc")


def test_ccache_missing_says_how_to_install_it():
    with pytest.raises(UserError, match="sudo apt-get install ccache"):
        build_speed.compiler_wrapper(True, wrapper_option(""), which=lambda name: None)


def test_a_missing_wrapper_is_named():
    with pytest.raises(UserError, match="CC_WRAPPER=distcc -j: distcc is not installed"):
        build_speed.compiler_wrapper(False, wrapper_option("distcc -j"),
                                     which=lambda name: None)


def test_ccache_and_another_wrapper_are_not_stacked():
    with pytest.raises(UserError, match="CCACHE_PREFIX=icecc"):
        build_speed.compiler_wrapper(True, wrapper_option("icecc"),
                                     which=lambda name: f"/usr/bin/{name}")


def test_the_wrapper_gets_its_environment_and_ccache_its_pch_settings():
    environ = {"HOME": "/home/u", "CCACHE_DIR": "/shared/ccache", "DISTCC_HOSTS": "a b",
               "SECRET": "no"}
    wrapper = build_speed.compiler_wrapper(True, (), environ=environ,
                                           which=lambda name: f"/usr/bin/{name}")
    assert wrapper.words == ("/usr/bin/ccache",)
    assert wrapper.environment["CCACHE_DIR"] == "/shared/ccache"
    assert "pch_defines" in wrapper.environment["CCACHE_SLOPPINESS"]
    assert "SECRET" not in wrapper.environment
    assert build_speed.compiler_wrapper(False, (), environ=environ).words == ()


def test_the_cache_directory_and_its_parents_are_created(tmp_path):
    directory = clean_checkout(tmp_path / "checkout")
    cache = tmp_path / "home" / ".cache" / "teensyml" / "objects"
    run_scons("fixture", f"CACHE={cache}", cwd=directory)
    assert (cache / "config").is_file()
    assert any(path.is_file() and path.name != "config" for path in cache.rglob("*"))


def test_an_unwritable_cache_gives_one_message_and_builds_nothing(tmp_path):
    directory = clean_checkout(tmp_path / "checkout")
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    result = run_scons("fixture", f"CACHE={blocker / 'objects'}", cwd=directory, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Cannot create the object cache" in output and "CACHE=0" in output
    assert "Traceback" not in output
    assert not list(directory.glob("build/**/*.o"))


def test_build_options_reject_a_bad_value_without_building(tmp_path):
    result = run_scons("fixture", "CCACHE=maybe", cwd=clean_checkout(tmp_path), check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "CCACHE" in result.stderr + result.stdout
    assert not (tmp_path / "build").exists()


def test_the_benchmark_finds_a_precompiled_header_by_its_bytes_and_judges_the_disk(
        tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))     # its readme_block
    bench = load_bench("build")
    (tmp_path / "entry").write_bytes(bench.GCH_MAGIC + b"+014 rest of the heap")
    (tmp_path / "conv.o").write_bytes(b"\x7fELF")
    assert bench.gch_files(tmp_path) == [str(tmp_path / "entry")]
    lines = bench.disk_table({"clean": (19_000_000, 14_000_000), "second": (51_000_000, 0),
                              "gch": {str(tmp_path / "entry")}}).splitlines()
    assert lines[2] == ("| after the clean build (USE_CMSIS_NN=1) | 19.0 MB | 14.0 MB | "
                        "<= 50 MB each: met |")
    assert lines[3].endswith("missed |") and lines[4].endswith("none: missed |")


# --- the fixture: cache, wrapper and ninja give the same firmware ------------------------

@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A clean checkout with the fixture built once, plainly, into a fresh cache."""
    directory = clean_checkout(tmp_path_factory.mktemp("checkout"))
    cache = tmp_path_factory.mktemp("cache")
    result = run_scons("fixture", f"CACHE={cache}", cwd=directory)
    assert compile_lines(result.stdout), result.stdout
    plain = (directory / FIXTURE_HEX).read_bytes()
    return {"dir": directory, "cache": cache, "hex": plain}


def test_a_warm_cache_rebuilds_a_clean_tree_without_compiling(checkout):
    shutil.rmtree(checkout["dir"] / "build")
    result = run_scons("fixture", f"CACHE={checkout['cache']}", cwd=checkout["dir"])
    assert compile_lines(result.stdout) == []
    assert "from cache" in result.stdout
    assert (checkout["dir"] / FIXTURE_HEX).read_bytes() == checkout["hex"]
    # The link ran (not cached): the map and the size report are there too.
    for suffix in (".map", ".size.json"):
        assert (checkout["dir"] / FIXTURE_HEX).with_suffix(suffix).is_file(), suffix


def test_a_damaged_cache_entry_is_discarded_and_rebuilt(checkout):
    """Every entry carries its content signature; one whose bytes no longer
    match (here: cut in half) is deleted at retrieval and its object compiled
    again, the others still come from the cache, and the firmware is the same."""
    entries = sorted(path for path in checkout["cache"].rglob("*")
                     if path.is_file() and path.suffix != ".csig"
                     and path.with_name(path.name + ".csig").is_file())
    # An object file (ELF, type ET_REL): the cache also keeps the HEX, which
    # the link makes again anyway; which entry sorts first follows the hashes.
    objects = [path for path in entries if path.read_bytes()[:4] == b"\x7fELF"
               and path.read_bytes()[16] == 1]
    assert objects, "no verifiable object was pushed"
    damaged = objects[0]
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    shutil.rmtree(checkout["dir"] / "build")
    result = run_scons("fixture", f"CACHE={checkout['cache']}", cwd=checkout["dir"])
    assert len(compile_lines(result.stdout)) == 1, result.stdout
    assert "from cache" in result.stdout
    assert (checkout["dir"] / FIXTURE_HEX).read_bytes() == checkout["hex"]
    # Pushed again, whole: the next clean build compiles nothing.
    shutil.rmtree(checkout["dir"] / "build")
    again = run_scons("fixture", f"CACHE={checkout['cache']}", cwd=checkout["dir"])
    assert compile_lines(again.stdout) == []


def test_a_missing_map_relinks(tmp_path):
    directory = clean_checkout(tmp_path / "checkout")
    run_scons("fixture", "CACHE=0", cwd=directory)
    map_file = (directory / FIXTURE_HEX).with_suffix(".map")
    map_file.unlink()
    result = run_scons("fixture", "CACHE=0", cwd=directory)
    assert "LINK" in result.stdout and map_file.is_file()


def test_an_object_from_the_cache_relinks_even_with_the_same_timestamp(tmp_path):
    """Two versions of an object copied from the cache can carry the same
    whole-second time (the cache keeps each copy's): the link must still see
    the change. Forced here by giving every cache file one time."""
    directory = clean_checkout(tmp_path / "checkout")
    cache = tmp_path / "cache"
    main = directory / "src" / "fixture" / "main.c"
    versions = [main.read_text()]
    versions.append(versions[0].replace('"fixture: boot ok', '"fixture: boot ok, edited'))
    assert versions[1] != versions[0]
    edits = iter(range(1_800_000_000, 1_800_000_100))

    def edit(text):                             # a new whole second for each edit
        main.write_text(text)
        os.utime(main, (next(edits),) * 2)

    images = []
    for text in versions:                       # both versions' objects into the cache
        edit(text)
        run_scons("fixture", f"CACHE={cache}", cwd=directory)
        images.append((directory / FIXTURE_HEX).read_bytes())
    assert images[0] != images[1]
    for path in cache.rglob("*"):
        if path.is_file():
            os.utime(path, (1_700_000_000, 1_700_000_000))
    for text, image in zip(versions, images):   # each object now retrieved, same time
        edit(text)
        result = run_scons("fixture", f"CACHE={cache}", cwd=directory)
        assert "main.o' from cache" in result.stdout, result.stdout
        assert (directory / FIXTURE_HEX).read_bytes() == image


@pytest.mark.parametrize("toggle", ["CCACHE=1", "CC_WRAPPER=env"])
def test_toggling_the_compiler_wrapper_rebuilds_nothing(checkout, toggle):
    if toggle == "CCACHE=1" and not shutil.which("ccache"):
        pytest.skip("ccache is not installed: `sudo apt-get install ccache` (setup.sh does)")
    question = run_scons("-q", "fixture", toggle, f"CACHE={checkout['cache']}",
                         cwd=checkout["dir"], check=False)
    assert question.returncode == 0, question.stdout + question.stderr


@pytest.mark.skipif(not shutil.which("ccache"), reason="ccache is not installed: "
                    "`sudo apt-get install ccache` (setup.sh does)")
def test_compiling_through_ccache_gives_the_same_firmware(checkout, tmp_path):
    shutil.rmtree(checkout["dir"] / "build")
    environment = {**os.environ, "CCACHE_DIR": str(tmp_path / "ccache")}
    result = run_scons("fixture", "CCACHE=1", "CACHE=0", cwd=checkout["dir"], env=environment)
    assert compile_lines(result.stdout)
    assert (checkout["dir"] / FIXTURE_HEX).read_bytes() == checkout["hex"]
    stats = subprocess.run(["ccache", "--print-stats"], env=environment, capture_output=True,
                           text=True).stdout
    misses = [line for line in stats.splitlines() if line.startswith(("cache_miss", "miss"))]
    assert any(int(line.split()[-1]) > 0 for line in misses), stats


def test_ninja_builds_the_same_firmware_and_regenerates_after_an_sconscript_edit(tmp_path):
    ninja = ninja_binary()
    directory = clean_checkout(tmp_path / "checkout")
    run_scons("fixture", "CACHE=0", cwd=directory)
    plain = (directory / FIXTURE_HEX).read_bytes()
    shutil.rmtree(directory / "build")

    run_scons("fixture", "NINJA=1", "CACHE=0", cwd=directory)
    assert (directory / "build.ninja").is_file()
    assert (directory / FIXTURE_HEX).read_bytes() == plain

    def run_ninja():
        result = subprocess.run([ninja, "-f", "build.ninja"], cwd=directory,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout
    assert "no work to do" in run_ninja()
    generated = (directory / "build.ninja").stat().st_mtime_ns
    with open(directory / "src" / "fixture" / "SConscript", "a") as stream:
        stream.write("# an edit\n")
    output = run_ninja()
    assert "Regenerating build.ninja" in output
    assert (directory / "build.ninja").stat().st_mtime_ns > generated
    assert "no work to do" in run_ninja()


@requires_third_party
def test_ninja_runs_no_python_for_the_firmware(tmp_path):
    """Every generated source of the firmware is written with build.ninja
    (teensy_ninja.GENERATED_AT_REGENERATION): no edge defers to a resident
    SCons process (rule TEMPLATE), which would run on every `ninja`, so a
    no-op `ninja` would not be one."""
    pytest.importorskip("ninja", reason="the ninja package is not installed: "
                        "`python3 -m pip install -r requirements.txt`")
    directory = clean_checkout(tmp_path / "checkout")
    for name in os.listdir(ROOT / "third_party"):          # the fetched sources, shared
        if (ROOT / "third_party" / name).is_dir():
            os.symlink(ROOT / "third_party" / name, directory / "third_party" / name)
    run_scons("USE_CMSIS_NN=1", "NINJA=1", "CACHE=0", "--disable-execute-ninja", cwd=directory)
    edges = re.findall(r"^build (.+?): (\w+)", (directory / "build.ninja").read_text(), re.M)
    assert any(rule == "CXX" for _, rule in edges)
    assert not [outputs for outputs, rule in edges if rule == "TEMPLATE"]
    assert (directory / "build" / "obj" / "int8-cmsis_nn" / "app" / "kernel_variants.c").is_file()


# --- the TFLM firmware: the model decides which kernels are compiled --------------------

def archive_members(library):
    result = subprocess.run(["arm-none-eabi-ar", "t", str(library)], capture_output=True,
                            text=True, check=True)
    return sorted(result.stdout.split())


def expected_kernel_objects(operators, kernels):
    tree = tflm.TflmTree.from_third_party(str(ROOT / "third_party"))
    group = {group.name: group for group in tree.groups(operators, kernels=kernels)}["kernels"]
    return sorted(os.path.splitext(os.path.basename(path))[0] + ".o" for path in group.sources)


def model_with_an_extra_operator(path):
    """The int8 model with its RESHAPE turned into an ADD: a model the build
    must compile ADD's kernel for (nothing runs it)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from test_model_codegen import committed, edited_model, replace_operator, load_schema
    schema = load_schema()
    path.write_bytes(edited_model(committed("int8"), replace_operator(
        "RESHAPE", builtin_code=schema.BuiltinOperator.ADD)))
    return path


@requires_third_party
@pytest.mark.parametrize("model,operators", [
    ("int8", ("CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "RESHAPE", "SOFTMAX")),
    ("float32", ("CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "RESHAPE", "SOFTMAX"))])
def test_only_the_kernels_of_the_models_operators_are_compiled(model, operators):
    run_scons(f"MODEL={model}", "USE_CMSIS_NN=1")
    library = layout(MODEL=model, USE_CMSIS_NN=1).objects / TFLM_KERNELS.archive
    members = archive_members(library)
    assert members == expected_kernel_objects(operators, "cmsis_nn")
    assert "add.o" not in members and "depthwise_conv.o" not in members


@requires_third_party
def test_a_model_with_another_operator_pulls_its_kernel_in(tmp_path):
    model = model_with_an_extra_operator(tmp_path / "extra.tflite")
    for stale in layout(USE_CMSIS_NN=1).shared_objects.glob("**/kernels/cmsis_nn/add.o"):
        stale.unlink()                  # from an earlier run: it must be compiled now
    result = run_scons(f"MODEL={model}", "USE_CMSIS_NN=1", "CACHE=0")
    compiled = compile_lines(result.stdout)
    assert any(line.endswith("kernels/cmsis_nn/add.o") for line in compiled), compiled
    # The kernels every model shares were compiled before: only the new ones are.
    assert not any(line.endswith("kernels/cmsis_nn/conv.o") for line in compiled), compiled
    library = layout(MODEL=model, USE_CMSIS_NN=1).objects / TFLM_KERNELS.archive
    members = archive_members(library)
    assert "add.o" in members and "reshape.o" not in members


MB = 1_000_000
CONFIGURATION_DIRS = ("obj/cmsis_nn", "obj/int8-cmsis_nn", "int8-cmsis_nn")


def tree_bytes(*directories):
    return sum(path.stat().st_size for directory in directories
               for path in directory.rglob("*") if path.is_file())


def kernel_objects():
    """{path: bytes} of the kernels that include the precompiled header."""
    directory = layout(USE_CMSIS_NN=1).shared_objects / "third_party" / "tflite-micro"
    return {path: path.read_bytes() for path in sorted(directory.rglob("kernels/**/*.o"))}


def pch_lines(output):
    return [line for line in output.splitlines() if line.startswith("  PCH ")]


@requires_third_party
def test_kernels_compile_with_the_precompiled_header():
    run_scons("USE_CMSIS_NN=1")
    header = (layout(USE_CMSIS_NN=1).shared_objects / "third_party" /
              f"{TFLM_KERNELS.name}_pch.h")
    commands = json.loads((ROOT / "compile_commands.json").read_text())
    kernels = [entry for entry in commands if "/micro/kernels/" in entry["file"]]
    relative = header.relative_to(ROOT)
    assert kernels and all(f"-include {relative}" in entry["command"] for entry in kernels)
    assert all(entry["command"].startswith("/") for entry in kernels)   # the compiler first
    assert not any("-include" in entry["command"] for entry in commands
                   if "/CMSIS-NN/" in entry["file"])


@requires_third_party
def test_the_precompiled_header_is_transient_and_changes_no_object(tmp_path):
    """The .gch (about 330 MB) is built once by a build that compiles the
    kernels after their inputs changed, and deleted when the build ends;
    neither the build directory nor the object cache keeps it. A build that
    recompiles a few kernels compiles them without it; one that recompiles
    more builds it on the way. The objects are the same every way."""
    build = ROOT / "build"
    cache = tmp_path / "cache"
    run_scons("USE_CMSIS_NN=1", "CACHE=0")
    stamp = build / "obj" / "cmsis_nn" / "third_party" / "tflm_kernels_pch.h.stamp"
    stamp.unlink()                              # as after a change of flags or headers
    for path in kernel_objects():
        path.unlink()
    result = run_scons("USE_CMSIS_NN=1", f"CACHE={cache}")
    assert len(pch_lines(result.stdout)) == 1, result.stdout
    with_pch = kernel_objects()
    assert len(with_pch) >= pch.MISSES_BEFORE_BUILDING + 3
    compiled = compile_lines(result.stdout)
    assert all(f"  CXX  {path.relative_to(ROOT)}" in compiled for path in with_pch), compiled
    assert list(build.rglob("*.gch")) == []
    assert tree_bytes(*(build / name for name in CONFIGURATION_DIRS)) < 50 * MB
    assert tree_bytes(cache) < 50 * MB
    # The stamp is cached, so a clean build from the cache does not build the .gch.
    assert any(path.read_bytes() == stamp.read_bytes() for path in cache.rglob("*")
               if path.is_file() and path.suffix != ".csig")

    again = run_scons("USE_CMSIS_NN=1", f"CACHE={cache}")
    assert compile_lines(again.stdout) == [] and list(build.rglob("*.gch")) == []

    for removed in (2, pch.MISSES_BEFORE_BUILDING + 3):
        paths = list(with_pch)[:removed]
        for path in paths:
            path.unlink()
        result = run_scons("USE_CMSIS_NN=1", f"CACHE={cache}", "--cache-disable")
        assert len(compile_lines(result.stdout)) - len(pch_lines(result.stdout)) == removed
        assert len(pch_lines(result.stdout)) == (0 if removed <= pch.MISSES_BEFORE_BUILDING
                                                 else 1), result.stdout
        assert {path: path.read_bytes() for path in paths} == \
            {path: with_pch[path] for path in paths}
        assert list(build.rglob("*.gch")) == []
