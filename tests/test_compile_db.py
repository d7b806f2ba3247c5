"""compile_commands.json lists every file a unity source compiles
(teensyml/compile_db.py), with the unity's flags: an editor looking up
src/app/main.cc finds a command that compiles it."""
import json
import shlex
import subprocess

from conftest import ROOT, requires_third_party, run_scons
from teensyml import compile_db


def entry(file, directory):
    return {"directory": str(directory), "file": file, "output": file + ".o",
            "command": f"/usr/bin/g++ -DX=1 -o {file}.o -c {file}"}


def test_each_member_gets_the_unity_command_with_itself_as_the_file(tmp_path):
    (tmp_path / "obj").mkdir()
    (tmp_path / "obj" / "app_unity.cc").write_text(
        '#include "src/app/main.cc"\n#include "obj/op_resolver.cc"\n')
    entries = [entry("src/app/console_io.c", tmp_path), entry("obj/app_unity.cc", tmp_path)]
    expanded = compile_db.with_unity_members(entries)
    assert [e["file"] for e in expanded] == ["src/app/console_io.c", "obj/app_unity.cc",
                                             "src/app/main.cc", "obj/op_resolver.cc"]
    main = expanded[2]
    assert main["command"] == "/usr/bin/g++ -DX=1 -o obj/app_unity.cc.o -c src/app/main.cc"
    assert main["output"] == "obj/app_unity.cc.o" and main["directory"] == str(tmp_path)
    assert expanded[0] == entries[0]


def test_adding_twice_lists_each_member_once(tmp_path):
    (tmp_path / "core_unity.cc").write_text('#include "a.cc"\n')
    database = tmp_path / "compile_commands.json"
    database.write_text(json.dumps([entry("core_unity.cc", tmp_path)]))
    compile_db.add_unity_members(database)
    compile_db.add_unity_members(database)
    assert [e["file"] for e in json.loads(database.read_text())] == ["core_unity.cc", "a.cc"]


@requires_third_party
def test_the_apps_files_compile_with_their_entries():
    run_scons("USE_CMSIS_NN=1")
    entries = {e["file"]: e for e in json.loads((ROOT / "compile_commands.json").read_text())}
    for name in ("main.cc", "inference.cc", "layer_profiler.cc"):
        found = entries[f"src/app/{name}"]
        result = subprocess.run(shlex.split(found["command"]) + ["-fsyntax-only"],
                                cwd=found["directory"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    assert "third_party/tflite-micro/tensorflow/lite/micro/micro_interpreter.cc" in entries
