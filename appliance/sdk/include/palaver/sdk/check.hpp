// Invariant checks: bugs abort, they are not error returns. Never use on network input.
#pragma once

#include <cstdlib>

namespace palaver::internal {
[[noreturn]] void CheckFailed(const char* expr, const char* file, int line);
}  // namespace palaver::internal

/// Always on: logs critical and aborts when `cond` is false.
#define PALAVER_CHECK(cond) \
  ((cond) ? (void)0 : ::palaver::internal::CheckFailed(#cond, __FILE__, __LINE__))

#ifdef NDEBUG
#define PALAVER_DCHECK(cond) ((void)0)
#else
#define PALAVER_DCHECK(cond) PALAVER_CHECK(cond)
#endif

#if defined(__clang__)
#define PALAVER_GUARDED_BY(x) __attribute__((guarded_by(x)))
#else
#define PALAVER_GUARDED_BY(x)
#endif
