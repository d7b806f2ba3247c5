"""The host side of the console protocol, on answers as they arrive over a
serial line: in pieces, with CR LF line ends."""
import pytest

from teensyml import console_protocol as protocol

DESCRIPTION = ("model: mnist_float32, 377292 bytes, 9 operators, kernels reference\r\n"
               "input 0: float32 [1,28,28,1] scale=0 zero_point=0 bytes=3136 "
               "name=serving_default x:0\r\n"
               "input 1: int16 [] scale=0.5 zero_point=-3 bytes=2\r\n"
               "output 0: float32 [1,10] scale=0 zero_point=0 bytes=40\r\n"
               "arena: 110832 of 113664 bytes used\r\n")
RESULT = ("inference: built-in digit, label 7\r\n"
          "layer 0 CONV_2D cycles=1200 us=2.000\r\n"
          "total cycles=1500 us=2.500\r\n"
          "outputs: -128 -128 127\r\n"
          "predicted: 2\r\n")
RUN = ("layer 0 FULLY_CONNECTED cycles=1200 us=2.000\r\n"
       "total cycles=1500 us=2.500\r\n"
       "output 0 values: -1.5 3.40282347e+38 0\r\n"
       "output 1 values:\r\n"
       "output 2 hex: 003cff7f\r\n"
       "done: 3 outputs\r\n")


@pytest.mark.parametrize("end,answer", [(protocol.INFO_END, DESCRIPTION),
                                        (protocol.RESULT_END, RESULT),
                                        (protocol.RUN_END, RUN)])
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
    assert description.input.name == "serving_default x:0" and not description.input.quantized
    assert description.inputs[1] == protocol.Tensor(1, "int16", (), 0.5, -3, 2, "")
    assert description.inputs[1].quantized
    assert [tensor.bytes for tensor in description.outputs] == [40]
    assert (description.arena_used, description.arena_size) == (110832, 113664)


def test_tensors_out_of_order_are_refused():
    swapped = DESCRIPTION.replace("input 1:", "input 2:")
    with pytest.raises(protocol.ProtocolError, match="input 2 out of order"):
        protocol.parse_description(swapped)


def test_a_cut_description_is_refused():
    with pytest.raises(protocol.ProtocolError, match="no arena: line"):
        protocol.parse_description(DESCRIPTION[:DESCRIPTION.index("of 113664")])


def test_the_result_of_the_built_in_digit_is_parsed():
    result = protocol.parse_result(RESULT)
    assert (result.outputs, result.predicted, result.label, result.total_cycles) == \
        ((-128, -128, 127), 2, 7, 1500)
    assert [(layer.index, layer.op, layer.cycles) for layer in result.layers] == \
        [(0, "CONV_2D", 1200)]


def test_a_firmware_that_did_not_load_answers_1_with_its_reason():
    """Boot's reason and then `1`'s error line: the answer ends, and says why."""
    answer = ("error: arena too small or model unsupported: AllocateTensors failed with 256 "
              "bytes of arena; rebuild with a larger ARENA_SIZE=\r\n"
              "teensyml: NOT READY, model m, kernels reference, 600 MHz\r\n"
              "error: the model did not load; see the message at boot\r\n")
    assert protocol.INFO_END.search(answer)
    with pytest.raises(protocol.ProtocolError, match="rebuild with a larger ARENA_SIZE="):
        protocol.parse_description(answer)


def test_an_error_line_ends_the_answer_and_is_raised():
    answer = "error: AllocateTensors failed\r\n"
    assert protocol.RESULT_END.search(answer)
    with pytest.raises(protocol.ProtocolError, match="AllocateTensors failed"):
        protocol.parse_result(answer)


def test_command_4_request_is_count_then_index_length_bytes():
    request = protocol.run_request([(1, b"\x01\x02"), (0, b"")])
    assert request == b"4\x02" + b"\x01\x02\x00\x00\x00\x01\x02" + b"\x00" + bytes(4)
    with pytest.raises(ValueError, match="one byte"):
        protocol.run_request([(256, b"")])
    with pytest.raises(ValueError, match="at most 255 records"):
        protocol.run_request([(0, b"")] * 256)


def test_command_4_answer_keeps_every_output_exactly():
    run = protocol.parse_run(RUN)
    assert run.outputs[0].numbers == (-1.5, 3.40282347e+38, 0)
    assert run.outputs[1].numbers == ()
    assert run.outputs[2].raw == bytes([0x00, 0x3C, 0xFF, 0x7F])
    assert run.total_cycles == 1500 and [layer.op for layer in run.layers] == \
        ["FULLY_CONNECTED"]


def test_command_4_answer_missing_an_output_is_refused():
    with pytest.raises(protocol.ProtocolError, match="3 outputs announced, 2 printed"):
        protocol.parse_run(RUN.replace("output 2 hex: 003cff7f\r\n", ""))
    with pytest.raises(protocol.ProtocolError, match="input 0 takes 4 bytes"):
        protocol.parse_run("error: input 0 takes 4 bytes (int8 [1,4]), not 5\r\n")
