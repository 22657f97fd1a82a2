# Benchmark programs (tests/bench/bench_*.c), built with the tree and run by
# tests/bench/*.sh (`make bench`); never registered with ctest: they print
# figures and do not pass or fail on timing.
file(GLOB RB_BENCH_PROGRAMS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/bench/bench_*.c)
foreach(src ${RB_BENCH_PROGRAMS})
  get_filename_component(stem ${src} NAME_WE)
  add_executable(${stem} ${src})
  target_link_libraries(${stem} PRIVATE runbook_core)
endforeach()
