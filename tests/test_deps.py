"""`scons deps` logic against git repositories the tests make themselves."""
import hashlib
import json
import os
import shutil
import subprocess
import tarfile

import pytest

from conftest import THIRD_PARTY, clean_checkout, requires_third_party, run_scons
from teensyml import deps, third_party_tree
from teensyml.errors import UserError


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def make_repo(path, files):
    """A repository with one commit holding `files`; returns its commit id."""
    path.mkdir(parents=True)
    git(path, "init", "-q")
    git(path, "config", "user.email", "t@example.invalid")
    git(path, "config", "user.name", "t")
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-qm", "c")
    return git(path, "rev-parse", "HEAD")


@pytest.fixture
def world(tmp_path):
    """A mirror of two dependencies (one patching the other) and its manifest."""
    mirror = tmp_path / "mirror"
    lib_commit = make_repo(mirror / "lib", {
        "include/lib.h": "int answer(void);\n", "src/lib.c": "int answer(void){return 41;}\n",
        "docs/huge.txt": "not wanted\n"})
    patch = ("--- a/src/lib.c\n+++ b/src/lib.c\n@@ -1 +1 @@\n"
             "-int answer(void){return 41;}\n+int answer(void){return 42;}\n")
    tool_commit = make_repo(mirror / "tool", {"patches/fix.patch": patch, "README": "x\n"})
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(f"""
[tool]
url = "https://example.invalid/tool"
commit = "{tool_commit}"
paths = ["README"]

[lib]
url = "https://example.invalid/lib"
commit = "{lib_commit}"
paths = ["include", "src"]
patches = [{{ from = "tool", path = "patches/fix.patch" }}]
""")
    third_party = tmp_path / "third_party"
    return {"mirror": mirror, "manifest": manifest, "third_party": third_party,
            "lib": lib_commit, "tool": tool_commit}


def fetch(world, **kwargs):
    return deps.fetch_all(deps.load_manifest(world["manifest"]), world["third_party"],
                          mirror=world["mirror"], log=lambda message: None, **kwargs)


def test_offline_fetch_extracts_only_the_listed_paths_patched_and_stamped(world):
    assert fetch(world) == ["tool", "lib"]
    lib = world["third_party"] / "lib"
    assert (lib / "src" / "lib.c").read_text() == "int answer(void){return 42;}\n"
    assert (lib / "include" / "lib.h").exists()
    assert not (lib / "docs").exists()
    stamp = json.loads((lib / deps.STAMP_NAME).read_text())
    assert stamp["commit"] == world["lib"]
    deps.check(deps.load_manifest(world["manifest"]), world["third_party"])


def test_second_run_does_nothing(world):
    fetch(world)
    assert fetch(world) == []


def test_tree_at_another_commit_is_reported_and_replaced(world):
    fetch(world)
    lib = world["third_party"] / "lib"
    stamp = json.loads((lib / deps.STAMP_NAME).read_text())
    stamp["commit"] = "0" * 40
    (lib / deps.STAMP_NAME).write_text(json.dumps(stamp))
    manifest = deps.load_manifest(world["manifest"])
    with pytest.raises(UserError) as caught:
        deps.check(manifest, world["third_party"])
    assert "lib is at commit 000000000000" in str(caught.value)
    assert "scons deps" in str(caught.value)
    assert fetch(world) == ["lib"]
    deps.check(manifest, world["third_party"])


def test_missing_tree_and_unstamped_tree_are_reported(world):
    manifest = deps.load_manifest(world["manifest"])
    (world["third_party"] / "tool").mkdir(parents=True)
    with pytest.raises(UserError) as caught:
        deps.check(manifest, world["third_party"])
    assert "lib is missing" in str(caught.value)
    assert "tool has no stamp" in str(caught.value)


def test_mirror_without_the_pinned_commit_is_refused(world):
    text = world["manifest"].read_text().replace(world["lib"], "1" * 40)
    world["manifest"].write_text(text)
    with pytest.raises(UserError, match="does not contain commit 1111"):
        fetch(world)
    assert not (world["third_party"] / "lib").exists()


