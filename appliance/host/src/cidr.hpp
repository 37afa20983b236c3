// The host's allow-lists use the SDK's address ranges (palaver/sdk/cidr.hpp), under their old names.
#pragma once

#include "palaver/sdk/cidr.hpp"

namespace palaver::host {
using sdk::AnyContains;
using sdk::Cidr;
}  // namespace palaver::host
