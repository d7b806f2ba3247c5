// Per-operator timing from the DWT cycle counter. Attach() wraps the invoke
// function of every operator the model's resolver registered, so each layer
// is timed in every build type: TFLM's own hook (ScopedMicroProfiler) is
// compiled out with TFLM's messages in BUILD=release.
#ifndef TEENSYML_LAYER_PROFILER_H
#define TEENSYML_LAYER_PROFILER_H

#include <cstdint>

#include "op_resolver.h"

class LayerProfiler {
 public:
  static constexpr int kMaxEvents = 64;

  struct Event {
    const char* tag;        // the operator's name
    uint32_t cycles;        // its invoke, from call to return
  };

  // From now on, every invoke of an operator `resolver` holds is recorded here
  // (before the interpreter is made: it keeps pointers to the registrations).
  void Attach(ModelOpResolver& resolver);

  // Around each operator's invoke. Functions of their own (noipa: not inlined
  // nor cloned, arguments where the ABI puts them), so tools can watch layers
  // start and end (bench/lstm_difference.py does).
  uint32_t Begin(const char* tag);                   // the cycle counter
  void End(const char* tag, uint32_t start);

  void Clear() { count_ = 0; }
  int count() const { return count_; }
  const Event& event(int index) const { return events_[index]; }

 private:
  Event events_[kMaxEvents] = {};
  int count_ = 0;
};

#endif