def test_mirror_without_the_repository_names_the_expected_path(world, tmp_path):
    with pytest.raises(UserError, match="has no tool: expected a git repository"):
        deps.fetch_all(deps.load_manifest(world["manifest"]), world["third_party"],
                       mirror=tmp_path / "empty", log=lambda m: None)


def test_interrupted_extraction_leaves_nothing_half_populated(world, monkeypatch):
    fetch(world)
    before = (world["third_party"] / "lib" / "src" / "lib.c").read_text()
    calls = {"n": 0}
    real_extract = tarfile.TarFile.extract

    def interrupted(self, member, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_extract(self, member, *args, **kwargs)

    monkeypatch.setattr(tarfile.TarFile, "extract", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fetch(world, force=True)
    monkeypatch.undo()
    # The old tree is intact and still stamped; no partial directory remains.
    assert (world["third_party"] / "lib" / "src" / "lib.c").read_text() == before
    assert [p.name for p in world["third_party"].iterdir()
            if p.name.startswith(deps.TEMP_PREFIX)] == []


def test_leftovers_of_a_killed_run_are_cleaned_and_never_count(world):
    partial = world["third_party"] / f"{deps.TEMP_PREFIX}lib-abc"
    partial.mkdir(parents=True)
    (partial / deps.STAMP_NAME).write_text("{}")
    manifest = deps.load_manifest(world["manifest"])
    assert deps.problem(manifest[1], world["third_party"]) == "lib is missing"
    fetch(world)
    assert not partial.exists()


def test_online_fetch_by_commit_through_a_cache(world, tmp_path):
    """The online path fetches the pinned commit from the URL into a cache."""
    for name in ("lib", "tool"):
        git(world["mirror"] / name, "config", "uploadpack.allowAnySHA1InWant", "true")
    text = world["manifest"].read_text()
    for name in ("lib", "tool"):
        text = text.replace(f"https://example.invalid/{name}",
                            (world["mirror"] / name).as_uri())
    world["manifest"].write_text(text)
    cache = tmp_path / "cache"
    messages = []
    deps.fetch_all(deps.load_manifest(world["manifest"]), world["third_party"],
                   cache_dir=cache, log=messages.append)
    assert (world["third_party"] / "lib" / "src" / "lib.c").exists()
    assert (cache / "lib.git").is_dir()
    assert any("fetching lib" in m for m in messages)


def test_unreachable_url_says_how_to_work_offline(world, tmp_path):
    with pytest.raises(UserError, match="MIRROR=<dir>"):
        deps.fetch_all(deps.load_manifest(world["manifest"]), world["third_party"],
                       cache_dir=tmp_path / "cache", log=lambda m: None)


def test_manifest_errors_are_clear(tmp_path):
    bad = tmp_path / "m.toml"
    bad.write_text('[x]\nurl = "u"\ncommit = "abc"\npaths = []\n')
    with pytest.raises(UserError, match="full 40-digit"):
        deps.load_manifest(bad)
    bad.write_text("[x\n")
    with pytest.raises(UserError, match="not valid TOML"):
        deps.load_manifest(bad)


def test_project_manifest_pins_every_dependency():
    manifest = deps.load_manifest(deps.Path(__file__).parent.parent / "third_party"
                                  / "manifest.toml")
    assert {d.name for d in deps.required(manifest)} == {
        "tflite-micro", "CMSIS-NN", "CMSIS_6", "flatbuffers", "gemmlowp", "ruy", "mcux-sdk",
        "tinyusb"}
    # The calibration benchmark's sources are optional: `scons deps` and the
    # build leave them alone.
    assert {d.name for d in manifest if d.optional} == {"coremark",
                                                         "imxrt1062-tflite-micro-mnist"}


def test_scons_deps_with_a_bad_mirror_fails_clearly(tmp_path):
    checkout = clean_checkout(tmp_path / "clone")
    result = run_scons("deps", f"MIRROR={tmp_path}", cwd=checkout, check=False)
    assert result.returncode != 0
    assert "has no tflite-micro" in result.stderr
    assert "Traceback" not in result.stderr


def test_build_without_dependencies_names_scons_deps(tmp_path):
    checkout = clean_checkout(tmp_path / "clone")
    result = run_scons(cwd=checkout, check=False)
    assert result.returncode == 2
    assert "Run `scons deps`" in result.stderr
    assert "tflite-micro is missing" in result.stderr
    assert "Traceback" not in result.stderr


def test_optional_dependency_is_fetched_only_when_named(world):
    extra_commit = make_repo(world["mirror"] / "extra", {"bench.c": "int main(void){}\n"})
    with open(world["manifest"], "a") as stream:
        stream.write(f'\n[extra]\nurl = "https://example.invalid/extra"\n'
                     f'commit = "{extra_commit}"\npaths = ["bench.c"]\noptional = "a bench"\n')
    manifest = deps.load_manifest(world["manifest"])
    assert sorted(fetch(world)) == ["lib", "tool"]
    assert not (world["third_party"] / "extra").exists()
    deps.check(deps.required(manifest), world["third_party"])     # complete without it
    assert fetch(world, names=["extra"]) == ["extra"]
    assert (world["third_party"] / "extra" / "bench.c").is_file()
    with pytest.raises(UserError, match="No dependency called nope.*extra, lib, tool"):
        fetch(world, names=["nope"])


def test_a_commit_with_an_unreadable_file_is_one_clear_error(world):
    """A repository missing a blob (a partial mirror) fails in git archive;
    the tar stream ends early: one UserError naming git's complaint."""
    lib = world["mirror"] / "lib"
    blob = git(lib, "rev-parse", "HEAD:src/lib.c")
    (lib / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    with pytest.raises(UserError, match="Extracting lib failed: .*"):
        fetch(world)
    assert not (world["third_party"] / "lib").exists()


# --- the extracted trees are verified: stat first, hash what changed ------------------

def test_extraction_records_every_file_with_its_size_mtime_and_hash(world):
    fetch(world)
    lib = world["third_party"] / "lib"
    record = third_party_tree.read_record(lib)
    assert sorted(record) == ["include/lib.h", "src/lib.c"]
    size, mtime, sha256 = record["src/lib.c"]
    patched = (lib / "src" / "lib.c").read_bytes()       # recorded after the patch
    assert size == len(patched) and sha256 == hashlib.sha256(patched).hexdigest()
    assert mtime == (lib / "src" / "lib.c").stat().st_mtime_ns


def check_error(world, manifest=None):
    with pytest.raises(UserError) as caught:
        deps.check(manifest or deps.load_manifest(world["manifest"]), world["third_party"])
    return str(caught.value)


def test_a_deleted_file_is_named_and_scons_deps_puts_it_back(world):
    fetch(world)
    header = world["third_party"] / "lib" / "include" / "lib.h"
    header.unlink()
    message = check_error(world)
    assert "third_party/lib differs from what `scons deps` extracted" in message
    assert "include/lib.h missing" in message and "Run `scons deps`" in message
    assert fetch(world) == ["lib"]
    assert header.read_text() == "int answer(void);\n"
    deps.check(deps.load_manifest(world["manifest"]), world["third_party"])


def test_an_edit_in_place_of_the_same_size_is_found_by_content(world):
    fetch(world)
    source = world["third_party"] / "lib" / "src" / "lib.c"
    source.write_text(source.read_text().replace("42", "43"))
    message = check_error(world)
    assert "src/lib.c changed" in message
    # The fix for a wanted change: a patch in the manifest, never an edit.
    assert "patch listed under its dependency's `patches`" in message
    assert "third_party/manifest.toml" in message


def test_an_added_file_is_refused(world):
    fetch(world)
    (world["third_party"] / "lib" / "src" / "extra.c").write_text("int x;\n")
    assert "src/extra.c added" in check_error(world)


def test_many_differences_name_a_few_and_count_the_rest(world):
    fetch(world)
    for index in range(6):
        (world["third_party"] / "tool" / f"new{index}.txt").write_text("x\n")
    message = check_error(world)
    assert message.count(" added") == deps.FILES_NAMED
    assert f"and {6 - deps.FILES_NAMED} more files" in message


def test_a_touched_file_is_hashed_once_then_known_by_its_stat(world, tmp_path, monkeypatch):
    fetch(world)
    source = world["third_party"] / "lib" / "src" / "lib.c"
    os.utime(source, ns=(1_800_000_000_000_000_000,) * 2)     # same bytes, new mtime
    hashed = []
    real_hash = third_party_tree._content_hash
    monkeypatch.setattr(third_party_tree, "_content_hash",
                        lambda path: hashed.append(path) or real_hash(path))
    manifest = deps.load_manifest(world["manifest"])
    state = tmp_path / "build" / "third-party-verified.json"
    deps.check(manifest, world["third_party"], verified_path=state)
    assert [os.path.basename(path) for path in hashed] == ["lib.c"]
    deps.check(manifest, world["third_party"], verified_path=state)
    assert len(hashed) == 1                     # the state cache answered
    source.write_text("int answer(void){return 40;}\n")     # now edited: hashed again
    with pytest.raises(UserError, match="src/lib.c changed"):
        deps.check(manifest, world["third_party"], verified_path=state)


@pytest.mark.parametrize("text", ["{not json", "[]", '{"lib": "x", "tool": [1]}'])
def test_an_unreadable_state_cache_is_ignored(world, tmp_path, text):
    fetch(world)
    os.utime(world["third_party"] / "lib" / "src" / "lib.c", ns=(1, 1))  # hashed, cached
    state = tmp_path / "verified.json"
    state.write_text(text)
    deps.check(deps.load_manifest(world["manifest"]), world["third_party"],
               verified_path=state)
    assert list(json.loads(state.read_text())["lib"]) == ["src/lib.c"]


def test_a_tree_without_a_record_is_extracted_again(world):
    """Trees from a `scons deps` that wrote no record cannot be verified."""
    fetch(world)
    (world["third_party"] / "lib" / third_party_tree.RECORD_NAME).unlink()
    assert "lib has no valid record of its files" in check_error(world)
    assert fetch(world) == ["lib"]
    deps.check(deps.load_manifest(world["manifest"]), world["third_party"])


@requires_third_party
def test_the_build_refuses_a_damaged_tree_in_one_paragraph(tmp_path):
    """`scons` in a checkout whose TFLM lost a kernel: no "Source not found",
    the file named, the fix given, nothing compiled."""
    checkout = clean_checkout(tmp_path / "clone")
    manifest = deps.load_manifest(THIRD_PARTY / "manifest.toml")
    for dep in deps.required(manifest):
        shutil.copytree(THIRD_PARTY / dep.name, checkout / "third_party" / dep.name,
                        symlinks=True)
    kernel = "tensorflow/lite/micro/kernels/conv.cc"
    (checkout / "third_party" / "tflite-micro" / kernel).unlink()
    result = run_scons("USE_CMSIS_NN=1", "CACHE=0", cwd=checkout, check=False)
    assert result.returncode == 2
    assert f"{kernel} missing" in result.stderr and "Run `scons deps`" in result.stderr
    assert "Source" not in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not list(checkout.glob("build/obj/**/*.o"))


@pytest.mark.parametrize("text", ["{not json", '{"files": []}', '{"files": {"a": [1]}}'])
def test_a_damaged_record_counts_as_none(world, text):
    fetch(world)
    (world["third_party"] / "lib" / third_party_tree.RECORD_NAME).write_text(text)
    assert "lib has no valid record of its files" in check_error(world)
