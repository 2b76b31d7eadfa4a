#include "partition/dedupe.h"

uint64_t hr_dedupe(const hr_triple *t, uint64_t n, uint64_t max_user_events, uint8_t *reason,
                   uint64_t counts[HR_REJECT__COUNT])
{
    uint64_t kept = 0;
    for (uint64_t a = 0; a < n;) {
        /* [a, b) = one user's events; [p, q) = one (user, item) pair inside it. */
        uint64_t b = a;
        while (b < n && t[b].u == t[a].u) b++;
        uint64_t user_kept = 0;
        for (uint64_t p = a; p < b;) {
            uint64_t q = p;
            while (q < b && t[q].i == t[p].i) q++;
            /* Sorted by (ts, value, src, line): exact copies are adjacent and the last distinct
             * event is the latest (largest ts, then largest value). */
            uint64_t winner = q - 1;
            while (winner > p && t[winner - 1].ts == t[winner].ts && t[winner - 1].v == t[winner].v) winner--;
            for (uint64_t k = p; k < q; k++) {
                if (k == winner) reason[k] = HR_REJECT_NONE;
                else if (k > p && t[k - 1].ts == t[k].ts && t[k - 1].v == t[k].v) reason[k] = HR_REJECT_DUPLICATE;
                else reason[k] = HR_REJECT_CONFLICT;
            }
            user_kept++;
            p = q;
        }
        if (max_user_events && user_kept > max_user_events) {
            for (uint64_t k = a; k < b; k++)
                if (reason[k] == HR_REJECT_NONE) reason[k] = HR_REJECT_BOT;
        } else {
            kept += user_kept;
        }
        a = b;
    }
    for (uint64_t k = 0; k < n; k++)
        if (reason[k]) counts[reason[k]]++;
    return kept;
}
