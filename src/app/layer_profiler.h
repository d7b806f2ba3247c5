// Per-operator timing from the DWT cycle counter, fed by TFLM's interpreter
// (it opens one profiler event per operator it invokes).
#ifndef TEENSYML_LAYER_PROFILER_H
#define TEENSYML_LAYER_PROFILER_H

#include <cstdint>

#include "tensorflow/lite/micro/micro_profiler_interface.h"

class LayerProfiler : public tflite::MicroProfilerInterface {
 public:
  static constexpr int kMaxEvents = 64;

  struct Event {
    const char* tag;
    uint32_t cycles;
  };

  uint32_t BeginEvent(const char* tag) override;
  void EndEvent(uint32_t event_handle) override;

  void Clear() { count_ = 0; }
  int count() const { return count_; }
  const Event& event(int index) const { return events_[index]; }

 private:
  Event events_[kMaxEvents] = {};
  uint32_t starts_[kMaxEvents] = {};
  int count_ = 0;
};

#endif
