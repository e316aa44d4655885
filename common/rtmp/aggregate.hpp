// Aggregate messages (type 22): a run of FLV-tag-like sub-messages.
#pragma once

#include <optional>
#include <vector>

#include "common/rtmp/message.hpp"

namespace rw::rtmp {

// Splits an aggregate message into its sub-messages, making their
// timestamps absolute by adding (aggregate timestamp - first sub-message
// timestamp). Sub-messages keep the aggregate's chunk stream and message
// stream ids. nullopt when the body is malformed.
std::optional<std::vector<Message>> split_aggregate(const Message& aggregate);

}  // namespace rw::rtmp
