# sluice_add_test(NAME name SOURCES ... DEPS ... [LABELS ...])
# One GoogleTest binary registered with CTest, test by test.
function(sluice_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT SLUICE_BUILD_TESTS)
    return()
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  gtest_discover_tests(${T_NAME} PROPERTIES LABELS "unit;${T_LABELS}" TIMEOUT ${T_TIMEOUT}
                       DISCOVERY_TIMEOUT 60)
endfunction()

# sluice_link_absl_statically()
# Points every imported absl:: target at its static archive (libabsl_X.a beside libabsl_X.so,
# as Debian's libabsl-dev installs them), or, if any archive is missing, leaves them all shared:
# a mix would give some of abseil's globals two copies. Every container of a sync is a new
# process, and most of a relay's start was the dynamic loader resolving 30 abseil libraries:
# with the archives it starts in about half the time (bench/RESULTS.md). Call it in the
# directory that found absl, before the targets that link it.
function(sluice_link_absl_statically)
  get_property(imported DIRECTORY PROPERTY IMPORTED_TARGETS)
  list(FILTER imported INCLUDE REGEX "^absl::")
  # Two passes: every archive is found before any target is changed.
  foreach(pass check set)
    foreach(t IN LISTS imported)
      get_target_property(type ${t} TYPE)
      if(NOT type STREQUAL "SHARED_LIBRARY")
        continue()
      endif()
      get_target_property(configs ${t} IMPORTED_CONFIGURATIONS)
      foreach(config IN LISTS configs)
        get_target_property(shared ${t} IMPORTED_LOCATION_${config})
        string(REGEX REPLACE "\\.so(\\.[0-9.]*)?$" ".a" archive "${shared}")
        if(pass STREQUAL "set")
          set_target_properties(${t} PROPERTIES IMPORTED_LOCATION_${config} "${archive}")
        elseif(NOT EXISTS "${archive}")
          message(STATUS "abseil stays shared: no ${archive} beside ${shared}")
          return()
        endif()
      endforeach()
    endforeach()
  endforeach()
  message(STATUS "abseil: linking its static archives (SLUICE_STATIC_ABSL)")
endfunction()
