# Benchmark programs (tests/bench/bench_*.c), built with the tree and run by
# tests/bench/*.sh (`make bench`); they print figures and never pass or
# fail on timing, so none is a ctest test but the smoke below.

file(GLOB RB_BENCH_PROGRAMS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/bench/bench_*.c)
foreach(src ${RB_BENCH_PROGRAMS})
  get_filename_component(stem ${src} NAME_WE)
  add_executable(${stem} ${src})
  target_link_libraries(${stem} PRIVATE runbook_core)
endforeach()

# The one exception: a miniature of tests/bench/serve.sh that checks the
# bench still runs and prints every figure (never what they are), about
# 10 s.
add_test(NAME bench.serve_smoke COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tests/bench/serve_smoke.sh)
set_tests_properties(bench.serve_smoke PROPERTIES
  ENVIRONMENT "RB_BUILD_DIR=${CMAKE_BINARY_DIR};RB_SOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR}"
  TIMEOUT 300)
