// Default runtime options of the sanitizer builds (PALAVER_SANITIZE, docs/security.md "Sanitizer
// jobs"), linked into every executable of such a build: palaverd, palaverd-testbed and the unit
// test binaries. Every report is fatal and makes the process exit non-zero, whoever runs it (ctest,
// the integration harness, a developer by hand). The *_OPTIONS environment variables are read after
// these and override them; tests/integration/sanitized.py adds log_path there, so that a report
// from any palaverd a suite starts is found and fails the suite.
extern "C" {

const char* __asan_default_options() {
  return "halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:"
         "strict_init_order=1:strict_string_checks=1:detect_invalid_pointer_pairs=0:print_summary=1";
}

const char* __lsan_default_options() { return "print_suppressions=0"; }

const char* __ubsan_default_options() { return "halt_on_error=1:print_stacktrace=1:report_error_type=1"; }

const char* __tsan_default_options() {
  return "halt_on_error=1:second_deadlock_stack=1:history_size=4:exitcode=66";
}
}
