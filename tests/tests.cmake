# Tests. Every tests/unit/test_<name>.c is a cmocka program registered as
# `unit.<name>`; every tests/e2e/<name>.sh drives the real binary and is
# registered as `e2e.<name>`. Helper binaries for tests live in tests/helpers.
if(NOT CMOCKA_FOUND)
  message(WARNING "cmocka not found: unit tests are not built (run `make deps`)")
else()
  file(GLOB RB_UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/unit/test_*.c)
  foreach(src ${RB_UNIT_TESTS})
    get_filename_component(stem ${src} NAME_WE)
    string(REGEX REPLACE "^test_" "" name ${stem})
    add_executable(${stem} ${src})
    target_link_libraries(${stem} PRIVATE runbook_core PkgConfig::CMOCKA)
    add_test(NAME unit.${name} COMMAND ${stem})
    set_tests_properties(unit.${name} PROPERTIES
      ENVIRONMENT "RB_SOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR}" TIMEOUT 300)
  endforeach()
endif()

# Helper programs the e2e tests run (tests/helpers/*.c), built beside the
# runbook binary (RB_BUILD_DIR): journal_read prints a read of the journal API.
file(GLOB RB_TEST_HELPERS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/helpers/*.c)
foreach(src ${RB_TEST_HELPERS})
  get_filename_component(stem ${src} NAME_WE)
  add_executable(${stem} ${src})
  target_link_libraries(${stem} PRIVATE runbook_core)
endforeach()

file(GLOB RB_E2E_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/e2e/*.sh)
foreach(script ${RB_E2E_TESTS})
  get_filename_component(name ${script} NAME_WE)
  if(name MATCHES "^lib")
    continue()
  endif()
  add_test(NAME e2e.${name} COMMAND sh ${script})
  set_tests_properties(e2e.${name} PROPERTIES
    ENVIRONMENT "RUNBOOK=$<TARGET_FILE:runbook>;DEMO_TARGET=$<TARGET_FILE:demo-target>;RB_SOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR};RB_BUILD_DIR=${CMAKE_BINARY_DIR}"
    TIMEOUT 600)
endforeach()

# The e2e tests of the journal on PostgreSQL (tests/e2e/pg_*.sh) start a
# real PostgreSQL 15 (tests/e2e/lib_pg.sh): label `postgres`, and exit 77
# (a skip, never a pass) only when it is not installed (`make deps-test`
# installs it).
foreach(script ${RB_E2E_TESTS})
  get_filename_component(name ${script} NAME_WE)
  if(name MATCHES "^pg_")
    set_tests_properties(e2e.${name} PROPERTIES LABELS "e2e;postgres" SKIP_RETURN_CODE 77)
  endif()
endforeach()

# World tests: every tests/world/t_<name>.sh runs runbooks from runbooks/
# end to end against the simulated deployment of tests/world/world.py
# (tests/world/README.md), registered as `world.<name>` with the label
# `world`. They mostly wait on the world's sockets, so `make test` runs
# them apart, more at a time than there are cores (WORLD_JOBS).
file(GLOB RB_WORLD_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/world/t_*.sh)
foreach(script ${RB_WORLD_TESTS})
  get_filename_component(name ${script} NAME_WE)
  string(REGEX REPLACE "^t_" "" name ${name})
  add_test(NAME world.${name} COMMAND sh ${script})
  set_tests_properties(world.${name} PROPERTIES
    ENVIRONMENT "RUNBOOK=$<TARGET_FILE:runbook>;RB_SOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR}"
    LABELS world TIMEOUT 600)  # a bound: under the sanitizers on a loaded machine a file takes minutes
endforeach()

include(${CMAKE_CURRENT_LIST_DIR}/plugins/plugins.cmake)

# Every unit test again under valgrind (`make valgrind`, label `valgrind`,
# docs/development.md): a leak, an invalid read or write or a jump on an
# uninitialised value fails it. With the unit test's environment (set above
# and by plugins.cmake) and RB_VALGRIND=1. Not in the sanitizer build, whose
# runtime valgrind cannot run.
find_program(RB_VALGRIND valgrind)
if(CMOCKA_FOUND AND RB_VALGRIND AND NOT RB_SANITIZE)
  foreach(src ${RB_UNIT_TESTS})
    get_filename_component(stem ${src} NAME_WE)
    string(REGEX REPLACE "^test_" "" name ${stem})
    get_test_property(unit.${name} ENVIRONMENT env)
    add_test(NAME valgrind.${name} COMMAND ${RB_VALGRIND} --quiet --leak-check=full
      --errors-for-leak-kinds=definite,possible --show-leak-kinds=definite,possible
      --error-exitcode=1 --suppressions=${CMAKE_CURRENT_SOURCE_DIR}/tests/lint/valgrind.supp
      $<TARGET_FILE:${stem}>)
    set_tests_properties(valgrind.${name} PROPERTIES LABELS valgrind TIMEOUT 600
      ENVIRONMENT "${env};RB_VALGRIND=1")
  endforeach()
endif()
include(${CMAKE_CURRENT_LIST_DIR}/install/install.cmake)

include(${CMAKE_CURRENT_LIST_DIR}/fuzz/fuzz.cmake) # libFuzzer targets, -DRB_FUZZ=ON
include(${CMAKE_CURRENT_SOURCE_DIR}/tests/bench/bench.cmake) # benchmark programs, and the serve bench smoke

# The fault sweep samples the journal's SQLite calls in `make test`
# (tests/e2e/journal_fault_sweep.sh): the odd ones in the normal build,
# every 8th from the 2nd under the sanitizers, where each call costs more.
if(TEST e2e.journal_fault_sweep)
  if(RB_SANITIZE)
    set(rb_sweep "RB_FAULT_SWEEP_FROM=2;RB_FAULT_SWEEP_STEP=8")
  else()
    set(rb_sweep "RB_FAULT_SWEEP_FROM=1;RB_FAULT_SWEEP_STEP=2")
  endif()
  set_property(TEST e2e.journal_fault_sweep APPEND PROPERTY ENVIRONMENT ${rb_sweep})
endif()
# The crash test kills and restarts the engine a hundred times; run it alone
# so that its load does not skew the timing-sensitive fault tests beside it.
if(TEST e2e.crash)
  set_tests_properties(e2e.crash PROPERTIES RUN_SERIAL TRUE)
endif()

# Spec tests: every tests/spec/<name>.yaml is a runbook that proves one or
# more rules of docs/semantics.md or keys of docs/authoring.md
# (tests/spec/README.md); spec.coverage fails when a rule or key has none.
file(GLOB RB_SPECS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/spec/*.yaml)
foreach(spec ${RB_SPECS})
  get_filename_component(name ${spec} NAME_WE)
  add_test(NAME spec.${name} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/spec/run_spec.sh ${spec})
  set_tests_properties(spec.${name} PROPERTIES
    ENVIRONMENT "RUNBOOK=$<TARGET_FILE:runbook>;RB_SOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR}"
    TIMEOUT 120)
endforeach()
# The mutant list of `make mutation` must not rot: every substitution's text
# is still in its file exactly once and every patch still applies.
# mutation.selftest proves that check fails on a rotten list.
add_test(NAME mutation.list COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/tests/mutation/mutate.py check)
add_test(NAME mutation.selftest COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/tests/mutation/selftest.sh)
set_tests_properties(mutation.selftest PROPERTIES
  ENVIRONMENT "RB_SOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR}")

add_test(NAME spec.coverage COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/spec/coverage.sh)
set_tests_properties(spec.coverage PROPERTIES
  ENVIRONMENT "RB_SOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR}")
