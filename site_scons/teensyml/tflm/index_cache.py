"""The index (TflmTree's scanned facts) kept in a JSON file between runs.

Scanning the trees reads a few hundred files (about 0.5 s). The index is
keyed by the .teensyml-stamp.json that `scons deps` writes into each
third_party/<name>/ (it names the commit), by the source of the modules that
scan, and by the format version. A run whose key matches reads only the
stamps and the JSON. A tree without a stamp (a checkout of one's own) is keyed
by the size and mtime of every file under it, which needs a walk of the tree.
"""
import hashlib
import json
import os

INDEX_FORMAT = 2
STAMP_NAME = ".teensyml-stamp.json"   # written by `scons deps` (teensyml.deps)
# The modules whose code decides what the index holds.
SCANNING_MODULES = ("layout.py", "c_scan.py", "tflm_scan.py", "cmsis_nn_scan.py")


def key(tflm_root, cmsis_nn_root=None):
    """The cache key of an index of these trees (cmsis_nn_root: None when absent)."""
    found = {"format": INDEX_FORMAT, "module": _code_digest(),
             "tflm": tree_signature(tflm_root)}
    if cmsis_nn_root:
        found["cmsis_nn"] = tree_signature(cmsis_nn_root)
    return found


def load(path, wanted_key):
    """The index saved at `path` when its key is `wanted_key`, else None."""
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as stream:
            index = json.load(stream)
    except (OSError, ValueError):
        return None
    return index if isinstance(index, dict) and index.get("key") == wanted_key else None


def save(path, index):
    """Write `index` (its "key" included) to `path`, atomically."""
    if not path:
        return
    temporary = f"{path}.{os.getpid()}.tmp"
    try:   # the cache only saves time: a read-only place is no error
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(temporary, "w", encoding="utf-8") as stream:
            json.dump(index, stream, indent=0, sort_keys=True)
        os.replace(temporary, path)
    except OSError:
        try:
            os.remove(temporary)
        except OSError:
            pass


def tree_signature(root):
    """What stands for a tree's content in the cache key: its stamp from
    `scons deps` (which names the commit), else the path, size and mtime of
    every file under it."""
    stamp = os.path.join(root, STAMP_NAME)
    try:
        with open(stamp, "rb") as stream:
            return "stamp:" + hashlib.sha256(stream.read()).hexdigest()
    except FileNotFoundError:
        pass
    digest = hashlib.sha256()
    for current, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(current, name)
            info = os.stat(path)
            digest.update(f"{os.path.relpath(path, root)}\0{info.st_size}\0"
                          f"{info.st_mtime_ns}\n".encode())
    return "files:" + digest.hexdigest()



_CODE_DIGEST = None


def _code_digest():
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        digest = hashlib.sha256()
        here = os.path.dirname(os.path.abspath(__file__))
        for name in SCANNING_MODULES:
            with open(os.path.join(here, name), "rb") as stream:
                digest.update(stream.read())
        _CODE_DIGEST = digest.hexdigest()[:16]
    return _CODE_DIGEST
