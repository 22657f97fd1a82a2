# Install rules (included from CMakeLists.txt): `cmake --install BUILD
# --prefix P`, `make install PREFIX=P`, and the Debian package
# (packaging/package.cmake) all install this tree. docs/install.md lists it.
#
#   bin/runbook                                the engine
#   include/runbook/*.h                        the action module ABI
#   lib/pkgconfig/runbook-plugin.pc            its flags, abi_version, plugindir
#     (lib/TRIPLET/pkgconfig/ for prefix /usr: /usr/lib/x86_64-linux-gnu/…)
#   lib/runbook/plugins/                       where packaged modules go
#   lib/runbook/demo-target                    the demo runbook's service
#   share/runbook/runbooks/                    the example runbooks and scripts
#   share/runbook/schemas/                     runbook.schema.json, journal.sql
#   share/doc/runbook/                         README, docs/, examples/plugin/
#   share/man/man1, man5                       runbook(1), runbook-CMD(1), runbook-format(5)
#   share/bash-completion/completions/runbook  bash completion
#   share/zsh/{vendor-completions,site-functions}/_runbook  zsh, through it
#   etc/runbook/ (/etc/runbook for prefix /usr) packaging/etc/*, the defaults,
#                                              and an empty runbooks/
#   lib/systemd/system/runbook.service         when packaging/runbook.service exists
#
# The man pages are generated at build time by packaging/man/genman.sh from
# the built binary's --help and docs/ (needs help2man and lowdown).
set(RB_PKG ${CMAKE_CURRENT_SOURCE_DIR}/packaging)

install(TARGETS runbook RUNTIME DESTINATION bin)
install(FILES include/runbook/action.h include/runbook/runbook.h DESTINATION include/runbook)

