// The feeding loop both session fuzz targets share: the input in pieces of
// `piece` bytes, feed() called again while it stops early, every batch of
// events handed to `on_events` (which answers them), and the rules every
// session keeps checked: progress without an error, at most `max_events`
// events per call, an error that stays.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "common/base/bytes.hpp"

namespace rw::fuzz {

template <class Session, class Event, class OnEvents>
void feed_in_pieces(Session& session, ByteView input, std::size_t piece, std::size_t max_events,
                    OnEvents&& on_events, const char* who) {
  auto check = [who](bool ok, const char* what) {
    if (!ok) {
      std::fprintf(stderr, "%s: %s\n", who, what);
      std::abort();
    }
  };
  std::vector<Event> events;
  std::size_t pos = 0;
  while (pos < input.size()) {
    ByteView part = input.subspan(pos, std::min(piece, input.size() - pos));
    pos += part.size();
    while (!part.empty()) {
      events.clear();
      const auto r = session.feed(part, events);
      check(r.consumed <= part.size(), "consumed more than it was given");
      check(events.size() <= max_events, "more events than max_messages_per_feed");
      on_events(events);
      if (r.error) {
        std::vector<Event> more;
        const auto again = session.feed(input.subspan(pos), more);
        check(again.error.has_value() && again.consumed == 0 && more.empty(), "an error that is not sticky");
        return;
      }
      check(r.consumed > 0, "no progress without an error");
      part = part.subspan(r.consumed);
    }
  }
}

}  // namespace rw::fuzz
