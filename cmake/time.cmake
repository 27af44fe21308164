# time.cmake — the sources of chg's time-set library (stdlib/chg_time.h):
# time zones, cron, iCalendar calendars, time sets and time formatting.
# Included by the top-level CMakeLists.txt before add_library(chg ...);
# paths are relative to the repository root.
set(CHG_TIME_SOURCES
  stdlib/tz.c
  stdlib/cron.c
  stdlib/ical.c
  stdlib/timeset.c
  stdlib/time_fmt.c
)
