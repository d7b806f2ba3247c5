"""CoreMark on the board (src/coremark/, `scons coremark`, bench/coremark.py):
our port builds with CoreMark's core files and, run in the emulator, CoreMark
validates its CRCs; the report checks catch a wrong run; without the optional
sources `scons coremark` says how to get them."""
import pytest

from conftest import ROOT, THIRD_PARTY, clean_checkout, load_bench, run_scons
from teensyml import coremark, deps
from teensyml.errors import UserError

COREMARK_REASON = ("third_party/coremark (an optional dependency) or the board SDK is "
                   "absent: run `python3 bench/coremark.py --mirror DIR` (online: without "
                   "--mirror) to fetch it and enable the CoreMark test")


def coremark_ready():
    return not coremark.problems(deps.load_manifest(THIRD_PARTY / "manifest.toml"),
                                 THIRD_PARTY)


requires_coremark = pytest.mark.skipif(not coremark_ready(), reason=COREMARK_REASON)


@pytest.mark.firmware
@requires_coremark
def test_coremark_validates_its_crcs_in_the_emulator():
    run_scons("coremark")
    bench = load_bench("coremark")
    report, result = bench.emulate(ROOT / f"{coremark.IMAGE}.hex")
    # check() inside emulate() raised unless these hold; say it here too.
    _, crclist, crcmatrix, crcstate = coremark.KNOWN_RUNS[0xE9F5]
    assert (report.seedcrc, report.crclist, report.crcmatrix, report.crcstate) == \
        (0xE9F5, crclist, crcmatrix, crcstate)
    assert report.iterations == coremark.ITERATIONS
    assert report.errors == [coremark.TOO_SHORT]
    # Placed as the reference: nothing of the timed run comes from flash.
    assert result.flash_fetches_timed == 0 and result.flash_data_timed == 0
    assert result.timed_instructions > 100_000 * coremark.ITERATIONS
    # CoreMark's ticks (DWT CYCCNT around the call) are the model's cycles.
    assert result.total_ticks == pytest.approx(result.timed_cycles, rel=1e-3)


GOOD_REPORT = """coremark: start, core clock 600000000 Hz\r
2K performance run parameters for coremark.\r
CoreMark Size    : 666\r
Total ticks      : 14049672\r
Total time (secs): 0.023416\r
Iterations/Sec   : 2135.281165\r
ERROR! Must execute for at least 10 secs for a valid result!\r
Iterations       : 50\r
Compiler version : GCC12.2.1 20221205\r
Compiler flags   : -O3\r
Memory location  : STATIC\r
seedcrc          : 0xe9f5\r
[0]crclist       : 0xe714\r
[0]crcmatrix     : 0x1fd7\r
[0]crcstate      : 0x8e3a\r
[0]crcfinal      : 0x0158\r
Errors detected\r
coremark: done\r
"""


def test_report_is_read_and_a_wrong_run_fails_its_checks():
    report = coremark.check(coremark.parse(GOOD_REPORT), iterations=50)
    assert (report.total_ticks, report.iterations, report.crcfinal) == (14049672, 50, 0x158)
    assert report.iterations_per_second == pytest.approx(50 * 600e6 / 14049672)
    assert report.coremark_per_mhz == pytest.approx(report.iterations_per_second / 600)
    wrong = {
        "seedcrc is 0x18f2": GOOD_REPORT.replace("0xe9f5", "0x18f2"),
        "matrix CRC is 0x1fd6": GOOD_REPORT.replace("0x1fd7", "0x1fd6"),
        "ERROR! list crc": GOOD_REPORT.replace(
            "Errors detected", "[0]ERROR! list crc 0xe715 - should be 0xe714"),
        "ran 49 iterations": GOOD_REPORT.replace(": 50", ": 49"),
        "did not finish": GOOD_REPORT.replace("coremark: done", ""),
        "lacks crcstate": GOOD_REPORT.replace("[0]crcstate", "[0]crcstat"),
    }
    for message, text in wrong.items():
        with pytest.raises(UserError, match=message.replace("[", r"\[")):
            coremark.check(coremark.parse(text), iterations=50)


def test_scons_coremark_without_its_sources_says_how(tmp_path):
    project = clean_checkout(tmp_path / "project")
    result = run_scons("coremark", cwd=project, check=False)
    assert result.returncode == 2
    assert "bench/coremark.py --mirror DIR" in result.stderr
    assert "names=['coremark']" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / f"{coremark.IMAGE}.elf").exists()


@requires_coremark
def test_a_damaged_coremark_tree_is_named_with_how_to_fetch_it_again(tmp_path):
    """As for the firmware's trees: an edit in place is found by content."""
    import shutil
    third_party = tmp_path / "third_party"
    for name in coremark.NEEDS:
        shutil.copytree(THIRD_PARTY / name, third_party / name, symlinks=True)
    manifest = deps.load_manifest(THIRD_PARTY / "manifest.toml")
    assert coremark.problems(manifest, third_party) == []
    source = third_party / coremark.DEPENDENCY / "core_util.c"
    source.write_text(source.read_text().replace("crc", "crC", 1))
    found = coremark.problems(manifest, third_party)
    assert found and "core_util.c" in found[0]
    assert "bench/coremark.py --mirror DIR" in coremark.not_ready_message(found)
