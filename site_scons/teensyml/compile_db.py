"""compile_commands.json for editors, with every file a unity source compiles.

A unity translation unit (TFLM's core, the app: `unity_source()`) compiles its
members through `#include`; SCons' compilation database lists only the unity
file, so an editor that looks main.cc up by name would find no flags for it.
Each member gets the unity's entry with itself as the file:

    add_unity_members("compile_commands.json")

Plain Python, tested without SCons; SConstruct runs it after SCons' tool.
"""
import json
import os
import re

from .atomic_file import update_text

UNITY_SUFFIX = "_unity.cc"
_INCLUDE = re.compile(r'^#include "([^"]+)"$', re.M)


def with_unity_members(entries):
    """`entries` (the database as a list), each unity entry followed by one per member."""
    listed = {entry["file"] for entry in entries}
    result = []
    for entry in entries:
        result.append(entry)
        if not entry["file"].endswith(UNITY_SUFFIX):
            continue
        with open(os.path.join(entry["directory"], entry["file"]), encoding="utf-8") as stream:
            members = _INCLUDE.findall(stream.read())
        head, _, tail = entry["command"].rpartition(entry["file"])
        result += [dict(entry, file=member, command=head + member + tail)
                   for member in members if member not in listed]
    return result


def add_unity_members(path):
    """Rewrite the database at `path` with the unity members added."""
    with open(path, encoding="utf-8") as stream:
        entries = json.load(stream)
    update_text(path, json.dumps(with_unity_members(entries), indent=4) + "\n")
