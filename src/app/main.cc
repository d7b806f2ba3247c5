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
#include <cstdio>

#include "tensorflow/lite/micro/cortex_m_generic/debug_log_callback.h"

#include "builtin_digit.h"
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
  printf("outputs:");
  for (int i = 0; i < kClasses; ++i) {
    if (output.type == TENSOR_INT8)
      printf(" %d", reinterpret_cast<const int8_t*>(output.data)[i]);
    else
      printf(" %s", format_float_g9(reinterpret_cast<const float*>(output.data)[i], text));
  }
  printf("\r\npredicted: %d\r\n", inference.Predicted());
}

void Describe() {
  tflite::MicroInterpreter& interpreter = inference.interpreter();
  printf("model: %s, %lu bytes, %lu operators, kernels %s\r\n", kModelName,
         static_cast<unsigned long>(kModelDataLen),
         static_cast<unsigned long>(kModelLayerCount), kKernelSet);
  for (int i = 0; i < inference.input_count(); ++i)
    tensor_describe("input", i, &inference.inputs()[i]);
  for (int i = 0; i < inference.output_count(); ++i)
    tensor_describe("output", i, &inference.output(i));
  printf("arena: %lu of %lu bytes used\r\n",
         static_cast<unsigned long>(interpreter.arena_used_bytes()),
         static_cast<unsigned long>(inference.arena_size()));
}

// Runs the model and prints each operator's time and the total; false
// (after printing why) when the invoke fails.
bool InvokeTimed() {
  const uint32_t start = cycle_counter_read();
  if (!inference.Invoke()) return false;
  const uint32_t total = cycle_counter_read() - start;
  const LayerProfiler& profiler = inference.profiler();
  for (int i = 0; i < profiler.count(); ++i) {
    printf("layer %d %s ", i, profiler.event(i).tag);
    PrintTime(profiler.event(i).cycles);
    printf("\r\n");
  }
  printf("total ");
  PrintTime(total);
  printf("\r\n");
  return true;
}

bool RequireMnist(char command) {
  if (inference.mnist_shaped()) return true;
  printf("error: command %c needs an MNIST-shaped model (one input of %d int8 or float32 "
         "values, %d class scores in output 0); use command 4 for this model\r\n", command,
         kImageBytes, kClasses);
  return false;
}

void RunBuiltinDigit() {
  if (!RequireMnist('2')) return;
  printf("inference: built-in digit, label %d\r\n", kBuiltinDigitLabel);
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
        printf("error: image incomplete: %d of %d bytes arrived\r\n", received, kImageBytes);
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
  printf("done: %d outputs\r\n", inference.output_count());
}

void PrintTflmMessage(const char* text) { printf("%s", text); }

}  // namespace

int main() {
  setvbuf(stdout, nullptr, _IONBF, 0);
  // TFLM's own messages (MicroPrintf: why a model failed to load, ...).
  RegisterDebugLogCallback(PrintTflmMessage);
  const bool ready = inference.Setup();
  printf("teensyml: %s, model %s, kernels %s, %lu MHz\r\n", ready ? "ready" : "NOT READY",
         kModelName, kKernelSet, static_cast<unsigned long>(kCyclesPerMicrosecond));
  for (;;) {
    const int command = console_read_byte();
    if (command < '1' || command > '4') continue;
    if (!ready) {
      printf("error: the model did not load; see the message at boot\r\n");
      continue;
    }
    if (command == '1') Describe();
    if (command == '2') RunBuiltinDigit();
    if (command == '3') ClassifyImage();
    if (command == '4') RunTensors();
  }
}
