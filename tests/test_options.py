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
