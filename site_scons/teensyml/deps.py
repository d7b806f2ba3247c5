"""Third-party sources: read the manifest, fetch pinned commits, check stamps
and contents.

Each dependency is extracted from a git repository that holds its pinned
commit: a local mirror (MIRROR=<dir>, <dir>/<name>) or a shallow fetch of the
upstream URL into the user's cache. Extraction goes to a temporary directory
next to the destination and is renamed into place only when complete, with a
stamp recording what it holds and a record of every file it wrote (size,
mtime, SHA-256); an interrupted run leaves nothing that passes for a populated
dependency.

Every build compares the trees with their records (third_party_tree.py): a
tree edited in place is refused, and `scons deps` extracts it again.
"""
import contextlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import third_party_tree
from .atomic_file import write_text
from .errors import UserError

STAMP_NAME = ".teensyml-stamp.json"
TEMP_PREFIX = ".partial-"
OLD_PREFIX = ".replaced-"
INSTALL_GIT = "sudo apt-get install git"
# How many changed files an error names per dependency (then "and N more").
FILES_NAMED = 3


@dataclass(frozen=True)
class Patch:
    source: str     # the dependency whose tree holds the patch
    path: str       # its path inside that tree


@dataclass(frozen=True)
class Dependency:
    name: str
    url: str
    commit: str
    paths: tuple
    patches: tuple = field(default=())
    # Who needs it, when not the firmware (e.g. "bench/calibration.py"): an
    # optional dependency is fetched only when named, and never checked by `scons`.
    optional: str = ""

    def stamp(self):
        """What third_party/<name>/ must record to count as this dependency."""
        return {"name": self.name, "commit": self.commit, "paths": list(self.paths),
                "patches": [f"{p.source}:{p.path}" for p in self.patches]}


def load_manifest(path):
    """The dependencies of a manifest file, in file order."""
    try:
        with open(path, "rb") as stream:
            data = tomllib.load(stream)
    except FileNotFoundError:
        raise UserError(f"The dependency manifest {path} is missing.") from None
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"The dependency manifest {path} is not valid TOML: {error}.") \
            from None
    deps = []
    for name, entry in data.items():
        missing = [key for key in ("url", "commit", "paths") if key not in entry]
        if missing:
            raise UserError(f"{path}: [{name}] lacks {', '.join(missing)}.")
        commit = entry["commit"]
        if len(commit) != 40 or any(c not in "0123456789abcdef" for c in commit):
            raise UserError(f"{path}: [{name}] commit must be a full 40-digit "
                            f"lowercase hex commit id, not {commit!r}.")
        patches = tuple(Patch(p["from"], p["path"]) for p in entry.get("patches", ()))
        deps.append(Dependency(name, entry["url"], commit, tuple(entry["paths"]), patches,
                               str(entry.get("optional", ""))))
    names = {dep.name for dep in deps}
    for dep in deps:
        for patch in dep.patches:
            if patch.source not in names:
                raise UserError(f"{path}: a patch of [{dep.name}] comes from "
                                f"[{patch.source}], which the manifest does not list.")
    return deps


def required(deps):
    """The dependencies the firmware needs (those `scons deps` fetches)."""
    return [dep for dep in deps if not dep.optional]


def select(deps, names):
    """The dependencies called `names` (any, optional ones included), in
    manifest order; an unknown name is a UserError listing the known ones."""
    known = {dep.name for dep in deps}
    unknown = sorted(set(names) - known)
    if unknown:
        raise UserError(f"No dependency called {', '.join(unknown)} in the manifest; "
                        f"it lists {', '.join(sorted(known))}.")
    return [dep for dep in deps if dep.name in names]


# --- state of third_party/ ----------------------------------------------------

def read_stamp(directory):
    try:
        with open(Path(directory) / STAMP_NAME) as stream:
            return json.load(stream)
    except (OSError, ValueError):
        return None


