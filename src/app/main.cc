// The console application, compatible with the original firmware's `1`-`3`:
//
//   1            model, every input and output tensor, arena use
//   2            MNIST: inference on the built-in test digit, per-layer timing
//   3 + 784 B    MNIST: classify the 28x28 8-bit image that follows
//   4 + records  any model: raw bytes for input tensors, invoke, per-layer
//                timing and every output tensor's values
//
// Other bytes are ignored; no newline is needed. The README documents the
// exact output lines and command 4's records (teensyml/console_protocol.py
// reads them; src/tensor_console prints the tensors).
#include <cstdint>

#include "tensorflow/lite/micro/cortex_m_generic/debug_log_callback.h"

#include "builtin_digit.h"
#include "console_print.h"
#include "firmware_config.h"
#include "float_format.h"
#include "inference.h"
#include "model_data.h"
#include "op_resolver.h"

extern "C" {
#include "console.h"
#include "cycle_counter.h"
#include "tensor_console.h"
}

namespace {

constexpr uint32_t kCyclesPerMicrosecond = kCoreClockHz / 1000000u;
// A payload byte must follow the previous one within this time.
constexpr uint32_t kPayloadTimeoutCycles = 2u * kCoreClockHz;

Inference inference;

void PrintTime(uint32_t cycles) { tensor_print_time(cycles, kCyclesPerMicrosecond); }

void PrintMnistOutputs() {
  const tensor_view& output = inference.output(0);
  char text[FLOAT_G9_SIZE];
  Print("outputs:");
  for (int i = 0; i < kClasses; ++i) {
    if (output.type == TENSOR_INT8)
      Print(" ", reinterpret_cast<const int8_t*>(output.data)[i]);
    else
      Print(" ", format_float_g9(reinterpret_cast<const float*>(output.data)[i], text));
  }
  Print("\r\npredicted: ", inference.Predicted(), "\r\n");
}

void Describe() {
  tflite::MicroInterpreter& interpreter = inference.interpreter();
  Print("model: ", kModelName, ", ", static_cast<uint32_t>(kModelDataLen), " bytes, ",
        static_cast<uint32_t>(kModelLayerCount), " operators, kernels ", kKernelSet, "\r\n");
  for (int i = 0; i < inference.input_count(); ++i)
    tensor_describe("input", i, &inference.inputs()[i]);
  for (int i = 0; i < inference.output_count(); ++i)
    tensor_describe("output", i, &inference.output(i));
  Print("arena: ", static_cast<uint32_t>(interpreter.arena_used_bytes()), " of ",
        static_cast<uint32_t>(inference.arena_size()), " bytes used\r\n");
}

// Runs the model and prints each operator's time and the total; false
// (after printing why) when the invoke fails.
bool InvokeTimed() {
  const uint32_t start = cycle_counter_read();
  if (!inference.Invoke()) return false;
  const uint32_t total = cycle_counter_read() - start;
  const LayerProfiler& profiler = inference.profiler();
  for (int i = 0; i < profiler.count(); ++i) {
    Print("layer ", i, " ", profiler.event(i).tag, " ");
    PrintTime(profiler.event(i).cycles);
    Print("\r\n");
  }
  Print("total ");
  PrintTime(total);
  Print("\r\n");
  return true;
}

bool RequireMnist(char command) {
  if (inference.mnist_shaped()) return true;
  Print("error: command ", command, " needs an MNIST-shaped model (one input of ", kImageBytes,
        " int8 or float32 values, ", kClasses,
        " class scores in output 0); use command 4 for this model\r\n");
  return false;
}

void RunBuiltinDigit() {
  if (!RequireMnist('2')) return;
  Print("inference: built-in digit, label ", kBuiltinDigitLabel, "\r\n");
  inference.SetImage(kBuiltinDigit);
  if (InvokeTimed()) PrintMnistOutputs();
}

// Reads the 784 pixel bytes of command 3; false if they stop coming.
bool ReadImage(uint8_t* pixels) {
  for (int received = 0; received < kImageBytes;) {
    const uint32_t start = cycle_counter_read();
    int byte;
    while ((byte = console_read_byte()) < 0) {
      if (cycle_counter_read() - start > kPayloadTimeoutCycles) {
        Print("error: image incomplete: ", received, " of ", kImageBytes, " bytes arrived\r\n");
        return false;
      }
    }
    pixels[received++] = static_cast<uint8_t>(byte);
  }
  return true;
}

void ClassifyImage() {
  static uint8_t pixels[kImageBytes];
  // The pixels are read even for a model that cannot take them: the next
  // command starts after them.
  if (!ReadImage(pixels) || !RequireMnist('3')) return;
  inference.SetImage(pixels);
  if (inference.Invoke()) PrintMnistOutputs();
}

void RunTensors() {
  if (!tensor_read_inputs(inference.inputs(), inference.input_count(),
                          kPayloadTimeoutCycles))
    return;
  if (!InvokeTimed()) return;
  for (int i = 0; i < inference.output_count(); ++i)
    tensor_print_values("output", i, &inference.output(i));
  Print("done: ", inference.output_count(), " outputs\r\n");
}

void PrintTflmMessage(const char* text) { Print(text); }

}  // namespace

int main() {
  // TFLM's own messages (MicroPrintf: why a model failed to load, ...).
  RegisterDebugLogCallback(PrintTflmMessage);
  const bool ready = inference.Setup();
  Print("teensyml: ", ready ? "ready" : "NOT READY", ", model ", kModelName, ", kernels ",
        kKernelSet, ", ", kCyclesPerMicrosecond, " MHz\r\n");
  for (;;) {
    const int command = console_read_byte();
    if (command < '1' || command > '4') continue;
    if (!ready) {
      Print("error: the model did not load; see the message at boot\r\n");
      continue;
    }
    if (command == '1') Describe();
    if (command == '2') RunBuiltinDigit();
    if (command == '3') ClassifyImage();
    if (command == '4') RunTensors();
  }
}
