"""What `scons deps` extracted into one third_party/<name>/ tree, and whether
the tree still holds exactly that.

    files = scan(directory)                     # at extraction: size, mtime, SHA-256
    write_record(directory, files)
    found = compare(directory, read_record(directory), verified={})
    found.missing, found.changed, found.added   # relative paths, sorted

The build checks every required tree on every run, so the comparison is
cheap: a file whose size and mtime are those of the record is taken as
unchanged (as make and SCons' timestamp deciders do); only a file whose stat
changed is read and hashed. `verified` remembers the stats of files hashed
and found unchanged (a touched file), so each is hashed once; the build keeps
it in build/.

Plain Python, tested without SCons; deps.py uses it.
"""
import contextlib
import hashlib
import json
import os
from dataclasses import dataclass, field

from .atomic_file import write_text

RECORD_NAME = ".teensyml-files.json"
# Our own files at the top of a tree, not part of what was extracted.
OWN_FILES = (".teensyml-stamp.json", RECORD_NAME)
CHUNK = 1 << 20


@dataclass
class Differences:
    missing: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    added: list = field(default_factory=list)

    def __bool__(self):
        return bool(self.missing or self.changed or self.added)

    def described(self):
        """['a/b.h changed', 'c.cc missing', ...]: changed first, then missing, added."""
        return ([f"{path} changed" for path in self.changed]
                + [f"{path} missing" for path in self.missing]
                + [f"{path} added" for path in self.added])


def _stats(directory):
    """{relative path: os.stat_result (of the link itself for a symlink)} of
    every file under `directory`, without our stamp and record. What cannot
    be read is left out: it then counts as missing."""
    found = {}
    pending = [("", directory)]
    while pending:
        prefix, path = pending.pop()
        with contextlib.suppress(OSError), os.scandir(path) as entries:
            for entry in entries:
                relative = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    pending.append((relative + "/", entry.path))
                elif not (prefix == "" and entry.name in OWN_FILES):
                    with contextlib.suppress(OSError):
                        found[relative] = entry.stat(follow_symlinks=False)
    return found


def _content_hash(path):
    """The SHA-256 of a file's bytes (None when it cannot be read)."""
    try:
        return _read_hash(path)
    except OSError:
        return None


def _read_hash(path):
    digest = hashlib.sha256()
    if os.path.islink(path):          # a link is its target's name, never followed
        digest.update(b"symlink:" + os.fsencode(os.readlink(path)))
        return digest.hexdigest()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def scan(directory):
    """{relative path: [size, mtime_ns, sha256]} of every file under `directory`."""
    return {relative: [stat.st_size, stat.st_mtime_ns,
                       _read_hash(os.path.join(directory, relative))]
            for relative, stat in sorted(_stats(directory).items())}


def write_record(directory, files):
    write_text(os.path.join(directory, RECORD_NAME), json.dumps({"files": files}))


def read_record(directory):
    """The record `scons deps` wrote, or None (none, or unreadable)."""
    try:
        with open(os.path.join(directory, RECORD_NAME)) as stream:
            files = json.load(stream)["files"]
        well_formed = all(len(entry) == 3 for entry in files.values())
        return files if well_formed else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def compare(directory, record, verified):
    """The Differences between `directory` and its `record`. `verified`
    ({path: [size, mtime_ns, ctime_ns, sha256]}) is read and brought up to
    date: files whose stat differs from the record but whose content matches."""
    current = _stats(directory)
    found = Differences(missing=sorted(set(record) - set(current)),
                        added=sorted(set(current) - set(record)))
    still_verified = {}
    for relative in sorted(set(record) & set(current)):
        size, mtime, sha256 = record[relative]
        stat = current[relative]
        if stat.st_size == size and stat.st_mtime_ns == mtime:
            continue
        # ctime too: unlike mtime it cannot be set back after an edit.
        seen = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, sha256]
        if verified.get(relative) == seen or (
                stat.st_size == size
                and _content_hash(os.path.join(directory, relative)) == sha256):
            still_verified[relative] = seen
        else:
            found.changed.append(relative)
    verified.clear()
    verified.update(still_verified)
    return found
