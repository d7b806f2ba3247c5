// The console application, compatible with the original firmware's:
//
//   1            model, input and output description, arena use
//   2            inference on the built-in test digit with per-layer timing
//   3 + 784 B    classify the 28x28 8-bit image that follows
//
// Other bytes are ignored; no newline is needed. The README documents the
// exact output lines (teensyml/console_protocol.py parses them).
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
}

namespace {

constexpr uint32_t kCyclesPerMicrosecond = kCoreClockHz / 1000000u;
// A payload byte must follow the previous one within this time.
constexpr uint32_t kPayloadTimeoutCycles = 2u * kCoreClockHz;

Inference inference;

const char* TypeName(TfLiteType type) {
  return type == kTfLiteInt8 ? "int8" : type == kTfLiteFloat32 ? "float32" : "other";
}

void PrintTensor(const char* label, const TfLiteTensor* tensor) {
  printf("%s: %s [", label, TypeName(tensor->type));
  for (int i = 0; i < tensor->dims->size; ++i)
    printf(i ? ",%d" : "%d", tensor->dims->data[i]);
  char scale[FLOAT_G9_SIZE];
  printf("] scale=%s zero_point=%d\r\n", format_float_g9(tensor->params.scale, scale),
         static_cast<int>(tensor->params.zero_point));
}

// Microseconds with three decimals, in integers: cycles / (cycles per us).
void PrintTime(uint32_t cycles) {
  const uint64_t nanoseconds = static_cast<uint64_t>(cycles) * 1000u / kCyclesPerMicrosecond;
  printf("cycles=%lu us=%lu.%03lu", static_cast<unsigned long>(cycles),
         static_cast<unsigned long>(nanoseconds / 1000u),
         static_cast<unsigned long>(nanoseconds % 1000u));
}

void PrintOutputs() {
  const TfLiteTensor* output = inference.interpreter().output(0);
  char text[FLOAT_G9_SIZE];
  printf("outputs:");
  for (int i = 0; i < kClasses; ++i) {
    if (output->type == kTfLiteInt8)
      printf(" %d", output->data.int8[i]);
    else
      printf(" %s", format_float_g9(output->data.f[i], text));
  }
  printf("\r\npredicted: %d\r\n", inference.Predicted());
}

void Describe() {
  tflite::MicroInterpreter& interpreter = inference.interpreter();
  printf("model: %s, %lu bytes, %lu operators, kernels %s\r\n", kModelName,
         static_cast<unsigned long>(kModelDataLen),
         static_cast<unsigned long>(kModelLayerCount), kKernelSet);
  PrintTensor("input", interpreter.input(0));
  PrintTensor("output", interpreter.output(0));
  printf("arena: %lu of %lu bytes used\r\n",
         static_cast<unsigned long>(interpreter.arena_used_bytes()),
         static_cast<unsigned long>(inference.arena_size()));
}

void RunBuiltinDigit() {
  printf("inference: built-in digit, label %d\r\n", kBuiltinDigitLabel);
  inference.SetInput(kBuiltinDigit);
  const uint32_t start = cycle_counter_read();
  if (!inference.Invoke()) return;
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
  PrintOutputs();
}

// Reads the 784 pixel bytes of command 3; false if they stop coming.
bool ReadPayload(uint8_t* pixels) {
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
  if (!ReadPayload(pixels)) return;
  inference.SetInput(pixels);
  if (inference.Invoke()) PrintOutputs();
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
    if (command < 0) continue;
    if (command != '1' && command != '2' && command != '3') continue;
    if (!ready) {
      printf("error: the model did not load; see the message at boot\r\n");
      continue;
    }
    if (command == '1') Describe();
    if (command == '2') RunBuiltinDigit();
    if (command == '3') ClassifyImage();
  }
}
