# time_bench.cmake — the time-set benchmark, included from
# bench/CMakeLists.txt. Run it from the repository root (it reads the
# example policy's calendar), on a build without sanitizers:
#   build/bench/bench_time policies/calendars/ops-blackouts.ics
add_executable(bench_time ${CMAKE_SOURCE_DIR}/bench/bench_time.c)
target_link_libraries(bench_time PRIVATE chg)
target_compile_options(bench_time PRIVATE ${CHG_WARNINGS})