# The ABI version and entry symbol as the header defines them (an edit of
# the headers re-runs CMake, so the .pc follows).
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${CMAKE_CURRENT_SOURCE_DIR}/include/runbook/action.h ${CMAKE_CURRENT_SOURCE_DIR}/include/runbook/runbook.h)
file(STRINGS include/runbook/action.h rb_abi REGEX "^#define RB_ACTION_ABI_VERSION ")
string(REGEX REPLACE ".* ([0-9]+)$" "\\1" RB_ACTION_ABI_VERSION "${rb_abi}")
file(STRINGS include/runbook/action.h rb_entry REGEX "^#define RB_ACTION_ENTRY_SYMBOL ")
string(REGEX REPLACE ".*\"(.*)\"$" "\\1" RB_ACTION_ENTRY_SYMBOL "${rb_entry}")
file(STRINGS include/runbook/runbook.h rb_ver REGEX "^#define RB_VERSION ")
string(REGEX REPLACE ".*\"(.*)\"$" "\\1" RB_VERSION "${rb_ver}")
# The versions now, the prefix at install time (when it is known).
set(RB_INSTALL_PREFIX "@RB_INSTALL_PREFIX@")
configure_file(${RB_PKG}/runbook-plugin.pc.in ${CMAKE_BINARY_DIR}/runbook-plugin.pc.in @ONLY)
install(CODE "
  set(RB_INSTALL_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${CMAKE_BINARY_DIR}/runbook-plugin.pc.in\" \"${CMAKE_BINARY_DIR}/pc/runbook-plugin.pc\" @ONLY)
  # Prefix /usr: the multiarch folder (Debian; pkg-config and its cross
  # wrappers look there); any other prefix: lib/pkgconfig.
  if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\" AND NOT \"${CMAKE_LIBRARY_ARCHITECTURE}\" STREQUAL \"\")
    set(rb_pc \"\${CMAKE_INSTALL_PREFIX}/lib/${CMAKE_LIBRARY_ARCHITECTURE}/pkgconfig\")
  else()
    set(rb_pc \"\${CMAKE_INSTALL_PREFIX}/lib/pkgconfig\")
  endif()
  file(INSTALL DESTINATION \"\${rb_pc}\" TYPE FILE
    FILES \"${CMAKE_BINARY_DIR}/pc/runbook-plugin.pc\")
")
install(DIRECTORY DESTINATION lib/runbook/plugins)

# The example runbooks with their scripts (the demo's C source and driver
# belong to the build, not to an installed tree).
install(DIRECTORY runbooks/ DESTINATION share/runbook/runbooks USE_SOURCE_PERMISSIONS
  PATTERN "*.c" EXCLUDE PATTERN "demo.sh" EXCLUDE)
# The demo's service, so that the installed demo runbook runs:
# -p bin=PREFIX/lib/runbook/demo-target (docs/install.md).
install(TARGETS demo-target RUNTIME DESTINATION lib/runbook)
install(FILES schemas/runbook.schema.json schemas/journal.sql DESTINATION share/runbook/schemas)

install(FILES README.md DESTINATION share/doc/runbook)
install(DIRECTORY docs/ DESTINATION share/doc/runbook/docs FILES_MATCHING PATTERN "*.md")
install(FILES actions/external/hello.c DESTINATION share/doc/runbook/examples/plugin)
# docs/ links into the source tree (../actions/external/hello.c,
# ../schemas/, ../runbooks/): relative links at those places lead an
# installed page to the installed copies (tests/ is not installed).
install(CODE "
  set(rb_doc \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/share/doc/runbook\")
  file(MAKE_DIRECTORY \"\${rb_doc}/actions/external\")
  file(CREATE_LINK ../../examples/plugin/hello.c \"\${rb_doc}/actions/external/hello.c\" SYMBOLIC)
  file(CREATE_LINK ../../runbook/schemas \"\${rb_doc}/schemas\" SYMBOLIC)
  file(CREATE_LINK ../../runbook/runbooks \"\${rb_doc}/runbooks\" SYMBOLIC)
")

install(FILES ${RB_PKG}/completion/runbook.bash DESTINATION share/bash-completion/completions
  RENAME runbook)
# zsh: _runbook sources the bash completion by its installed path; it goes
# where zsh looks (Debian's vendor-completions for /usr, site-functions else).
install(CODE "
  if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
    set(rb_zsh \"\${CMAKE_INSTALL_PREFIX}/share/zsh/vendor-completions\")
  else()
    set(rb_zsh \"\${CMAKE_INSTALL_PREFIX}/share/zsh/site-functions\")
  endif()
  set(RB_BASH_COMPLETION \"\${CMAKE_INSTALL_PREFIX}/share/bash-completion/completions/runbook\")
  configure_file(\"${RB_PKG}/completion/_runbook.in\" \"${CMAKE_BINARY_DIR}/zsh/_runbook\" @ONLY)
  file(INSTALL DESTINATION \"\${rb_zsh}\" TYPE FILE FILES \"${CMAKE_BINARY_DIR}/zsh/_runbook\")
")

# Man pages, rebuilt whenever the binary or a source of their text changes.
find_program(RB_HELP2MAN help2man)
find_program(RB_LOWDOWN lowdown)
set(RB_MAN_DIR ${CMAKE_BINARY_DIR}/man)
if(RB_HELP2MAN AND RB_LOWDOWN)
  file(GLOB rb_man_sources CONFIGURE_DEPENDS ${RB_PKG}/man/* docs/cli.md docs/authoring.md
    docs/expressions.md)
  add_custom_command(OUTPUT ${RB_MAN_DIR}/stamp
    COMMAND sh ${RB_PKG}/man/genman.sh $<TARGET_FILE:runbook> ${CMAKE_CURRENT_SOURCE_DIR} ${RB_MAN_DIR}
    COMMAND ${CMAKE_COMMAND} -E touch ${RB_MAN_DIR}/stamp
    DEPENDS runbook ${rb_man_sources}
    COMMENT "Generating the man pages from --help and docs/")
  add_custom_target(man ALL DEPENDS ${RB_MAN_DIR}/stamp)
  install(DIRECTORY ${RB_MAN_DIR}/gz/man1 ${RB_MAN_DIR}/gz/man5 DESTINATION share/man)
else()
  message(WARNING "help2man or lowdown not found: no man pages (run `make deps`)")
endif()

# /etc: the FHS puts the configuration of prefix /usr in /etc, of any other
# prefix in PREFIX/etc. Decided at install time, when the prefix is known.
file(GLOB rb_etc_files CONFIGURE_DEPENDS ${RB_PKG}/etc/*)
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/etc/runbooks) # empty: the operator's runbooks
set(rb_etc_quoted "")
foreach(f ${rb_etc_files})
  string(APPEND rb_etc_quoted " \"${f}\"")
endforeach()
install(CODE "
  if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
    set(rb_etc /etc/runbook)
  else()
    set(rb_etc \"\${CMAKE_INSTALL_PREFIX}/etc/runbook\")
  endif()
  file(INSTALL DESTINATION \"\${rb_etc}\" TYPE FILE FILES ${rb_etc_quoted})
  file(INSTALL DESTINATION \"\${rb_etc}\" TYPE DIRECTORY FILES \"${CMAKE_BINARY_DIR}/etc/runbooks\")
")

# The service unit comes with `runbook serve`; it ships when it is there
# (a glob, so that adding the file re-runs CMake), made to agree with this
# prefix and the package by packaging/unit.cmake.
file(GLOB rb_unit CONFIGURE_DEPENDS ${RB_PKG}/runbook.service)
if(rb_unit)
  install(CODE "
    set(RB_UNIT_SRC \"${rb_unit}\")
    set(RB_UNIT_OUT \"${CMAKE_BINARY_DIR}/systemd/runbook.service\")
    include(\"${RB_PKG}/unit.cmake\")
  ")
endif()
