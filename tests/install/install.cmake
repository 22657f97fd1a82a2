# The install tests (included from tests/tests.cmake): tests/install/*.sh,
# each registered as install.<name>, run against this build folder.
# install.package builds and installs the Debian package.
file(GLOB RB_INSTALL_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tests/install/*.sh)
foreach(script ${RB_INSTALL_TESTS})
  get_filename_component(name ${script} NAME_WE)
  # The sanitizer build leaves out what checks the packaging and the pages
  # rather than the program's memory: the package (its binary would need
  # libasan at run time), the man pages and the completions.
  if(name STREQUAL "lib" OR (RB_SANITIZE AND name MATCHES "^(package|man|completion)$"))
    continue()
  endif()
  add_test(NAME install.${name} COMMAND sh ${script})
  set_tests_properties(install.${name} PROPERTIES
    ENVIRONMENT "RUNBOOK=$<TARGET_FILE:runbook>;RB_SOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR};RB_BUILD_DIR=${CMAKE_BINARY_DIR};CMAKE_COMMAND=${CMAKE_COMMAND};CPACK_COMMAND=${CMAKE_CPACK_COMMAND}"
    TIMEOUT 300)
endforeach()
