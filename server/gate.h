/* server/gate.h — a counting gate (server/gate.c): at most N holders at
 * once, the others wait in turn. `ember serve` passes its CPU-heavy
 * requests (merges: decode, merge and gzip many windows) through one
 * sized to the CPUs, so fifty of them queue instead of starving /metrics
 * scrapes and the sampler of CPU. */
#ifndef EMBER_GATE_H
#define EMBER_GATE_H

#include "ember/error.h"

typedef struct ember_gate ember_gate;

/* n >= 1 holders at once. */
int ember_gate_new(ember_gate **out, unsigned n, ember_error *err);
void ember_gate_free(ember_gate *g);
/* Waits for a free slot (NULL gate: no wait). */
void ember_gate_enter(ember_gate *g);
void ember_gate_leave(ember_gate *g);

#endif
