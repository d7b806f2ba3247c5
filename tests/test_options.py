"""The option table: validation, aliases, variant names, and the scons front end."""
import pytest

from conftest import run_scons
from teensyml import options
from teensyml.build_types import BUILD_TYPES
from teensyml.errors import UserError


def test_defaults_resolve():
    values = options.resolve({})
    assert values["MODEL"] == "int8"
    assert values["USE_CMSIS_NN"] is False
    assert values["BUILD"] == "release"


@pytest.mark.parametrize("key", [o.key for o in options.OPTIONS if o.kind == "enum"])
def test_bad_enum_value_lists_every_valid_one(key):
    with pytest.raises(UserError) as caught:
        options.resolve({key: "no-such-value"})
    for choice in options.OPTIONS_BY_KEY[key].choices:
        assert choice in str(caught.value)


def test_bad_model_names_builtin_models():
    with pytest.raises(UserError) as caught:
        options.resolve({"MODEL": "int4"})
    assert "float32" in str(caught.value) and "int8" in str(caught.value)


def test_model_path_must_exist(tmp_path):
    with pytest.raises(UserError):
        options.resolve({"MODEL": str(tmp_path / "missing.tflite")})
    model = tmp_path / "mine.tflite"
    model.write_bytes(b"x")
    assert options.resolve({"MODEL": str(model)})["MODEL"] == str(model)


@pytest.mark.parametrize("text,expected", [("1", True), ("yes", True), ("0", False),
                                           ("off", False)])
def test_bool_words(text, expected):
    assert options.resolve({"USE_CMSIS_NN": text})["USE_CMSIS_NN"] is expected


def test_bad_bool_is_refused():
    with pytest.raises(UserError, match="USE_CMSIS_NN=maybe"):
        options.resolve({"USE_CMSIS_NN": "maybe"})


def test_seed_alias_for_compressed_model():
    assert options.resolve({"USE_COMP_MODEL": "1"})["MODEL"] == "int8"
    assert options.resolve({"USE_COMP_MODEL": "0"})["MODEL"] == "float32"
    with pytest.raises(UserError, match="USE_COMP_MODEL"):
        options.resolve({"USE_COMP_MODEL": "1", "MODEL": "float32"})


def test_arena_size_must_be_a_number():
    assert options.resolve({"ARENA_SIZE": "0x10000"})["ARENA_SIZE"] == 65536
    with pytest.raises(UserError, match="ARENA_SIZE"):
        options.resolve({"ARENA_SIZE": "big"})


def test_variant_names_differ_per_configuration():
    names = {options.variant_name(options.resolve(arguments)) for arguments in (
        {}, {"USE_CMSIS_NN": "1"}, {"MODEL": "float32"}, {"BUILD": "debug"},
        {"ITCM": "none"}, {"ARENA_MEM": "ocram"}, {"ITCM_EXTRA": "foo*"})}
    assert len(names) == 7
    assert options.variant_name(options.resolve({})) == "int8-reference"


def test_cmsis_nn_own_files_build_apart_and_reference_ignores_the_switch():
    name = lambda **given: options.variant_name(options.resolve(given))
    assert name(USE_CMSIS_NN="1", TUNED_KERNELS="0") == "int8-cmsis_nn-upstream"
    assert name(USE_CMSIS_NN="1") == "int8-cmsis_nn"
    assert name(TUNED_KERNELS="0") == name() == "int8-reference"


def test_scons_refuses_bad_value_and_builds_nothing(tmp_path):
    result = run_scons("BUILD=fast", check=False)
    assert result.returncode == 2
    assert "BUILD=fast is not valid" in result.stderr
    assert ", ".join(BUILD_TYPES) in result.stderr     # every valid value
    assert "Traceback" not in result.stderr + result.stdout
    assert "CC " not in result.stdout


