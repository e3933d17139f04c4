/* Progress of copies for the client commands (copy, pull, push, mirror).
 *
 * On a terminal (stderr, and not -q): one bar per blob in flight and a total bar with bytes,
 * rate and ETA, redrawn at most ten times a second in place. Otherwise nothing while copying;
 * the command prints one line per image when it is done (client_progress_line). The callback is
 * called from ld_copy's worker threads; a mutex serialises it.
 */
#ifndef LADING_CLIENT_PROGRESS_H
#define LADING_CLIENT_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <stdio.h>
#include "lading/transport.h"

typedef struct client_progress client_progress;

client_progress *client_progress_new(const char *label, bool quiet);
void client_progress_cb(void *arg, const char *event, const ld_descriptor *d, uint64_t done);
/* Clears the bars; returns seconds elapsed since new. */
double client_progress_end(client_progress *p);
void client_progress_free(client_progress *p);
/* "SRC -> DST sha256:… 3 copied (12 MB), 1 skipped, 0 mounted in 0.4 s (30 MB/s)" */
void client_progress_line(FILE *f, const char *src, const char *dst, const ld_copy_result *r,
                          double secs);

/* Opens src_spec and dst_spec with their options (store for bare refs), copies with progress
 * bars (unless quiet), closes both. *secs gets the wall time. */
int client_run_copy(const char *src_spec, const ld_transport_opts *src_o, const char *dst_spec,
                    const ld_transport_opts *dst_o, ld_copy_opts *co, bool quiet,
                    ld_copy_result *res, double *secs, ld_error **err);
/* The JSON object of one copy's result (the stable fields of --format json). */
json_t *client_result_json(const char *src, const char *dst, const ld_copy_result *r, double secs);

#endif
