# Every page shows a moment as the curation pages and the audit export do: unambiguous, to the second,
# with its time zone (`2026-11-21 06:18:03 UTC`), not as "Nov. 21, 2026, 6:18 a.m.".
DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