def test_scons_refuses_unknown_option():
    result = run_scons("USE_CMSISNN=1", check=False)
    assert result.returncode == 2
    assert "USE_CMSISNN" in result.stderr and "USE_CMSIS_NN" in result.stderr


def test_scons_help_lists_every_option():
    result = run_scons("-h")
    for option in options.OPTIONS:
        assert option.key in result.stdout


# --- directory names: derived from the table's `names`, and exactly these ----------------
# Benches, tests and users' scripts find images by these names: a change to the
# table must not rename a directory. Columns: build/obj/<objects>/,
# build/obj/<configuration>/, build/<image>/, the fixture's objects and image,
# build/kernel-tests/<name>/.
DIRECTORY_NAMES = [
    ({}, "reference", "int8-reference", "int8-reference", "fixture", "fixture", "reference"),
    ({"USE_CMSIS_NN": "1"}, "cmsis_nn", "int8-cmsis_nn", "int8-cmsis_nn", "fixture",
     "fixture", "cmsis_nn"),
    ({"USE_CMSIS_NN": "1", "TUNED_KERNELS": "0"}, "cmsis_nn", "int8-cmsis_nn-upstream",
     "int8-cmsis_nn-upstream", "fixture", "fixture", "cmsis_nn-upstream"),
    ({"TUNED_KERNELS": "0"}, "reference", "int8-reference", "int8-reference", "fixture",
     "fixture", "reference"),
    ({"MODEL": "float32"}, "reference", "float32-reference", "float32-reference", "fixture",
     "fixture", "reference"),
    ({"USE_COMP_MODEL": "0", "USE_CMSIS_NN": "1"}, "cmsis_nn", "float32-cmsis_nn",
     "float32-cmsis_nn", "fixture", "fixture", "cmsis_nn"),
    ({"BUILD": "debug"}, "reference-debug", "int8-reference-debug", "int8-reference-debug",
     "fixture-debug", "fixture-debug", "reference-debug"),
    ({"BUILD": "release_with_logs", "USE_CMSIS_NN": "1"}, "cmsis_nn-release_with_logs",
     "int8-cmsis_nn-release_with_logs", "int8-cmsis_nn-release_with_logs",
     "fixture-release_with_logs", "fixture-release_with_logs", "cmsis_nn"),
    ({"ARENA_SIZE": "0x10000"}, "reference", "int8-reference-arena_65536",
     "int8-reference-arena_65536", "fixture", "fixture", "reference"),
    ({"ARENA_SIZE": "auto", "ITCM": "kernels"}, "reference", "int8-reference",
     "int8-reference", "fixture", "fixture", "reference"),
    ({"ITCM": "none"}, "reference", "int8-reference", "int8-reference-itcm_none", "fixture",
     "fixture-itcm_none", "reference-itcm_none"),
    ({"ITCM": "all", "MODEL_MEM": "dtcm"}, "reference", "int8-reference",
     "int8-reference-itcm_all-model_mem_dtcm", "fixture", "fixture-itcm_all-model_mem_dtcm",
     "reference-itcm_all-model_mem_dtcm"),
    ({"MODEL_MEM": "ocram", "ARENA_MEM": "ocram"}, "reference", "int8-reference",
     "int8-reference-model_mem_ocram-arena_mem_ocram", "fixture",
     "fixture-model_mem_ocram-arena_mem_ocram", "reference-model_mem_ocram-arena_mem_ocram"),
    # ITCM_EXTRA's digest is of the text as given, spaces included.
    ({"ITCM_EXTRA": "conv.o,arm_nn_mat_mult*"}, "reference", "int8-reference",
     "int8-reference-itcm_extra_5d54d90e", "fixture", "fixture-itcm_extra_5d54d90e",
     "reference-itcm_extra_5d54d90e"),
    ({"ITCM_EXTRA": "conv.o, arm_nn_mat_mult*"}, "reference", "int8-reference",
     "int8-reference-itcm_extra_adbfeb92", "fixture", "fixture-itcm_extra_adbfeb92",
     "reference-itcm_extra_adbfeb92"),
    ({"MODEL": "float32", "USE_CMSIS_NN": "1", "TUNED_KERNELS": "0", "BUILD": "debug",
      "ARENA_SIZE": "131072", "ITCM": "none", "MODEL_MEM": "ocram", "ARENA_MEM": "ocram",
      "ITCM_EXTRA": "*conv*.o"},
     "cmsis_nn-debug", "float32-cmsis_nn-upstream-debug-arena_131072",
     "float32-cmsis_nn-upstream-debug-arena_131072-itcm_none-model_mem_ocram-arena_mem_ocram"
     "-itcm_extra_e70f632a", "fixture-debug",
     "fixture-debug-itcm_none-model_mem_ocram-arena_mem_ocram-itcm_extra_e70f632a",
     "cmsis_nn-upstream-debug-itcm_none-model_mem_ocram-arena_mem_ocram-itcm_extra_e70f632a"),
    # Command options name nothing.
    ({"OPS": "all", "TIMEOUT": "5", "PORT": "/dev/ttyACM0", "STATS": "1", "CACHE": "0",
      "FORMAT": "json", "SEND": "2"}, "reference", "int8-reference", "int8-reference",
     "fixture", "fixture", "reference"),
]


