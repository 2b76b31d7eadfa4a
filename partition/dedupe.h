/* partition/dedupe.h — the duplicate and conflict policy of ingest, on sorted triples.
 *
 * Input: one rank's triples sorted by hr_triples_sort(by_item = 0), so all events of a
 * (user, item) pair are adjacent, ordered by (ts, value, src, line).
 * Policy (documented in docs/ingest.md; it never depends on the rank count):
 *   - exact duplicate: same user, item, value and timestamp as an earlier event -> rejected
 *     as "duplicate" (the first in (src, line) order is kept as the candidate);
 *   - conflict: several distinct events for one (user, item) -> keep-latest: the event with the
 *     largest timestamp wins (ties: larger value); every other distinct event is rejected as
 *     "conflict";
 *   - bot users: a user with more than max_user_events surviving events (0 = no limit) has all
 *     of them rejected as "bot_user".
 * Output: reason[k] = 0 (kept) or an hr_reject code for every triple. */
#ifndef HR_PARTITION_DEDUPE_H
#define HR_PARTITION_DEDUPE_H

#include <stdint.h>

#include "io/rowparse.h"
#include "partition/part.h"

/* counts[reason] += rejections.  Returns the number of kept triples. */
uint64_t hr_dedupe(const hr_triple *t, uint64_t n, uint64_t max_user_events, uint8_t *reason,
                   uint64_t counts[HR_REJECT__COUNT]);

#endif
