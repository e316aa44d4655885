# rewind_module(NAME SOURCES ... [TESTS ...] [DEPS ...] [TEST_DEPS ...])
#
# Builds the static library rewind_<NAME> from SOURCES and, when TESTS are
# given and this is not a fuzz build, one GoogleTest binary
# rewind_<NAME>_test whose cases ctest lists one by one.
function(rewind_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;TESTS;DEPS;TEST_DEPS" ${ARGN})
  set(lib rewind_${name})
  add_library(${lib} STATIC ${ARG_SOURCES})
  target_include_directories(${lib} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${lib} PUBLIC ${ARG_DEPS})
  if(ARG_TESTS AND NOT REWIND_FUZZ AND REWIND_BUILD_TESTS)
    add_executable(${lib}_test ${ARG_TESTS})
    target_link_libraries(${lib}_test PRIVATE ${lib} ${ARG_TEST_DEPS} GTest::gtest GTest::gtest_main)
    gtest_discover_tests(${lib}_test DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit)
  endif()
endfunction()
