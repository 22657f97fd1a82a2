# libFuzzer targets (tests/fuzz/README.md). Every tests/fuzz/fuzz_<name>.c is
# a target `fuzz_<name>` linked against runbook_core, built only with
# -DRB_FUZZ=ON and clang (CMakeLists.txt adds -fsanitize=fuzzer-no-link to
# every engine file then; RB_SANITIZE=ON adds ASan + UBSan). `make fuzz`
# runs them for long; ctest runs a smoke of each (label `fuzz`) and replays
# its checked-in corpus, regression inputs included.
if(NOT RB_FUZZ)
  return()
endif()
set(RB_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
set(RB_FUZZ_SMOKE_SECONDS 5 CACHE STRING "seconds each fuzz target runs in the ctest smoke")
file(GLOB RB_FUZZ_TARGETS CONFIGURE_DEPENDS ${RB_FUZZ_DIR}/fuzz_*.c)
foreach(src ${RB_FUZZ_TARGETS})
  get_filename_component(stem ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" name ${stem})
  add_executable(${stem} ${src})
  target_compile_options(${stem} PRIVATE -fsanitize=fuzzer)
  target_link_options(${stem} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${stem} PRIVATE runbook_core)
  # Replays every checked-in input (seeds and crash reproducers), then
  # fuzzes for a few seconds from them into a scratch corpus.
  add_test(NAME fuzz.${name}
    COMMAND sh ${RB_FUZZ_DIR}/run.sh smoke $<TARGET_FILE:${stem}> ${name} ${RB_FUZZ_SMOKE_SECONDS})
  set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz TIMEOUT 300
    ENVIRONMENT "RB_SOURCE_DIR=${CMAKE_SOURCE_DIR};RB_BUILD_DIR=${CMAKE_BINARY_DIR}")
endforeach()
# `make build-fuzz` builds these only (not the tests of the other labels).
add_custom_target(fuzz_targets)
foreach(src ${RB_FUZZ_TARGETS})
  get_filename_component(stem ${src} NAME_WE)
  add_dependencies(fuzz_targets ${stem})
endforeach()