def problem(dep, third_party):
    """Why third_party/<name> does not hold `dep`, or None when it does."""
    directory = Path(third_party) / dep.name
    if not directory.is_dir():
        return f"{dep.name} is missing"
    stamp = read_stamp(directory)
    if stamp is None:
        return f"{dep.name} has no stamp (not populated by `scons deps`)"
    if stamp.get("commit") != dep.commit:
        return (f"{dep.name} is at commit {str(stamp.get('commit'))[:12]}, "
                f"the manifest pins {dep.commit[:12]}")
    if stamp != dep.stamp():
        return f"{dep.name} was extracted with other paths or patches than the manifest lists"
    if third_party_tree.read_record(directory) is None:
        return f"{dep.name} has no valid record of its files ({third_party_tree.RECORD_NAME})"
    return None


def differences(dep, third_party, verified):
    """How third_party/<name> differs from the record of what `scons deps`
    extracted (a third_party_tree.Differences, false when it does not).
    `verified` is this dependency's part of the state cache (see below)."""
    directory = Path(third_party) / dep.name
    return third_party_tree.compare(directory, third_party_tree.read_record(directory),
                                    verified)


def load_verified(path):
    """The state cache: {name: {path: stat and hash}} of files found
    unchanged by content after their stat changed ({} without one)."""
    try:
        with open(path) as stream:
            data = json.load(stream)
        return {name: files for name, files in data.items() if isinstance(files, dict)}
    except (OSError, ValueError, AttributeError):
        return {}


def damaged_trees(deps, third_party, verified_path=None):
    """[(dep, Differences)] of the `deps` (stamps already as pinned) whose
    trees differ from their records. Cheap: see third_party_tree."""
    before = load_verified(verified_path) if verified_path else {}
    after = {}
    damaged = []
    for dep in deps:
        after[dep.name] = dict(before.get(dep.name, {}))
        found = differences(dep, third_party, after[dep.name])
        if found:
            damaged.append((dep, found))
    merged = {name: files for name, files in {**before, **after}.items() if files}
    if verified_path and merged != before:
        with contextlib.suppress(OSError, UserError):    # only a cache: hashed again next time
            write_text(verified_path, json.dumps(merged))
    return damaged


def describe_damage(dep, found, shown=FILES_NAMED):
    """'third_party/x differs from what `scons deps` extracted (a changed, b
    missing and 3 more files)'."""
    listed = found.described()
    more = len(listed) - shown
    return (f"third_party/{dep.name} differs from what `scons deps` extracted ("
            + ", ".join(listed[:shown])
            + (f" and {more} more file{'s' * (more > 1)}" if more > 0 else "") + ")")


def check(deps, third_party, verified_path=None):
    """Raise one UserError naming every dependency that is not as pinned:
    stamp problems, and trees that differ from their records (with a few of
    their files and the fix). `verified_path`: the state cache's file."""
    problems = {dep.name: problem(dep, third_party) for dep in deps}
    damaged = damaged_trees([dep for dep in deps if not problems[dep.name]], third_party,
                            verified_path)
    found = [p for p in problems.values() if p] + [describe_damage(*d) for d in damaged]
    if not found:
        return
    message = ("Third-party sources are not ready: " + "; ".join(found)
               + ". Run `scons deps` to extract them as pinned (offline: `scons deps "
               "MIRROR=<dir>`, where <dir>/<name> is a git repository of each dependency).")
    if damaged:
        message += (" Third-party code is never edited in place: a wanted change is a "
                    "patch listed under its dependency's `patches` in "
                    "third_party/manifest.toml (as flatbuffers' is), which `scons deps` "
                    "applies.")
    raise UserError(message)


# --- git ----------------------------------------------------------------------

def _git(args, cwd=None, git_dir=None, stdin=None, stdout=subprocess.PIPE):
    command = ["git"]
    if git_dir is not None:
        command += ["--git-dir", str(git_dir)]
    try:
        return subprocess.run(command + list(args), cwd=cwd, input=stdin,
                              stdout=stdout, stderr=subprocess.PIPE, check=False)
    except FileNotFoundError:
        raise UserError(f"git is not installed; install it with `{INSTALL_GIT}`.") \
            from None


