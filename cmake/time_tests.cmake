# time_tests.cmake — tests of the time-set library, included from
# tests/CMakeLists.txt (so CMAKE_CURRENT_SOURCE_DIR is tests/):
#   unit_time         cmocka: zones, cron, schedules, algebra, queries
#   unit_time_ical    cmocka: .ics calendars (fixtures/calendars/)
#   time_cron_oracle  differential: cron vs a brute-force minute-by-minute matcher
#   time_tz_oracle    differential: zone conversions vs Python's zoneinfo
set(CHG_TIME_TEST_FLAGS ${CHG_WARNINGS} -Wno-missing-prototypes)

foreach(t time time_ical time_oracle)
  add_executable(test_${t} ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_${t}.c)
  target_link_libraries(test_${t} PRIVATE chg PkgConfig::CMOCKA)
  target_compile_options(test_${t} PRIVATE ${CHG_TIME_TEST_FLAGS})
  target_compile_definitions(test_${t} PRIVATE
    CHG_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
endforeach()
add_test(NAME unit_time COMMAND test_time)
add_test(NAME unit_time_ical COMMAND test_time_ical)
add_test(NAME time_cron_oracle COMMAND test_time_oracle)

# The zone oracle: Python asks tz_query (our library) and zoneinfo the same
# questions about random instants in every zone, and compares.
add_executable(tz_query ${CMAKE_CURRENT_SOURCE_DIR}/time/tz_query.c)
target_link_libraries(tz_query PRIVATE chg)
target_compile_options(tz_query PRIVATE ${CHG_WARNINGS})
add_test(NAME time_tz_oracle
  COMMAND Python3::Interpreter ${CMAKE_CURRENT_SOURCE_DIR}/time/tz_oracle.py
          $<TARGET_FILE:tz_query>)
set_tests_properties(unit_time unit_time_ical time_cron_oracle time_tz_oracle
  PROPERTIES LABELS time)
