// Errors as values: Error, Status, Result<T> and the propagation macros.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace palaver {

/// Error categories. One table (HttpStatusFor) maps them to HTTP statuses.
enum class ErrorCode {
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kUnauthenticated,
  kPermissionDenied,
  kResourceExhausted,
  kFailedPrecondition,
  kPayloadTooLarge,
  kUnavailable,
  kDeadlineExceeded,
  kDataLoss,
  kUnimplemented,
  kInternal,
};

/// An expected failure. `message` is for logs (may name files, keys, SQL errors);
/// `public_message` is the only text ever sent to a client.
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string public_message;
};

/// `Result<T>` holds a T or an Error; `Status` is `Result<void>` (OK when it has a value).
template <typename T>
using Result = tl::expected<T, Error>;
using Status = Result<void>;

inline Status OkStatus() { return {}; }

/// Builds the unexpected value for a failed Result/Status:
/// `return Fail(ErrorCode::kNotFound, "no such user id=" + id);`
inline tl::unexpected<Error> Fail(ErrorCode code, std::string message, std::string public_message = {}) {
  return tl::unexpected<Error>(Error{code, std::move(message), std::move(public_message)});
}
inline tl::unexpected<Error> Fail(Error error) { return tl::unexpected<Error>(std::move(error)); }

/// The HTTP status for an error code.
int HttpStatusFor(ErrorCode code);
/// A stable lowercase name for an error code ("invalid_argument").
std::string_view ErrorCodeName(ErrorCode code);

}  // namespace palaver

#define PALAVER_STATUS_CONCAT_INNER_(a, b) a##b
#define PALAVER_STATUS_CONCAT_(a, b) PALAVER_STATUS_CONCAT_INNER_(a, b)

/// Returns the error of `expr` (a Status or Result) from the enclosing function.
#define PALAVER_RETURN_IF_ERROR(expr)                                                 \
  do {                                                                                \
    auto&& palaver_status_tmp_ = (expr);                                              \
    if (!palaver_status_tmp_) return ::tl::unexpected<::palaver::Error>(std::move(palaver_status_tmp_).error()); \
  } while (false)

/// `PALAVER_ASSIGN_OR_RETURN(auto value, ParseThing(x));`
#define PALAVER_ASSIGN_OR_RETURN(lhs, expr)                                           \
  PALAVER_ASSIGN_OR_RETURN_IMPL_(PALAVER_STATUS_CONCAT_(palaver_result_, __LINE__), lhs, expr)
#define PALAVER_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)                                \
  auto tmp = (expr);                                                                  \
  if (!tmp) return ::tl::unexpected<::palaver::Error>(std::move(tmp).error());         \
  lhs = std::move(*tmp)
