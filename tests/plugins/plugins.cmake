# Action modules for the plugin tests (included from tests/tests.cmake).
#
# tests/plugins/broken.c is compiled once per variant into
# <build>/test-plugins/<variant>/<variant>.so, one module per folder, so a
# test can point --plugins at exactly one bad module. The paths reach the
# tests as environment variables: RB_HELLO_SO (the example module,
# actions/external/hello.c), RB_PLUGIN_DIR (its folder) and
# RB_BROKEN_<VARIANT> (a bad module's file).
set(RB_BROKEN_VARIANTS BAD_ABI BAD_SIZE NO_ENTRY CLASH DUP_HELLO UNDEF NO_FLAGS BAD_DEFAULT SECOND_BAD)
set(RB_PLUGIN_TEST_ENV
  "RB_HELLO_SO=$<TARGET_FILE:rb_hello>"
  "RB_PLUGIN_DIR=$<TARGET_FILE_DIR:rb_hello>")
foreach(v ${RB_BROKEN_VARIANTS})
  string(TOLOWER ${v} lv)
  add_library(rb_broken_${lv} MODULE ${CMAKE_CURRENT_SOURCE_DIR}/tests/plugins/broken.c)
  target_compile_definitions(rb_broken_${lv} PRIVATE ${v})
  target_include_directories(rb_broken_${lv} PRIVATE
    ${CMAKE_CURRENT_SOURCE_DIR}/include
    ${RB_PLUGIN_DEPS_INCLUDE_DIRS})
  set_target_properties(rb_broken_${lv} PROPERTIES PREFIX "" OUTPUT_NAME ${lv}
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/test-plugins/${lv})
  list(APPEND RB_PLUGIN_TEST_ENV "RB_BROKEN_${v}=$<TARGET_FILE:rb_broken_${lv}>")
endforeach()

# The test programs export the engine's symbols to the modules they load,
# as the runbook binary does.
if(TARGET test_plugin)
  set_target_properties(test_plugin PROPERTIES ENABLE_EXPORTS ON)
  set_property(TEST unit.plugin APPEND PROPERTY ENVIRONMENT ${RB_PLUGIN_TEST_ENV})
endif()
foreach(t e2e.plugins e2e.actions_doc e2e.actions_schema)
  if(TEST ${t})
    set_property(TEST ${t} APPEND PROPERTY ENVIRONMENT ${RB_PLUGIN_TEST_ENV})
  endif()
endforeach()
