"""`scons deps` logic against git repositories the tests make themselves."""
import json
import subprocess
import tarfile

import pytest

from conftest import clean_checkout, run_scons
from teensyml import deps
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
        "tflite-micro", "CMSIS-NN", "CMSIS_6", "flatbuffers", "gemmlowp", "ruy", "mcux-sdk"}
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
