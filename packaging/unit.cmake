# unit.cmake — at install time (included by install.cmake's install(CODE),
# with RB_UNIT_SRC and RB_UNIT_OUT set): writes packaging/runbook.service
# for this prefix and installs it in PREFIX/lib/systemd/system. Owns that
# one file; must never edit the source unit.
#   - ExecStart: /usr/local/bin/runbook becomes PREFIX/bin/runbook;
#   - Documentation: /usr/share/doc/runbook/X.md becomes the installed
#     PREFIX/share/doc/runbook/docs/X.md;
#   - a prefix other than /usr reads its defaults from PREFIX/etc/runbook;
#   - prefix /usr (the package) runs as the system user `runbook` that
#     postinst makes, owner of /var/lib/runbook: DynamicUser=yes becomes
#     User=runbook and Group=runbook (systemd would otherwise move that
#     directory under /var/lib/private and run as a user of its own).
file(READ "${RB_UNIT_SRC}" rb_text)
string(REPLACE "/usr/local/bin/runbook" "${CMAKE_INSTALL_PREFIX}/bin/runbook" rb_text "${rb_text}")
string(REGEX REPLACE "/usr/share/doc/runbook/([A-Za-z0-9_.-]+\\.md)"
  "${CMAKE_INSTALL_PREFIX}/share/doc/runbook/docs/\\1" rb_text "${rb_text}")
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  string(REGEX REPLACE "\nDynamicUser=yes\n" "\nUser=runbook\nGroup=runbook\n" rb_text "${rb_text}")
else()
  string(REPLACE "/etc/runbook/" "${CMAKE_INSTALL_PREFIX}/etc/runbook/" rb_text "${rb_text}")
endif()
file(WRITE "${RB_UNIT_OUT}" "${rb_text}")
file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" TYPE FILE FILES "${RB_UNIT_OUT}")
# docs/operations.md links ../packaging/runbook.service: the installed page
# finds the installed unit.
set(rb_doc "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/share/doc/runbook/packaging")
file(MAKE_DIRECTORY "${rb_doc}")
file(CREATE_LINK ../../../../lib/systemd/system/runbook.service "${rb_doc}/runbook.service" SYMBOLIC)