@pytest.mark.parametrize("arguments, objects, configuration, image, fixture_objects, "
                         "fixture_image, kernel_tests_name", DIRECTORY_NAMES)
def test_directory_names(arguments, objects, configuration, image, fixture_objects,
                         fixture_image, kernel_tests_name):
    from teensyml import kernel_tests
    values = options.resolve(arguments)
    assert options.objects_variant_name(values) == objects
    assert options.compile_variant_name(values) == configuration
    assert options.variant_name(values) == image
    assert options.placement_variant_name("fixture", values, "configuration") == \
        fixture_objects
    assert options.placement_variant_name("fixture", values) == fixture_image
    # `scons kernel-tests` resolves the options for itself (its own default BUILD).
    assert kernel_tests.variant_name(options.resolve(arguments, ["kernel-tests"])) == \
        kernel_tests_name


@pytest.mark.parametrize("path, name", [
    ("/data/models/my model.tflite", "my_model_c689e217-cmsis_nn"),
    ("/data/models/a$b.tflite", "a_b_d7cb114c-cmsis_nn"),     # no `$` for SCons
])
def test_a_model_path_is_named_by_its_stem_and_a_digest_of_the_path(path, name):
    values = {**options.resolve({"USE_CMSIS_NN": "1", "ITCM": "none"}), "MODEL": path}
    assert options.compile_variant_name(values) == name
    assert options.variant_name(values) == name + "-itcm_none"


def test_every_configuration_option_names_a_directory_and_no_other_does():
    for option in options.OPTIONS:
        assert bool(option.names) == option.configures_firmware, option.key
        assert option.names in ("",) + options.DIRECTORIES and option.scope in options.SCOPES


def test_numbers_and_lists_are_parsed_once_when_resolved():
    values = options.resolve({"COMPONENT": " app, cmsis-nn ,", "BETWEEN": "f(int, int); g",
                              "SEND": r"2\n", "PORT": " /dev/ttyACM0 ",
                              "ITCM_EXTRA": "conv.o, *mat*"})
    assert values["COMPONENT"] == ("app", "cmsis-nn")
    assert values["BETWEEN"] == ("f(int, int)", "g")
    assert values["SEND"] == "2\n" and values["PORT"] == "/dev/ttyACM0"
    assert values["ITCM_EXTRA"] == ("conv.o", "*mat*")
    assert values["ITCM_EXTRA"].text == "conv.o, *mat*"
    with pytest.raises(UserError, match=r"EXPECT=\( is not a valid regular expression"):
        options.resolve({"EXPECT": "("})
