# The Debian package (included from CMakeLists.txt after install.cmake):
# `make package`, or `cpack -G DEB` in a build folder. It holds what the
# install rules install, with prefix /usr (so the defaults land in
# /etc/runbook), stripped, and:
#   - Depends: the packages of the shared libraries the binary links,
#     found by dpkg-shlibdeps (dpkg-dev), and passwd for the user;
#   - conffiles: every file of packaging/etc/ (in /etc/runbook/);
#   - packaging/deb/{postinst,prerm,postrm}: the system user `runbook`, the
#     state directory /var/lib/runbook; the service is never enabled by it.
# tests/install/package.sh builds it, installs it in a throw-away root and
# removes it.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME runbook)
set(CPACK_PACKAGE_VERSION ${RB_VERSION})
# The Maintainer field and the changelog's signature. The default names no
# real mailbox (.invalid, RFC 2606): whoever publishes the package sets it,
# `cmake -DRB_PACKAGE_MAINTAINER="Name <address>"` (docs/install.md).
set(RB_PACKAGE_MAINTAINER "runbook authors <runbook@maintainer.invalid>" CACHE STRING
  "The package's Maintainer: \"Name <address>\"")
set(CPACK_PACKAGE_CONTACT "${RB_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${RB_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "declarative runbook engine: detect, grade and recover from failures")
# The summary is the first line; CPack indents this text below it.
set(CPACK_PACKAGE_DESCRIPTION "runbook runs YAML runbooks that detect a failure, grade its severity and
take recovery steps (processes, HTTP, TCP, files, sub-runbooks, action
modules) with timeouts, retries, verification and approvals, writing every
step to a hash-chained SQLite journal.")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
# The `ssh` action runs the OpenSSH client. Suggests: what building an
# action module needs (plugins.md), and what the example runbooks run.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "openssh-client")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libjansson-dev, libuv1-dev, pkg-config, gcc | c-compiler, curl, jq")
set(CPACK_STRIP_FILES ON)
# Install with DESTDIR and the real prefix, so that install.cmake sees /usr
# and puts the defaults in /etc.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)

# /usr/share/doc/runbook/copyright (no licence is granted: the file says
# so) and changelog.gz (a native package: the version has no Debian
# revision), one entry for this version, dated by
# SOURCE_DATE_EPOCH when set (reproducible) and the configure time else.
string(TIMESTAMP rb_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
file(WRITE ${CMAKE_BINARY_DIR}/deb/changelog "runbook (${RB_VERSION}) unstable; urgency=medium

  * runbook ${RB_VERSION}, built from the runbook source tree.

 -- ${RB_PACKAGE_MAINTAINER}  ${rb_date}
")
execute_process(COMMAND gzip -9nf ${CMAKE_BINARY_DIR}/deb/changelog RESULT_VARIABLE rb_gz)
if(NOT rb_gz EQUAL 0)
  message(FATAL_ERROR "gzip of the changelog failed")
endif()
install(FILES ${RB_PKG}/deb/copyright ${CMAKE_BINARY_DIR}/deb/changelog.gz
  DESTINATION share/doc/runbook)

set(rb_conffiles "")
file(GLOB rb_etc_files CONFIGURE_DEPENDS ${RB_PKG}/etc/*)
foreach(f ${rb_etc_files})
  get_filename_component(n ${f} NAME)
  string(APPEND rb_conffiles "/etc/runbook/${n}\n")
endforeach()
file(WRITE ${CMAKE_BINARY_DIR}/deb/conffiles "${rb_conffiles}")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${RB_PKG}/deb/postinst ${RB_PKG}/deb/prerm ${RB_PKG}/deb/postrm ${CMAKE_BINARY_DIR}/deb/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
