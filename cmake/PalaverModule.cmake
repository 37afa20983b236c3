# palaver_add_module(NAME <id> SOURCES ... [DEPENDS targets...])
#   Creates the static library palaver_module_<id> (alias palaver::module::<id>) and records the
#   module in the explicit list from which builtin_modules.cpp is generated. Each module exposes
#   `std::unique_ptr<palaver::sdk::Module> palaver::<id>::CreateModule()` in
#   include/palaver/<id>/<id>_module.hpp.
set_property(GLOBAL PROPERTY PALAVER_MODULE_IDS "")

function(palaver_add_module)
  cmake_parse_arguments(M "" "NAME" "SOURCES;DEPENDS" ${ARGN})
  add_library(palaver_module_${M_NAME} STATIC ${M_SOURCES})
  add_library(palaver::module::${M_NAME} ALIAS palaver_module_${M_NAME})
  target_include_directories(palaver_module_${M_NAME}
    PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(palaver_module_${M_NAME} PUBLIC palaver::sdk ${M_DEPENDS})
  set_property(GLOBAL APPEND PROPERTY PALAVER_MODULE_IDS ${M_NAME})
endfunction()

# palaver_sanitizer_defaults(<executable>): in a sanitizer build, links in the default runtime
# options (tests/sanitizers/defaults.cpp: every report fatal).
function(palaver_sanitizer_defaults target)
  if(PALAVER_SANITIZE)
    target_sources(${target} PRIVATE ${PROJECT_SOURCE_DIR}/tests/sanitizers/defaults.cpp)
  endif()
endfunction()

# palaver_add_test(NAME <name> SOURCES ... LIBS ...)
function(palaver_add_test)
  if(NOT PALAVER_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  palaver_sanitizer_defaults(${T_NAME})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} palaver::testing GTest::gtest GTest::gtest_main)
  # The TSan build (build-tsan/) builds and runs only the test binaries that start threads
  # (PALAVER_TSAN_UNIT_TESTS, top-level CMakeLists.txt; docs/security.md "Sanitizer jobs"); the
  # others stay defined (modules add include dirs to them) but out of `all` and of ctest.
  if(PALAVER_SANITIZE STREQUAL "thread" AND NOT T_NAME IN_LIST PALAVER_TSAN_UNIT_TESTS)
    set_target_properties(${T_NAME} PROPERTIES EXCLUDE_FROM_ALL TRUE)
    return()
  endif()
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60 TEST_PREFIX "${PALAVER_TEST_PREFIX}" PROPERTIES LABELS unit)
endfunction()

# palaver_add_daemon(<target> [EXTRA_MODULES id...] [EXTRA_TARGETS target...])
#   Builds a palaverd executable from appliance/palaverd.cpp and a generated, explicit list of
#   every compiled-in module plus EXTRA_MODULES (e.g. the test-only `testbed`).
function(palaver_add_daemon target)
  cmake_parse_arguments(D "" "" "EXTRA_MODULES;EXTRA_TARGETS" ${ARGN})
  get_property(ids GLOBAL PROPERTY PALAVER_MODULE_IDS)
  list(APPEND ids ${D_EXTRA_MODULES})
  set(PALAVER_BUILTIN_INCLUDES "")
  set(PALAVER_BUILTIN_ENTRIES "")
  set(targets "")
  foreach(id IN LISTS ids)
    string(APPEND PALAVER_BUILTIN_INCLUDES "#include \"palaver/${id}/${id}_module.hpp\"\n")
    string(APPEND PALAVER_BUILTIN_ENTRIES "      {\"${id}\", &palaver::${id}::CreateModule},\n")
    if(NOT id IN_LIST D_EXTRA_MODULES)
      list(APPEND targets palaver::module::${id})
    endif()
  endforeach()
  set(generated ${CMAKE_CURRENT_BINARY_DIR}/${target}_builtin_modules.cpp)
  configure_file(${PROJECT_SOURCE_DIR}/appliance/builtin_modules.cpp.in ${generated} @ONLY)
  add_executable(${target} ${PROJECT_SOURCE_DIR}/appliance/palaverd.cpp ${generated})
  palaver_sanitizer_defaults(${target})
  target_compile_definitions(${target} PRIVATE PALAVER_VERSION="${PROJECT_VERSION}" PALAVER_COMMIT="${PALAVER_GIT_COMMIT}")
  target_link_libraries(${target} PRIVATE palaver::host ${targets} ${D_EXTRA_TARGETS})
endfunction()
