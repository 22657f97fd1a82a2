# The install tests (included from tests/tests.cmake): tests/install/*.sh,
# each registered as install.<name>, run against this build folder.
# install.package builds and installs the Debian package; it is left out of
# the sanitizer build (whose binary would need libasan at run time).
file(GLOB RB_INSTALL_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/install/*.sh)
foreach(script ${RB_INSTALL_TESTS})
  get_filename_component(name ${script} NAME_WE)
  if(name STREQUAL "lib" OR (name STREQUAL "package" AND RB_SANITIZE))
    continue()
  endif()
  add_test(NAME install.${name} COMMAND sh ${script})
  set_tests_properties(install.${name} PROPERTIES
    ENVIRONMENT "RUNBOOK=$<TARGET_FILE:runbook>;RB_SOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR};RB_BUILD_DIR=${CMAKE_BINARY_DIR};CMAKE_COMMAND=${CMAKE_COMMAND};CPACK_COMMAND=${CMAKE_CPACK_COMMAND}"
    TIMEOUT 300)
endforeach()
