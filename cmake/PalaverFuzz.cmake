# palaver_add_fuzz(NAME <name> SOURCES ... [INCLUDES dirs...] [PKG pkg-config names...]
#                  [LIBS linker flags...] [SEEDS dirs...] [MAX_LEN n] [DICT file] [SECONDS n])
#   Registers a libFuzzer target as the ctest test <name> (label `fuzz`, RESOURCE_LOCK `cpu_timing`,
#   so two fuzzers or a fuzzer and another timing-sensitive suite never share the CPU). The test runs
#   scripts/fuzz_target.sh, which builds the target with clang++ (ASan + UBSan + coverage), apart
#   from this (gcc) build, into <build>/fuzz/<name>/ and fuzzes for SECONDS (default
#   PALAVER_FUZZ_SECONDS) on a copy of the SEEDS; any crash, leak or sanitizer report fails it.
#   Relative paths are relative to the calling CMakeLists.txt. bench/fuzz.sh runs the same
#   commands (read back with `ctest --show-only=json-v1 -L fuzz`) for 10 million executions.
set(PALAVER_FUZZ_SECONDS 20 CACHE STRING "Seconds each fuzz target runs in the test command")

if(PALAVER_BUILD_TESTS)
  find_program(CLANGXX clang++)
  if(NOT CLANGXX)
    message(STATUS "clang++ not found: no fuzz tests (scripts/deps.sh test installs clang)")
  endif()
endif()

function(palaver_add_fuzz)
  if(NOT PALAVER_BUILD_TESTS OR NOT CLANGXX)
    return()
  endif()
  cmake_parse_arguments(F "" "NAME;MAX_LEN;DICT;SECONDS" "SOURCES;INCLUDES;PKG;LIBS;SEEDS" ${ARGN})
  if(NOT F_SECONDS)
    set(F_SECONDS ${PALAVER_FUZZ_SECONDS})
  endif()
  set(args --name ${F_NAME} --seconds ${F_SECONDS})
  foreach(src IN LISTS F_SOURCES)
    get_filename_component(src "${src}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND args --src "${src}")
  endforeach()
  foreach(dir IN LISTS F_INCLUDES)
    get_filename_component(dir "${dir}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND args -I "${dir}")
  endforeach()
  foreach(pkg IN LISTS F_PKG)
    list(APPEND args --pkg ${pkg})
  endforeach()
  foreach(lib IN LISTS F_LIBS)
    list(APPEND args --lib ${lib})
  endforeach()
  foreach(dir IN LISTS F_SEEDS)
    get_filename_component(dir "${dir}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND args --seeds "${dir}")
  endforeach()
  if(F_MAX_LEN)
    list(APPEND args --max-len ${F_MAX_LEN})
  endif()
  if(F_DICT)
    get_filename_component(dict "${F_DICT}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(APPEND args --dict "${dict}")
  endif()
  add_test(NAME ${F_NAME} COMMAND ${PROJECT_SOURCE_DIR}/scripts/fuzz_target.sh ${args})
  # Time bound plus the first build (a few minutes on 2 shared cores).
  math(EXPR timeout "${F_SECONDS} + 600")
  set_tests_properties(${F_NAME} PROPERTIES
    TIMEOUT ${timeout}
    LABELS fuzz
    RESOURCE_LOCK cpu_timing  # the lock of the timing-sensitive suites (tests/CMakeLists.txt)
    ENVIRONMENT "FUZZ_BUILD_DIR=${CMAKE_BINARY_DIR}/fuzz/${F_NAME};CLANGXX=${CLANGXX}")
endfunction()
