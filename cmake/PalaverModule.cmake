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

# palaver_add_test(NAME <name> SOURCES ... LIBS ...)
function(palaver_add_test)
  if(NOT PALAVER_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 30 PROPERTIES LABELS unit)
endfunction()
