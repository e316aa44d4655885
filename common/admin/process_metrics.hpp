// The standard process metrics (process_cpu_seconds_total,
// process_resident_memory_bytes...), named as every Prometheus client
// library names them, read from /proc at scrape time.
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

namespace rw::admin {

std::vector<prometheus::MetricFamily> process_families();

}  // namespace rw::admin
