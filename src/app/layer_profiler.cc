#include "layer_profiler.h"

#include "cycle_counter.h"

uint32_t LayerProfiler::BeginEvent(const char* tag) {
  if (count_ >= kMaxEvents) return kMaxEvents;  // dropped: more ops than slots
  events_[count_] = {tag, 0};
  starts_[count_] = cycle_counter_read();
  return static_cast<uint32_t>(count_++);
}

void LayerProfiler::EndEvent(uint32_t event_handle) {
  const uint32_t now = cycle_counter_read();
  if (event_handle >= static_cast<uint32_t>(count_)) return;
  events_[event_handle].cycles = now - starts_[event_handle];
}
