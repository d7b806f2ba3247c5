"""The host side of the console protocol, on answers as they arrive over a
serial line: in pieces, with CR LF line ends."""
import pytest

from teensyml import console_protocol as protocol

DESCRIPTION = ("model: mnist_float32, 377292 bytes, 9 operators, kernels reference\r\n"
               "input: float32 [1,28,28,1] scale=0 zero_point=0\r\n"
               "output: float32 [1,10] scale=0 zero_point=0\r\n"
               "arena: 110832 of 113664 bytes used\r\n")
RESULT = ("inference: built-in digit, label 7\r\n"
          "layer 0 CONV_2D cycles=1200 us=2.000\r\n"
          "total cycles=1500 us=2.500\r\n"
          "outputs: -128 -128 127\r\n"
          "predicted: 2\r\n")


@pytest.mark.parametrize("end,answer", [(protocol.INFO_END, DESCRIPTION),
                                        (protocol.RESULT_END, RESULT)])
def test_a_reader_waits_for_the_whole_last_line(end, answer):
    # Every prefix short of the final line end is still arriving.
    for cut in range(len(answer) - 1):
        assert not end.search(answer[:cut]), answer[:cut]
    assert end.search(answer)
    assert end.search(answer.replace("\r\n", "\n"))


def test_the_description_is_parsed_from_a_complete_answer():
    description = protocol.parse_description(DESCRIPTION)
    assert (description.model, description.model_bytes, description.kernels) == \
        ("mnist_float32", 377292, "reference")
    assert description.input.shape == (1, 28, 28, 1)
    assert (description.arena_used, description.arena_size) == (110832, 113664)


def test_a_cut_description_is_refused():
    with pytest.raises(protocol.ProtocolError, match="no arena: line"):
        protocol.parse_description(DESCRIPTION[:DESCRIPTION.index("of 113664")])


def test_the_result_of_the_built_in_digit_is_parsed():
    result = protocol.parse_result(RESULT)
    assert (result.outputs, result.predicted, result.label, result.total_cycles) == \
        ((-128, -128, 127), 2, 7, 1500)
    assert [(layer.index, layer.op, layer.cycles) for layer in result.layers] == \
        [(0, "CONV_2D", 1200)]


def test_an_error_line_ends_the_answer_and_is_raised():
    answer = "error: AllocateTensors failed\r\n"
    assert protocol.RESULT_END.search(answer)
    with pytest.raises(protocol.ProtocolError, match="AllocateTensors failed"):
        protocol.parse_result(answer)
