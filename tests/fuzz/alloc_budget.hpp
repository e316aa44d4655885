// Counts the heap memory a fuzz target holds while it handles one input,
// so that an amplifying decoder fails the run: libFuzzer's own limits
// (-rss_limit_mb, -malloc_limit_mb) miss a 4 KB input that makes a decoder
// reserve many 8 MB blocks in turn, none of them over the malloc limit.
//
// Include this header in exactly one source file of a fuzz binary: it
// replaces the global operator new and delete (test code only; the
// replacement is global by nature). A target wraps its work in an
// AllocBudget and states what may be held at most:
//
//   AllocBudget budget;                     // starts counting
//   ... decode ...
//   budget.check(200 * size + 65536, "decoding");   // aborts with a message if over
#pragma once

#include <malloc.h>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace rw::fuzz {

struct AllocCounters {
  std::atomic<std::size_t> live{0};
  std::atomic<std::size_t> peak{0};
};

inline AllocCounters& alloc_counters() {
  static AllocCounters counters;
  return counters;
}

inline void* counted_alloc(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (!p) throw std::bad_alloc();
  AllocCounters& c = alloc_counters();
  const std::size_t live = c.live.fetch_add(malloc_usable_size(p)) + malloc_usable_size(p);
  std::size_t peak = c.peak.load();
  while (live > peak && !c.peak.compare_exchange_weak(peak, live)) {
  }
  return p;
}

inline void counted_free(void* p) {
  if (!p) return;
  alloc_counters().live.fetch_sub(malloc_usable_size(p));
  std::free(p);
}

// The peak of heap memory held above what was held when it was made.
class AllocBudget {
 public:
  AllocBudget() : base_(alloc_counters().live.load()) { alloc_counters().peak.store(base_); }
  std::size_t peak_above_start() const {
    const std::size_t peak = alloc_counters().peak.load();
    return peak > base_ ? peak - base_ : 0;
  }
  void check(std::size_t allowed, const char* what) const {
    const std::size_t held = peak_above_start();
    if (held > allowed) {
      std::fprintf(stderr, "%s held %zu bytes at its peak, over its budget of %zu\n", what, held, allowed);
      std::abort();
    }
  }

 private:
  std::size_t base_;
};

}  // namespace rw::fuzz

// The replacements (all the forms a C++20 program may call).
void* operator new(std::size_t n) { return rw::fuzz::counted_alloc(n); }
void* operator new[](std::size_t n) { return rw::fuzz::counted_alloc(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return rw::fuzz::counted_alloc(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return rw::fuzz::counted_alloc(n);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { rw::fuzz::counted_free(p); }
void operator delete[](void* p) noexcept { rw::fuzz::counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { rw::fuzz::counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { rw::fuzz::counted_free(p); }
