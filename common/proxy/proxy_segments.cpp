#include "common/proxy/proxy_segments.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/cluster/identity.hpp"

namespace rw::proxy {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using dvr::StoreError;

namespace {

// Runs `f` (returning an awaitable<T>) on `executor`; the caller resumes
// on its own. (co_spawn's own result needs a default-constructible T.)
template <class F>
auto hop(asio::any_io_executor executor, F f) -> asio::awaitable<typename decltype(f())::value_type> {
  std::optional<typename decltype(f())::value_type> result;
  co_await asio::co_spawn(
      executor, [&]() -> asio::awaitable<void> { result.emplace(co_await f()); }, asio::use_awaitable);
  co_return std::move(*result);
}

// Runs `f` (returning an awaitable<void>) on `executor`.
template <class F>
asio::awaitable<void> hop_void(asio::any_io_executor executor, F f) {
  co_await asio::co_spawn(executor, std::move(f), asio::use_awaitable);
}

// An index page holds little: its stream info and at most a page of
// entries.
constexpr std::size_t kMaxIndexAnswerBytes = 4u << 20;
// A stream that is no longer live changes only when it is published again.
constexpr auto kEndedIndexTtl = 5000ms;
// After a stream started or stopped upstream (see forget_index).
constexpr auto kChangingIndexTtl = 100ms;
constexpr auto kChangingFor = 1000ms;
// Streams whose index is kept (names asked for by anyone, known upstream
// or not): beyond it the least recently fetched go, those upstream does
// not know first.
constexpr std::size_t kMaxStreams = 4096;
// Segment fetches upstream at once; more wait their turn, so that many
// downstream requests for distinct segments cannot hold many segments'
// worth of memory and bandwidth at a time.
constexpr int kMaxConcurrentFetches = 8;
// How long a segment read waits for an upstream to be ready.
constexpr auto kReadyWait = 5000ms;

StoreError unavailable(std::string message) { return StoreError{StoreError::Code::IoError, std::move(message)}; }

bool same_segment(const dvr::SegmentInfo& a, const dvr::SegmentInfo& b) {
  return a.sequence() == b.sequence() && a.start_ms() == b.start_ms() && a.first_position() == b.first_position() &&
         a.frame_count() == b.frame_count();
}

}  // namespace

ProxySegments::ProxySegments(asio::any_io_executor proxy_executor, UpstreamFor upstream_for, cache::SegmentCache& cache,
                             ProxySegmentsSettings settings, const Logger& log, server::EventBus& events)
    : executor_(proxy_executor),
      upstream_for_(std::move(upstream_for)),
      cache_(cache),
      settings_(std::move(settings)),
      log_(log),
      events_(events) {}

server::SegmentFetchTotals ProxySegments::totals() const {
  server::SegmentFetchTotals t;
  t.fetches = fetches_.load(std::memory_order_relaxed);
  t.fetch_errors = fetch_errors_.load(std::memory_order_relaxed);
  t.fetched_bytes = fetched_bytes_.load(std::memory_order_relaxed);
  t.served_bytes = served_bytes_.load(std::memory_order_relaxed);
  t.coalesced = segment_flights_.coalesced();
  return t;
}

ProxySegments::~ProxySegments() { disk_.join(); }

std::string ProxySegments::forwarded(const std::string& name, const std::string& via) const {
  return cluster::name_with_via(name, "", cluster::forward_via(via, settings_.server_id));
}

template <class Message>
asio::awaitable<ProxySegments::Result<std::optional<Message>>> ProxySegments::ask(
    Upstream& upstream, const std::string& name, std::string_view call, std::vector<amf::Value> args,
    const std::string& via, std::size_t max_bytes) {
  args.insert(args.begin(), amf::Value(forwarded(name, via)));
  const std::string call_name(call);
  auto result = co_await upstream.call(call_name, std::move(args));
  if (!result) {
    if (result.error().reason == "NotFound") co_return std::optional<Message>{};
    co_return unexpected(unavailable(upstream.current_url() + " " + call_name + ": " + result.error().reason + ": " +
                                     result.error().description));
  }
  Message message;
  if (!cluster::parse_byte_array(*result, message, max_bytes)) {
    const std::string why = "answered " + call_name + " with something that is not its protocol message";
    log_.warn() << "proxy: upstream " << upstream.current_url() << " " << why << "; trying the next";
    upstream.fail_over(why);
    co_return unexpected(StoreError{StoreError::Code::Corruption, upstream.current_url() + " " + why});
  }
  co_return std::optional<Message>(std::move(message));
}

void ProxySegments::remember(StreamState& state, const google::protobuf::RepeatedPtrField<dvr::SegmentInfo>& entries) {
  for (const auto& e : entries) {
    if (state.info && (e.sequence() < state.info->first_sequence() || e.sequence() >= state.info->next_sequence())) {
      continue;
    }
    state.entries[e.sequence()] = e;
  }
}

// --- the index ---------------------------------------------------------------

asio::awaitable<ProxySegments::Result<std::optional<dvr::StreamInfo>>> ProxySegments::info_here(
    const std::string& app, const std::string& name, const std::string& via) {
  const Key key{app, name};
  if (auto it = streams_.find(key); it != streams_.end() && it->second.fetched) {
    const auto& st = it->second;
    const auto now = std::chrono::steady_clock::now();
    auto ttl = st.info && st.info->live() ? settings_.index_ttl
                                          : std::max<std::chrono::milliseconds>(settings_.index_ttl, kEndedIndexTtl);
    if (now < st.changing_until) ttl = std::min<std::chrono::milliseconds>(ttl, kChangingIndexTtl);
    if (now - st.fetched_at < ttl) co_return st.info;
  }
  std::string flight = app;
  flight.push_back('\0');
  flight += name;
  co_return co_await info_flights_.run(flight, [&] { return refresh(app, name, via); });
}

asio::awaitable<ProxySegments::Result<std::optional<dvr::StreamInfo>>> ProxySegments::refresh(
    const std::string& app, const std::string& name, const std::string& via) {
  const Key key{app, name};
  std::shared_ptr<Upstream> up = upstream_for_(app);
  if (!up) co_return std::optional<dvr::StreamInfo>{};
  if (!co_await up->wait_ready(kReadyWait)) {
    co_return unexpected(unavailable("no upstream of " + app + " is answering"));
  }
  auto mark_none = [&] {
    StreamState& st = streams_[key];
    st.fetched = true;
    st.fetched_at = std::chrono::steady_clock::now();
    st.info.reset();
    st.entries.clear();
    trim_streams();
  };
  if (!up->speaks_segment_protocol()) {
    // nginx-rtmp, SRS: live only.
    mark_none();
    co_return std::optional<dvr::StreamInfo>{};
  }
  std::vector<amf::Value> no_args;
  auto page = co_await ask<cluster::IndexPage>(*up, name, cluster::kStreamInfoCall, std::move(no_args), via,
                                               kMaxIndexAnswerBytes);
  if (!page) co_return unexpected(page.error());
  if (!*page || !(**page).known()) {
    mark_none();
    co_return std::optional<dvr::StreamInfo>{};
  }
  dvr::StreamInfo upstream_info = (**page).stream();
  const std::string url = up->current_url();

  StreamState* st = &streams_[key];
  std::uint64_t local_id = st->info ? st->info->recording_id() : 0;
  if (!st->info || upstream_info.recording_id() != st->upstream_recording) {
    // Another recording, or the same one on another upstream: the same
    // when the newest segment we hold is there as we hold it.
    bool same = false;
    if (st->info && !st->entries.empty()) {
      const dvr::SegmentInfo newest = st->entries.rbegin()->second;
      if (newest.sequence() >= upstream_info.first_sequence() && newest.sequence() < upstream_info.next_sequence()) {
        std::vector<amf::Value> args{amf::Value(newest.sequence()), amf::Value(1)};
        auto there = co_await ask<cluster::IndexPage>(*up, name, cluster::kSegmentInfosCall, std::move(args), via,
                                                      kMaxIndexAnswerBytes);
        same = there && *there && (**there).segments_size() == 1 && same_segment((**there).segments(0), newest);
      }
    }
    st = &streams_[key];
    if (same) {
      log_.info() << "proxy: " << log_field(app) << "/" << log_field(name) << " on " << url << " is recording "
                  << upstream_info.recording_id() << ", the same as recording " << local_id
                  << " here: cached segments stay";
    } else {
      if (st->info) {
        log_.info() << "proxy: " << log_field(app) << "/" << log_field(name) << " is a new recording "
                    << upstream_info.recording_id() << " on " << url;
      }
      local_id = upstream_info.recording_id();
      st->entries.clear();
    }
    st->upstream_recording = upstream_info.recording_id();
  }
  upstream_info.set_recording_id(local_id);
  // Retention upstream deleted what is before its first segment.
  st->entries.erase(st->entries.begin(), st->entries.lower_bound(upstream_info.first_sequence()));
  st->info = upstream_info;
  st->fetched = true;
  st->fetched_at = std::chrono::steady_clock::now();
  std::optional<dvr::StreamInfo> result = st->info;
  trim_streams();
  co_return result;
}

void ProxySegments::forget_index(const std::string& app, const std::string& name) {
  auto it = streams_.find(Key{app, name});
  if (it == streams_.end()) return;
  it->second.fetched = false;
  it->second.changing_until = std::chrono::steady_clock::now() + kChangingFor;
}

void ProxySegments::trim_streams() {
  while (streams_.size() > kMaxStreams) {
    auto victim = streams_.end();
    for (auto it = streams_.begin(); it != streams_.end(); ++it) {
      if (victim == streams_.end() || (!it->second.info && victim->second.info) ||
          (!it->second.info == !victim->second.info && it->second.fetched_at < victim->second.fetched_at)) {
        victim = it;
      }
    }
    streams_.erase(victim);
  }
}

std::optional<dvr::StreamInfo> ProxySegments::cached_info(const std::string& app, const std::string& name) const {
  auto it = streams_.find(Key{app, name});
  if (it == streams_.end()) return std::nullopt;
  return it->second.info;
}

asio::awaitable<ProxySegments::Result<std::optional<dvr::SegmentInfo>>> ProxySegments::find_here(
    const std::string& app, const std::string& name, std::uint32_t media_ms, const std::string& via) {
  auto info = co_await info_here(app, name, via);
  if (!info) co_return unexpected(info.error());
  if (!*info) co_return std::optional<dvr::SegmentInfo>{};
  {
    // Answered here when the entries we hold bound it: the last one
    // starting at or before media_ms, and the one after it (or none).
    const StreamState& st = streams_[Key{app, name}];
    const dvr::SegmentInfo* best = nullptr;
    for (const auto& [seq, e] : st.entries) {
      if (e.start_ms() <= media_ms) best = &e;
    }
    if (best) {
      auto next = st.entries.find(best->sequence() + 1);
      if ((next != st.entries.end() && next->second.start_ms() > media_ms) ||
          best->sequence() + 1 == (*info)->next_sequence()) {
        co_return *best;
      }
    }
  }
  std::shared_ptr<Upstream> up = upstream_for_(app);
  if (!up) co_return std::optional<dvr::SegmentInfo>{};
  std::vector<amf::Value> args{amf::Value(static_cast<double>(media_ms))};
  auto page = co_await ask<cluster::IndexPage>(*up, name, cluster::kFindSegmentCall, std::move(args), via,
                                               kMaxIndexAnswerBytes);
  if (!page) co_return unexpected(page.error());
  if (!*page) co_return std::optional<dvr::SegmentInfo>{};
  std::string why;
  if (!cluster::index_page_consistent(**page, settings_.limits, 1, why)) {
    up->fail_over("a bad index page: " + why);
    co_return unexpected(StoreError{StoreError::Code::Corruption, up->current_url() + ": " + why});
  }
  StreamState& st = streams_[Key{app, name}];
  remember(st, (**page).segments());
  if ((**page).segments_size() == 0) co_return std::optional<dvr::SegmentInfo>{};
  co_return (**page).segments(0);
}

asio::awaitable<ProxySegments::Result<std::vector<dvr::SegmentInfo>>> ProxySegments::infos_here(
    const std::string& app, const std::string& name, std::uint64_t from, std::size_t limit, const std::string& via) {
  auto info = co_await info_here(app, name, via);
  if (!info) co_return unexpected(info.error());
  std::vector<dvr::SegmentInfo> out;
  if (!*info || limit == 0) co_return out;
  limit = std::min<std::size_t>(limit, settings_.limits.max_index_entries);
  from = std::max(from, (*info)->first_sequence());
  const std::uint64_t end = std::min<std::uint64_t>(from + limit, (*info)->next_sequence());
  {
    const StreamState& st = streams_[Key{app, name}];
    for (std::uint64_t s = from; s < end; ++s) {
      auto it = st.entries.find(s);
      if (it == st.entries.end()) break;
      out.push_back(it->second);
    }
    if (out.size() == (end > from ? end - from : 0)) co_return out;
    out.clear();
  }
  std::shared_ptr<Upstream> up = upstream_for_(app);
  if (!up) co_return out;
  std::vector<amf::Value> args{amf::Value(from), amf::Value(static_cast<std::uint64_t>(limit))};
  auto page = co_await ask<cluster::IndexPage>(*up, name, cluster::kSegmentInfosCall, std::move(args), via,
                                               kMaxIndexAnswerBytes);
  if (!page) co_return unexpected(page.error());
  if (!*page) co_return out;
  std::string why;
  if (!cluster::index_page_consistent(**page, settings_.limits, limit, why)) {
    up->fail_over("a bad index page: " + why);
    co_return unexpected(StoreError{StoreError::Code::Corruption, up->current_url() + ": " + why});
  }
  remember(streams_[Key{app, name}], (**page).segments());
  for (const auto& e : (**page).segments()) out.push_back(e);
  co_return out;
}

// --- segments ---------------------------------------------------------------

asio::awaitable<ProxySegments::Result<std::optional<SharedBuffer>>> ProxySegments::segment_here(
    const std::string& app, const std::string& name, std::uint64_t sequence, const std::string& via,
    bool read_ahead) {
  auto info = co_await info_here(app, name, via);
  if (!info) co_return unexpected(info.error());
  if (!*info || sequence < (*info)->first_sequence() || sequence >= (*info)->next_sequence()) {
    co_return std::optional<SharedBuffer>{};
  }
  const std::uint64_t local_id = (*info)->recording_id();
  const std::uint64_t next_sequence = (*info)->next_sequence();
  const Key key{app, name};
  if (!streams_[key].entries.count(sequence)) {
    auto listed = co_await infos_here(app, name, sequence, 64, via);
    if (!listed) co_return unexpected(listed.error());
  }
  auto& entries = streams_[key].entries;
  auto it = entries.find(sequence);
  if (it == entries.end()) co_return std::optional<SharedBuffer>{};
  const dvr::SegmentInfo entry = it->second;
  const cache::SegmentKey cache_key{app, name, local_id, sequence, entry.first_position(), entry.start_ms()};

  std::optional<SharedBuffer> bytes = cache_.lookup_memory(cache_key);
  Result<std::optional<SharedBuffer>> result = bytes;
  if (!bytes) {
    const bool joined = segment_flights_.in_flight(cache_key);
    result = co_await segment_flights_.run(cache_key, [&] { return fetch_segment(app, name, entry, cache_key, via); });
    if (!read_ahead) {
      log_.debug() << "proxy: read segment " << sequence << " of " << log_field(app) << "/" << log_field(name)
                   << (joined ? ": waited for a fetch in flight" : ": not in memory");
    }
  } else if (!read_ahead) {
    log_.debug() << "proxy: read segment " << sequence << " of " << log_field(app) << "/" << log_field(name)
                 << ": from memory";
  }
  if (!read_ahead) {
    if (result && *result) served_bytes_.fetch_add((**result).size(), std::memory_order_relaxed);
    // Players read on: the next segments are fetched before they ask.
    for (unsigned i = 1; i <= settings_.read_ahead && sequence + i < next_sequence; ++i) {
      asio::co_spawn(
          executor_,
          [this, app, name, s = sequence + i, via]() -> asio::awaitable<void> {
            (void)co_await segment_here(app, name, s, via, true);
          },
          asio::detached);
    }
  }
  co_return result;
}

asio::awaitable<ProxySegments::Result<std::optional<SharedBuffer>>> ProxySegments::fetch_segment(
    const std::string& app, const std::string& name, const dvr::SegmentInfo& entry, const cache::SegmentKey& key,
    const std::string& via) {
  if (cache_.on_disk(key)) {
    std::optional<SharedBuffer> found;
    co_await hop_void(disk_.get_executor(), [&]() -> asio::awaitable<void> {
      found = cache_.lookup_disk(key);
      co_return;
    });
    if (found) {
      log_.debug() << "proxy: segment " << entry.sequence() << " of " << log_field(app) << "/" << log_field(name)
                   << " from the disk cache";
      co_return found;
    }
  }
  const Key stream{app, name};
  {
    asio::steady_timer turn(executor_);
    while (fetching_ >= kMaxConcurrentFetches) {
      turn.expires_after(5ms);
      co_await turn.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
  ++fetching_;
  struct Done {
    int& n;
    ~Done() { --n; }
  } done{fetching_};
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::shared_ptr<Upstream> up = upstream_for_(app);
    if (!up) co_return std::optional<SharedBuffer>{};
    const std::uint64_t upstream_recording = streams_[stream].upstream_recording;
    cluster::SegmentAssembler assembler(entry, upstream_recording, settings_.limits);
    const auto started = std::chrono::steady_clock::now();
    const std::string url = up->current_url();
    bool again = false;
    while (true) {
      std::vector<amf::Value> args{amf::Value(upstream_recording), amf::Value(entry.sequence()),
                                   amf::Value(assembler.next_offset()),
                                   amf::Value(static_cast<std::uint64_t>(settings_.limits.max_page_bytes))};
      auto page = co_await ask<cluster::SegmentPage>(*up, name, cluster::kSegmentCall, std::move(args), via,
                                                     settings_.limits.max_page_bytes + 4096);
      if (!page) {
        if (attempt == 0 && page.error().code == StoreError::Code::Corruption) {
          again = true;  // ask() failed over: the next upstream
          break;
        }
        fetch_errors_.fetch_add(1, std::memory_order_relaxed);
        co_return unexpected(page.error());
      }
      if (!*page) {
        // Not under that recording id any more: a failover or a new
        // recording. Look again.
        StreamState& st = streams_[stream];
        st.fetched = false;
        auto info = co_await info_here(app, name, via);
        if (!info) co_return unexpected(info.error());
        if (attempt == 0 && *info && (*info)->recording_id() == key.recording_id &&
            streams_[stream].upstream_recording != upstream_recording) {
          again = true;
          break;
        }
        co_return std::optional<SharedBuffer>{};
      }
      std::string why;
      const auto step = assembler.add(**page, why);
      if (step == cluster::SegmentAssembler::Step::NeedMore) continue;
      if (step == cluster::SegmentAssembler::Step::Bad) {
        log_.warn() << "proxy: upstream " << url << " sent a bad segment " << entry.sequence() << " of "
                    << log_field(app) << "/" << log_field(name) << ": " << why << "; trying the next upstream";
        up->fail_over("sent a bad segment: " + why);
        again = true;
        break;
      }
      SharedBuffer bytes = assembler.take();
      const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
      log_.info() << "proxy: fetched segment " << entry.sequence() << " of " << log_field(app) << "/"
                  << log_field(name) << " from " << url << " (" << bytes.size() << " bytes, " << took.count()
                  << " ms)";
      fetches_.fetch_add(1, std::memory_order_relaxed);
      fetched_bytes_.fetch_add(bytes.size(), std::memory_order_relaxed);
      server::ServerEvent fetched{server::EventType::Fetch, 0, url, app, name, {}, {}, {}, {}};
      fetched.duration = std::chrono::steady_clock::now() - started;
      events_.publish(fetched);
      // Into the cache; what memory evicts is written to disk there.
      co_await hop_void(disk_.get_executor(), [&]() -> asio::awaitable<void> {
        cache_.insert(key, bytes);
        co_return;
      });
      co_return std::optional<SharedBuffer>(std::move(bytes));
    }
    if (!again) break;
  }
  fetch_errors_.fetch_add(1, std::memory_order_relaxed);
  co_return unexpected(unavailable("no upstream gave a good copy of segment " + std::to_string(entry.sequence()) +
                                   " of " + app + "/" + name));
}

// --- SegmentSource: from worker threads ------------------------------------------

asio::awaitable<ProxySegments::Result<std::optional<dvr::StreamInfo>>> ProxySegments::stream_info(
    const std::string& app, const std::string& name, const std::string& via) {
  co_return co_await hop(executor_, [&] { return info_here(app, name, via); });
}

asio::awaitable<ProxySegments::Result<std::optional<dvr::SegmentInfo>>> ProxySegments::find_segment(
    const std::string& app, const std::string& name, std::uint32_t media_ms, const std::string& via) {
  co_return co_await hop(executor_, [&] { return find_here(app, name, media_ms, via); });
}

asio::awaitable<ProxySegments::Result<std::vector<dvr::SegmentInfo>>> ProxySegments::segment_infos(
    const std::string& app, const std::string& name, std::uint64_t from_sequence, std::size_t limit,
    const std::string& via) {
  co_return co_await hop(executor_, [&] { return infos_here(app, name, from_sequence, limit, via); });
}

asio::awaitable<ProxySegments::Result<std::optional<SharedBuffer>>> ProxySegments::read_segment_bytes(
    const std::string& app, const std::string& name, std::uint64_t sequence, const std::string& via) {
  co_return co_await hop(executor_, [&] { return segment_here(app, name, sequence, via, false); });
}

asio::awaitable<ProxySegments::Result<std::optional<dvr::Segment>>> ProxySegments::read_segment(
    const std::string& app, const std::string& name, std::uint64_t sequence, const std::string& via) {
  auto bytes = co_await read_segment_bytes(app, name, sequence, via);
  if (!bytes) co_return unexpected(bytes.error());
  if (!*bytes) co_return std::optional<dvr::Segment>{};
  // Parsed here, on the player's worker, not on the proxy thread.
  dvr::Segment segment;
  if (!segment.ParseFromArray((**bytes).data(), static_cast<int>((**bytes).size()))) {
    co_return unexpected(StoreError{StoreError::Code::Corruption, "a cached segment does not parse"});
  }
  // Players see the recording by its id here.
  auto info = co_await hop(executor_, [&]() -> asio::awaitable<std::optional<dvr::StreamInfo>> {
    co_return cached_info(app, name);
  });
  if (info) segment.set_recording_id(info->recording_id());
  co_return std::optional<dvr::Segment>(std::move(segment));
}

}  // namespace rw::proxy