def git_dir_of(repository):
    """The git directory of a repository path (bare or with a work tree), or None."""
    result = _git(["rev-parse", "--absolute-git-dir"], cwd=repository)
    return result.stdout.decode().strip() if result.returncode == 0 else None


def _has_commit(git_dir, commit):
    return _git(["cat-file", "-e", f"{commit}^{{commit}}"], git_dir=git_dir).returncode == 0


def mirror_source(dep, mirror):
    """The git directory of <mirror>/<name>, checked to hold the pinned commit."""
    repository = Path(mirror) / dep.name
    if not repository.exists():
        raise UserError(f"MIRROR={mirror} has no {dep.name}: expected a git repository "
                        f"of {dep.url} at {repository}.")
    git_dir = git_dir_of(repository)
    if git_dir is None:
        raise UserError(f"{repository} is not a git repository; MIRROR needs one git "
                        f"repository (bare or not) per dependency, named as in "
                        f"third_party/manifest.toml.")
    if not _has_commit(git_dir, dep.commit):
        raise UserError(f"{repository} does not contain commit {dep.commit} of "
                        f"{dep.name}; update that mirror (git fetch) or point MIRROR "
                        f"at one that has it.")
    return git_dir


def online_source(dep, cache_dir, log):
    """A cached bare repository holding the pinned commit, fetched by commit id."""
    git_dir = Path(cache_dir) / f"{dep.name}.git"
    if git_dir.is_dir() and _has_commit(git_dir, dep.commit):
        return str(git_dir)
    if not git_dir.is_dir():
        git_dir.parent.mkdir(parents=True, exist_ok=True)
        _git(["init", "--quiet", "--bare", str(git_dir)])
    log(f"deps: fetching {dep.name} {dep.commit[:12]} from {dep.url}")
    result = _git(["-c", "transfer.fsckObjects=true", "fetch", "--quiet", "--depth", "1",
                   dep.url, dep.commit], git_dir=git_dir, stdout=None)
    if result.returncode != 0:
        raise UserError(f"Could not fetch {dep.name} {dep.commit[:12]} from {dep.url}: "
                        f"{result.stderr.decode().strip() or 'git fetch failed'}. "
                        f"Without network access, use `scons deps MIRROR=<dir>`.")
    fetched = _git(["rev-parse", "FETCH_HEAD"], git_dir=git_dir).stdout.decode().strip()
    if fetched != dep.commit or not _has_commit(git_dir, dep.commit):
        raise UserError(f"{dep.url} answered with {fetched[:12] or 'nothing'} when asked "
                        f"for {dep.name} {dep.commit[:12]}; the download was not used.")
    return str(git_dir)


def read_file_at(git_dir, commit, path):
    result = _git(["show", f"{commit}:{path}"], git_dir=git_dir)
    if result.returncode != 0:
        raise UserError(f"{path} does not exist at commit {commit[:12]}.")
    return result.stdout


# --- extraction ---------------------------------------------------------------

def _extract(git_dir, dep, destination):
    """Write dep.paths at dep.commit into `destination` (an empty directory)."""
    try:
        return extract(git_dir, dep.commit, dep.paths, destination)
    except UserError as error:
        raise UserError(f"Extracting {dep.name} failed: {error}. Check the paths listed "
                        f"for [{dep.name}] in third_party/manifest.toml.") from None


