/*
 * ics_parse.c — read iCalendar files back with libical, as a calendar
 * application would, for the simulate tests: every file must parse into
 * one VCALENDAR without a single X-LIC-ERROR (libical's mark of what it
 * could not read), and each event is printed as
 *   DTSTART DTEND UID SUMMARY
 * with DESCRIPTION unescaped on the lines after it (indented), so the
 * test compares what an importer sees, not our bytes.
 *
 *   ics_parse FILE...   exit 0: all valid; 1: some error (printed)
 */
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s)
        s[n] = 0;
    fclose(f);
    return s;
}

static int errors(icalcomponent *c, const char *path)
{
    int n = 0;
    for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_XLICERROR_PROPERTY); p;
         p = icalcomponent_get_next_property(c, ICAL_XLICERROR_PROPERTY), n++)
        printf("%s: libical: %s\n", path, icalproperty_get_xlicerror(p));
    for (icalcomponent *k = icalcomponent_get_first_component(c, ICAL_ANY_COMPONENT); k;
         k = icalcomponent_get_next_component(c, ICAL_ANY_COMPONENT))
        n += errors(k, path);
    return n;
}

int main(int argc, char **argv)
{
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        char *text = slurp(argv[i]);
        icalcomponent *cal = text ? icalparser_parse_string(text) : NULL;
        if (!cal || icalcomponent_isa(cal) != ICAL_VCALENDAR_COMPONENT) {
            printf("%s: not one VCALENDAR\n", argv[i]);
            bad = 1;
            free(text);
            icalcomponent_free(cal);
            continue;
        }
        if (errors(cal, argv[i]))
            bad = 1;
        if (!icalcomponent_get_first_property(cal, ICAL_VERSION_PROPERTY) ||
            !icalcomponent_get_first_property(cal, ICAL_PRODID_PROPERTY)) {
            printf("%s: VERSION or PRODID missing\n", argv[i]);
            bad = 1;
        }
        int n = icalcomponent_count_components(cal, ICAL_VEVENT_COMPONENT);
        printf("%s: %d event%s\n", argv[i], n, n == 1 ? "" : "s");
        for (icalcomponent *e = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT); e;
             e = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT)) {
            if (!icalcomponent_get_first_property(e, ICAL_DTSTAMP_PROPERTY) || !icalcomponent_get_uid(e)) {
                printf("%s: an event without DTSTAMP or UID\n", argv[i]);
                bad = 1;
            }
            printf("%s %s %s %s\n", icaltime_as_ical_string(icalcomponent_get_dtstart(e)),
                   icaltime_as_ical_string(icalcomponent_get_dtend(e)), icalcomponent_get_uid(e),
                   icalcomponent_get_summary(e) ? icalcomponent_get_summary(e) : "");
            const char *d = icalcomponent_get_description(e);
            for (const char *l = d; l && *l;) {
                const char *nl = strchr(l, '\n');
                size_t len = nl ? (size_t)(nl - l) : strlen(l);
                printf("  %.*s\n", (int)len, l);
                l = nl ? nl + 1 : l + len;
            }
        }
        icalcomponent_free(cal);
        free(text);
    }
    return bad;
}