def extract(git_dir, revision, paths, destination):
    """Write `paths` (every file when empty) of `revision` (a commit or tag)
    into `destination`; the number of files. A UserError with git's message
    when it cannot."""
    os.makedirs(destination, exist_ok=True)
    archive = subprocess.Popen(
        ["git", "--git-dir", str(git_dir), "archive", "--format=tar", revision, "--"]
        + list(paths), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    count = 0
    try:
        with tarfile.open(fileobj=archive.stdout, mode="r|") as tar:
            for member in tar:
                tar.extract(member, destination, filter="data")
                count += member.isfile()
    except tarfile.TarError:
        archive.kill()          # git's own message below says what it could not read
    error = archive.stderr.read().decode().strip()
    if archive.wait() != 0:
        raise UserError(error)
    return count


def _apply_patch(patch_text, destination, dep, patch):
    result = _git(["apply", "--whitespace=nowarn", "-p1", "-"], cwd=destination,
                  stdin=patch_text)
    if result.returncode != 0:
        raise UserError(f"Patch {patch.source}:{patch.path} does not apply to "
                        f"{dep.name} {dep.commit[:12]}: {result.stderr.decode().strip()}")


def remove_leftovers(third_party):
    """Delete what an interrupted run left behind."""
    for entry in Path(third_party).iterdir():
        if entry.name.startswith((TEMP_PREFIX, OLD_PREFIX)):
            shutil.rmtree(entry, ignore_errors=True)


def install(dep, sources, third_party, log):
    """Extract, patch and stamp `dep` beside its destination, then swap it in.
    `sources` maps dependency names to (git directory, pinned commit)."""
    third_party = Path(third_party)
    staging = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{dep.name}-", dir=third_party))
    try:
        count = _extract(sources[dep.name][0], dep, staging)
        for patch in dep.patches:
            git_dir, commit = sources[patch.source]
            _apply_patch(read_file_at(git_dir, commit, patch.path), staging, dep, patch)
        # What every build compares the tree with (size, mtime, SHA-256 per file).
        third_party_tree.write_record(staging, third_party_tree.scan(staging))
        with open(staging / STAMP_NAME, "w") as stream:
            json.dump(dep.stamp(), stream, indent=2)
        final = third_party / dep.name
        if final.exists():
            retired = Path(tempfile.mkdtemp(prefix=f"{OLD_PREFIX}{dep.name}-",
                                            dir=third_party))
            os.rename(final, retired / dep.name)
            os.rename(staging, final)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(staging, final)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    log(f"deps: {dep.name} {dep.commit[:12]}: {count} files")


def _needing_extraction(wanted, third_party, force, log, verified_path):
    """The dependencies of `wanted` to extract: not as pinned, or (logged)
    differing from what was extracted; all of them when `force`."""
    if force:
        return list(wanted)
    todo = [dep for dep in wanted if problem(dep, third_party)]
    for dep, found in damaged_trees([dep for dep in wanted if dep not in todo], third_party,
                                    verified_path):
        log(f"deps: {describe_damage(dep, found)}: extracting it again")
        todo.append(dep)
    return [dep for dep in wanted if dep in todo]


def fetch_all(deps, third_party, mirror=None, cache_dir=None, force=False, log=print,
              names=None, verified_path=None):
    """Bring the dependencies of the manifest `deps` into `third_party`: the
    required ones, or those called `names` (optional ones included).
    Dependencies at their pinned commit, their files as extracted, are left
    alone unless `force`. `verified_path`: the state cache of check()."""
    third_party = Path(third_party)
    third_party.mkdir(parents=True, exist_ok=True)
    remove_leftovers(third_party)
    wanted = required(deps) if names is None else select(deps, names)
    todo = _needing_extraction(wanted, third_party, force, log, verified_path)
    if not todo:
        log("deps: all third-party sources are at their pinned commits, as extracted")
        return []
    # Sources of everything to extract and of every patch they need.
    needed = {dep.name for dep in todo} | {p.source for dep in todo for p in dep.patches}
    sources = {}
    for dep in deps:
        if dep.name in needed:
            git_dir = (mirror_source(dep, mirror) if mirror
                       else online_source(dep, cache_dir, log))
            sources[dep.name] = (git_dir, dep.commit)
    for dep in todo:
        install(dep, sources, third_party, log)
    return [dep.name for dep in todo]
